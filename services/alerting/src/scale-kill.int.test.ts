import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { uniqueName } from '@auditstream/core';
import { deleteTopics } from '@auditstream/kafka';
import { type AlertingChild, firedByIncident, groupAssignment, produceKeyed, scrape, spawnAlerting, testKafka, waitFor } from '@auditstream/test';
import { encodeGroupKey } from './alert.js';
import { createTopics, login } from './int.test-helper.js';
import { keyPartition } from './route.js';
import { collectAlerts } from './scale.test-helper.js';

// kill -9 one of three scaled-out instances (real service processes, main.ts) in the middle of a
// brute-force burst and a spraying attack whose group keys it owns: the survivors take its
// partitions over (rebuild from the repartition topic, read back the alerts), and each incident
// is alerted exactly once.
const kafka = testKafka('alerting-scale-kill');
const PARTITIONS = 6;
const group = uniqueName('alerting_scale_kill');
let topics: Awaited<ReturnType<typeof createTopics>>;
const children: AlertingChild[] = [];

async function startInstance(i: number): Promise<void> {
  children[i] = await spawnAlerting(`k${i}`, {
    AUDITSTREAM_TOPICS__EVENTS: topics.events,
    AUDITSTREAM_TOPICS__ALERTS: topics.alerts,
    AUDITSTREAM_ALERTING__CONSUMER_GROUP: group,
    AUDITSTREAM_ALERTING__REPARTITION: 'true',
    AUDITSTREAM_ALERTING__START_FROM: 'earliest',
    AUDITSTREAM_ALERTING__TICK_INTERVAL_MS: '200',
    AUDITSTREAM_ALERTING__SESSION_TIMEOUT_MS: '6000',
    AUDITSTREAM_ALERTING__WATCH_RULES: 'false',
  });
}

before(async () => {
  topics = await createTopics(kafka, 'alerting_scale_kill', PARTITIONS);
});

after(async () => {
  for (const c of children) if (c) await c.stop('SIGKILL');
  await topics?.drop();
  await deleteTopics(kafka, [`${topics.events}.alerting-repartition`]);
});

test('kill -9 one of three instances mid brute force and mid spraying: each incident alerted exactly once', async () => {
  for (let i = 0; i < 3; i++) await startInstance(i);
  const repartitionTopic = `${topics.events}.alerting-repartition`;
  let owners: Array<{ clientId: string; partitions: number[] }> = [];
  await waitFor(
    'both stages of the 3 instances to share their partitions',
    async () => {
      const ev = await groupAssignment(kafka, group, repartitionTopic);
      const rp = await groupAssignment(kafka, `${group}.repartition`, topics.events);
      owners = ev.members;
      return [ev, rp].every((g) => g.stable && g.members.length === 3 && g.members.every((m) => m.partitions.length === PARTITIONS / 3));
    },
    90_000,
    { everyMs: 250 },
  );

  // The victim owns the brute-force actor's key; the spraying IP is picked among the keys it owns too.
  const actor = 'kill-bf';
  const bfPartition = keyPartition(
    encodeGroupKey([
      ['tenant_id', 'acme'],
      ['actor.id', actor],
    ]),
    PARTITIONS,
  );
  const victim = owners.find((o) => o.partitions.includes(bfPartition));
  assert.ok(victim, 'an owner of the brute-force key');
  const victimIdx = Number(/^k(\d)-/.exec(victim.clientId)?.[1]);
  const ip = Array.from({ length: 254 }, (_, i) => `203.0.113.${i + 1}`).find((a) =>
    victim.partitions.includes(
      keyPartition(
        encodeGroupKey([
          ['tenant_id', 'acme'],
          ['actor.ip', a],
        ]),
        PARTITIONS,
      ),
    ),
  ) as string;

  const alerts = await collectAlerts(kafka, topics.alerts);
  try {
    const burst = (from: number, t: number) => [
      ...Array.from({ length: 4 }, (_, i) => login(actor, '198.51.100.20', 'failure', t + i * 50)),
      ...Array.from({ length: 6 }, (_, i) => login(`sprayed-${from + i}`, ip, 'failure', t + 200 + i * 50)),
    ];
    // First half: 4 failures of the actor, 6 of the 10 sprayed actors; both under their thresholds.
    await produceKeyed(kafka, topics.events, burst(0, Date.now() - 3000));
    const victimChild = children[victimIdx] as AlertingChild;
    await waitFor(
      'the victim to evaluate the first half of both attacks',
      async () => (await scrape(victimChild.url, 'auditstream_alerting_evaluated_events_total')) >= 10,
      60_000,
      { everyMs: 100 },
    );
    await victimChild.stop('SIGKILL');

    // Second half while its partitions are orphaned: 8 failures and 12 sprayed actors in all.
    await produceKeyed(kafka, topics.events, burst(6, Date.now() - 1000));
    const firedFor = (rule: string) => alerts.deliveries.some((d) => d.kind === 'fired' && d.alert.rule_id === rule);
    await waitFor('brute_force and password_spraying alerts from the survivors', () => firedFor('brute_force') && firedFor('password_spraying'), 120_000, {
      everyMs: 250,
    });
    // Graceful stop of the survivors: whatever they would still deliver is on the topic after it.
    for (const [i, c] of children.entries()) if (i !== victimIdx) await c.stop('SIGTERM');
  } finally {
    await alerts.stop();
  }

  const byIncident = firedByIncident(alerts.deliveries);
  assert.deepEqual(
    [...byIncident.keys()].sort(),
    [`brute_force tenant_id=acme&actor.id=${actor}`, `password_spraying tenant_id=acme&actor.ip=${ip}`],
    'the two incidents, nothing else',
  );
  for (const [incident, ids] of byIncident) assert.equal(ids.length, 1, `${incident}: fired exactly once`);
  const spraying = alerts.deliveries.filter((d) => d.alert.rule_id === 'password_spraying').at(-1);
  assert.ok(Number(spraying?.alert.details.distinct_count) >= 10, 'the spraying alert counts actors from both sides of the kill');
  const bf = alerts.deliveries.filter((d) => d.alert.rule_id === 'brute_force').at(-1);
  assert.ok((bf?.alert.count ?? 0) >= 6, 'the brute-force alert counts failures from both sides of the kill');
});
