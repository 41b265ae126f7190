import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { uniqueName } from '@auditstream/core';
import { deleteTopics } from '@auditstream/kafka';
import { createLogger } from '@auditstream/observability';
import { firedByIncident, groupAssignment, produceKeyed, testKafka, waitFor } from '@auditstream/test';
import { Registry } from 'prom-client';
import { type AlertingService, createAlerting } from './app.js';
import { alertingSection } from './config.js';
import type { AlertEvent } from './event.js';
import { codec, createTopics } from './int.test-helper.js';
import { collectAlerts, incidentEvents, scaleRulesFile } from './scale.test-helper.js';

// Scale-out (docs/alerting.md#scaling-out) against the real Kafka: three instances with the
// repartition stage fire exactly the alerts one instance fires over the same events, for every
// kind of default rule, including the ones grouped by a key that is not the message key
// (password spraying by source IP, silent producer by service, event_loss by producer).
const kafka = testKafka('alerting-scale');
const PARTITIONS = 6;
let topics: Awaited<ReturnType<typeof createTopics>>;
let alerts3 = '';
let rulesFile = '';
const apps: AlertingService[] = [];

function app(group: string, alerts: string, repartition: boolean): AlertingService {
  const a = createAlerting({
    config: alertingSection.parse({
      rules_file: rulesFile,
      consumer_group: group,
      start_from: 'earliest',
      repartition,
      tick_interval_ms: 200,
      allowed_lateness_ms: 2000,
      max_future_skew_ms: 1000,
      session_timeout_ms: 6000,
      watch_rules: false,
    }),
    kafka,
    topics: { events: topics.events, alerts },
    registry: new Registry(),
    logger: createLogger({ service: 'alerting-scale', level: 'warn' }),
    decodeEvent: (v) => codec.decodeSync(v) as unknown as AlertEvent,
    observability: false,
  });
  apps.push(a);
  return a;
}

before(async () => {
  rulesFile = scaleRulesFile();
  topics = await createTopics(kafka, 'alerting_scale', PARTITIONS);
  alerts3 = uniqueName('alerting_scale_alerts3');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: alerts3, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
});

after(async () => {
  for (const a of apps) await a.stop().catch(() => undefined);
  await topics?.drop();
  await deleteTopics(kafka, [alerts3, `${topics.events}.alerting-repartition`]);
});

test('3 instances with the repartition stage fire the same alerts as 1 instance, each once', async () => {
  const group1 = uniqueName('alerting_scale_one');
  const group3 = uniqueName('alerting_scale_three');
  await app(group1, topics.alerts, false).start();
  for (let i = 0; i < 3; i++) await app(group3, alerts3, true).start();
  const repartitionTopic = `${topics.events}.alerting-repartition`;
  await waitFor(
    'both stages of the 3 instances to share their partitions',
    async () => {
      const ev = await groupAssignment(kafka, group3, repartitionTopic);
      const rp = await groupAssignment(kafka, `${group3}.repartition`, topics.events);
      return [ev, rp].every((g) => g.stable && g.members.length === 3 && g.members.every((m) => m.partitions.length === PARTITIONS / 3));
    },
    60_000,
    { everyMs: 250 },
  );

  const one = await collectAlerts(kafka, topics.alerts);
  const three = await collectAlerts(kafka, alerts3);
  try {
    await produceKeyed(kafka, topics.events, incidentEvents(Date.now() - 5000));
    const rules = ['brute_force', 'password_spraying', 'brute_force_success', 'privilege_escalation', 'mass_data_export', 'event_loss', 'silent_producer'];
    const fired = (ds: typeof one.deliveries) => new Set(ds.filter((d) => d.kind === 'fired').map((d) => d.alert.alert_id));
    await waitFor(
      'one instance to fire every rule (silent_producer for each of the 4 services)',
      () => {
        const f = one.deliveries.filter((d) => d.kind === 'fired');
        return rules.every((r) => f.some((d) => d.alert.rule_id === r)) && f.filter((d) => d.alert.rule_id === 'silent_producer').length === 4;
      },
      90_000,
      { everyMs: 250 },
    );
    await waitFor('3 instances to fire the same alert ids', () => [...fired(one.deliveries)].every((id) => fired(three.deliveries).has(id)), 90_000, {
      everyMs: 250,
    });
  } finally {
    // Stopped before comparing: whatever they would deliver is on the topics by then.
    for (const a of apps) await a.stop();
    await one.stop();
    await three.stop();
  }
  const byOne = firedByIncident(one.deliveries);
  const byThree = firedByIncident(three.deliveries);
  assert.deepEqual([...byThree.keys()].sort(), [...byOne.keys()].sort(), 'the same incidents');
  for (const [incident, ids] of byThree) {
    assert.deepEqual(ids, byOne.get(incident), `${incident}: the same alert id, fired once`);
    assert.equal(ids.length, 1, `${incident}: fired once`);
  }
  const spraying = [...byThree.keys()].filter((k) => k.startsWith('password_spraying '));
  assert.equal(spraying.length, 1, 'spraying across 12 actors (spread over partitions) is one incident of its source IP');
  assert.match(spraying[0] as string, /actor\.ip=203\.0\.113\.9/);
});
