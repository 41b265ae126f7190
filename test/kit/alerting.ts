/**
 * Scaled-out alerting in tests: the real service as a child process (services/alerting/src/main.ts,
 * as an operator runs it), the consumer-group view of who owns which partitions, a collector of a
 * topic's records, and the keyed publishing the SDK does. The kit cannot import the alerting
 * package (its own tests import the kit), so the alert decoding is passed in.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createCodec } from '@auditstream/codec';
import { repoRoot, uniqueName, uuidv7 } from '@auditstream/core';
import type { AuditEventInput } from '@auditstream/schemas';
import { AssignerProtocol, type Kafka } from 'kafkajs';
import { waitFor } from './poll.js';
import { freePort } from './ports.js';

const codec = createCodec();

export interface AlertingChild {
  proc: ChildProcess;
  /** Where its /metrics, /healthz and /readyz listen. */
  url: string;
  /** Its stderr so far (the log at the level asked for). */
  output(): string;
  /** Sends the signal and waits for the exit (at once if it has exited). */
  stop(signal: NodeJS.Signals): Promise<void>;
}

/**
 * Starts one alerting process with `env` on top of this process's environment and waits until
 * /readyz answers 200 (joined, rebuilt, consuming). `clientId` names it in the consumer groups
 * (kafka.client_id), so groupAssignment tells the instances apart.
 */
export async function spawnAlerting(clientId: string, env: Record<string, string>, readyTimeoutMs = 120_000): Promise<AlertingChild> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', join(repoRoot(), 'services/alerting/src/main.ts')], {
    cwd: repoRoot(),
    env: {
      ...process.env,
      AUDITSTREAM_LOG__LEVEL: 'warn',
      AUDITSTREAM_KAFKA__CLIENT_ID: clientId,
      AUDITSTREAM_ALERTING__METRICS_PORT: String(port),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let out = '';
  proc.stderr?.on('data', (d) => {
    out += String(d);
  });
  const url = `http://127.0.0.1:${port}`;
  const child: AlertingChild = {
    proc,
    url,
    output: () => out,
    stop(signal) {
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill(signal);
      });
    },
  };
  try {
    await waitFor(
      `alerting ${clientId} to be ready`,
      async () => {
        if (proc.exitCode !== null) throw new Error(`alerting ${clientId} exited with ${proc.exitCode}: ${out.slice(-3000)}`);
        return fetch(`${url}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
      },
      readyTimeoutMs,
      { everyMs: 200, detail: () => out.slice(-3000) },
    );
  } catch (err) {
    await child.stop('SIGKILL');
    throw err;
  }
  return child;
}

/** A consumer group's state and members: Kafka client id and partitions of `topic`. */
export async function groupAssignment(
  kafka: Kafka,
  group: string,
  topic: string,
): Promise<{ stable: boolean; members: Array<{ clientId: string; partitions: number[] }> }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([group]);
    const g = groups[0];
    const members = (g?.members ?? []).map((m) => ({
      clientId: m.clientId,
      partitions: [...(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ?? [])],
    }));
    return { stable: g?.state === 'Stable', members };
  } finally {
    await admin.disconnect();
  }
}

/** Collects every record of a topic, decoded, from its start until `stop()`. */
export async function collectTopic<T>(kafka: Kafka, topic: string, decode: (value: Buffer) => T): Promise<{ records: T[]; stop(): Promise<void> }> {
  const records: T[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('collector'), allowAutoTopicCreation: false, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.value) records.push(decode(message.value));
    },
  });
  return { records, stop: () => consumer.disconnect() };
}

/** The shape of an alert delivery this kit reads (@auditstream/alerting's AlertDelivery). */
export interface DeliveredAlert {
  kind: string;
  alert: { alert_id: string; rule_id: string; group_key: string };
}

/** Fired alert ids by `rule_id group_key`: more than one id, or one id fired twice, is a duplicate. */
export function firedByIncident(deliveries: readonly DeliveredAlert[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const d of deliveries) {
    if (d.kind !== 'fired') continue;
    const k = `${d.alert.rule_id} ${d.alert.group_key}`;
    out.set(k, [...(out.get(k) ?? []), d.alert.alert_id]);
  }
  return out;
}

/** A login of `actor` from `ip` at `atMs`. */
export function loginEvent(actor: string, ip: string, outcome: 'success' | 'failure', atMs = Date.now(), tenant = 'acme'): AuditEventInput {
  return {
    event_id: uuidv7(atMs),
    tenant_id: tenant,
    occurred_at: Math.round(atMs * 1000),
    actor: { id: actor, type: 'user', ip },
    action: 'auth.login',
    category: 'authentication',
    outcome,
    service: 'idp',
  };
}

/** Publishes keyed tenant:actor, as the SDK does, so the events spread over the partitions. */
export async function produceKeyed(kafka: Kafka, topic: string, events: AuditEventInput[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: events.map((e) => ({ key: `${e.tenant_id}:${e.actor.id}`, value: codec.encodeSync(e) })) });
  } finally {
    await producer.disconnect();
  }
}
