// Publish → alert latency under background load, through the real `auditstream alerting` child
// and the default rules (brute_force: 6 failed logins of one actor within 60 s). Background events
// go through the SDK at `rate` per second; every `probeEveryMs` a fresh actor fails 6 logins. The
// latency is from the SDK publish of the burst to our consumer receiving the alert on the alerts
// topic (decoded with the alerting service's codec).

import { decodeAlert } from '@auditstream/alerting';
import { sleep, uniqueName } from '@auditstream/core';
import { createAuditProducer, type PublishInput } from '@auditstream/producer';
import { sampleInput } from '@auditstream/workload';
import type { RunEnv } from '../env.js';
import { type ServiceChild, spawnService } from '../procs.js';
import { percentile } from '../stats.js';

export interface AlertingResult {
  alert_p50_ms: number;
  alert_p99_ms: number;
  alert_probes: number;
  alert_received: number;
  alert_background_per_s: number;
}

function burst(tenant: string, actor: string): PublishInput[] {
  return Array.from({ length: 6 }, () => ({
    tenant_id: tenant,
    actor: { id: actor, type: 'user' as const, ip: '192.0.2.200' },
    action: 'auth.login',
    category: 'authentication' as const,
    outcome: 'failure' as const,
    service: 'idp',
  }));
}

export async function runAlerting(
  env: RunEnv,
  opts: {
    rate: number;
    seconds: number;
    probeEveryMs: number;
    settleMs: number;
    startTimeoutMs: number;
    log: (s: string) => void;
    track: (c: ServiceChild) => void;
  },
): Promise<{ result: AlertingResult; child: ServiceChild }> {
  const tenant = `${env.tenant}_alert`;
  const child = spawnService('alerting', { ...env.serviceEnv, AUDITSTREAM_ALERTING__REPLAY_ON_START: 'false' });
  opts.track(child);
  const producer = createAuditProducer({ kafka: env.kafka, topic: env.topics.events, linger_ms: 5 });
  const groupId = uniqueName('bench_alerts');
  const consumer = env.kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 50, minBytes: 1 });
  const sentAt = new Map<string, number>();
  const receivedAt = new Map<string, number>();
  try {
    await child.waitForLog(/metrics served/, opts.startTimeoutMs);
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topics: [env.topics.alerts], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (!message.value) return;
        const d = decodeAlert(message.value);
        const actor = d.alert.group['actor.id'];
        if (d.kind === 'fired' && actor && !receivedAt.has(actor)) receivedAt.set(actor, Date.now());
      },
    });
    // Warm-up: the service joins its group and starts at the end of the topic; probe until an alert comes back.
    const warmDeadline = Date.now() + opts.startTimeoutMs;
    let warm = 0;
    for (;;) {
      const actor = `warm-${warm++}`;
      await producer.publishMany(burst(tenant, actor));
      await sleep(1000);
      if ([...receivedAt.keys()].some((a) => a.startsWith('warm-'))) break;
      if (Date.now() > warmDeadline) throw new Error(`no alert from auditstream alerting within ${opts.startTimeoutMs} ms`);
    }
    opts.log(`  alerting warm (${warm} warm-up bursts); measuring for ${opts.seconds} s at ${Math.round(opts.rate)} background events/s`);
    const start = Date.now();
    const until = start + opts.seconds * 1000;
    const tickMs = 50;
    let background = 0;
    let lastProbe = 0;
    let probe = 0;
    const sends: Promise<unknown>[] = [];
    while (Date.now() < until) {
      const tick = Date.now();
      const due = Math.floor(((tick - start) / 1000) * opts.rate) - background;
      for (let i = 0; i < due; i++) sends.push(producer.publish(sampleInput(`${tenant}_bg`, background + i)));
      background += Math.max(0, due);
      if (tick - lastProbe >= opts.probeEveryMs) {
        lastProbe = tick;
        const actor = `probe-${probe++}`;
        sentAt.set(actor, Date.now());
        sends.push(producer.publishMany(burst(tenant, actor)));
      }
      if (sends.length > 5000) await Promise.all(sends.splice(0));
      const spent = Date.now() - tick;
      if (spent < tickMs) await sleep(tickMs - spent);
    }
    await Promise.all(sends);
    const backgroundPerS = (background * 1000) / (Date.now() - start);
    const settle = Date.now() + opts.settleMs;
    while (Date.now() < settle && [...sentAt.keys()].some((a) => !receivedAt.has(a))) await sleep(100);
    const lat = [...sentAt].filter(([a]) => receivedAt.has(a)).map(([a, t]) => (receivedAt.get(a) as number) - t);
    return {
      child,
      result: {
        alert_p50_ms: percentile(lat, 50),
        alert_p99_ms: percentile(lat, 99),
        alert_probes: sentAt.size,
        alert_received: lat.length,
        alert_background_per_s: backgroundPerS,
      },
    };
  } catch (err) {
    await child.stop(5000);
    throw err;
  } finally {
    await consumer.disconnect().catch(() => {});
    await producer.close().catch(() => {});
    const admin = env.kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect();
  }
}
