import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeAlert, encodeGroupKey, keyPartition } from '@auditstream/alerting';
import { uniqueName } from '@auditstream/core';
import { deleteTopics, withAdmin } from '@auditstream/kafka';
import {
  type AlertingChild,
  collectTopic,
  firedByIncident,
  groupAssignment,
  loginEvent,
  produceKeyed,
  scrape,
  spawnAlerting,
  type TestEnv,
  waitFor,
} from '@auditstream/test';
import { startTestCluster, type TestCluster } from './fixture.js';

// Issue 18's fault test on `stack up --cluster` (three brokers, RF 3, min.insync.replicas 2;
// ClickHouse 2 shards x 2 replicas): three real alerting processes scaled out with the repartition
// stage, a brute-force burst (several actors) and a password-spraying attack (several source IPs,
// grouped by IP, not by the message key), and kill -9 of one instance between the two halves of
// both. The survivors take its partitions over (rebuild from the repartition topic, read back the
// alerts topic) and every incident is alerted exactly once, on the alerts topic and in the
// ClickHouse alert history.

const PARTITIONS = 6;
let cluster: TestCluster;
let env: TestEnv;
let alertsTopic = '';
const group = uniqueName('alerting_cluster_kill');
const children: AlertingChild[] = [];

before(async () => {
  cluster = await startTestCluster();
  env = await cluster.createEnv({ partitions: PARTITIONS });
  alertsTopic = `${env.topic}.alerts`;
  const admin = env.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: alertsTopic, numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true });
  await admin.disconnect();
});

after(async () => {
  for (const c of children) await c?.stop('SIGKILL');
  try {
    if (env) await deleteTopics(env.kafka, [alertsTopic, `${env.topic}.alerting-repartition`]);
  } finally {
    if (env) {
      await withAdmin(env.kafka, (admin) => admin.deleteGroups([group, `${group}.repartition`])).catch(() => undefined);
      await env.cleanup().catch(() => undefined);
    }
    await cluster?.stop();
  }
});

/** Incidents stored by the ClickHouse sink: alert ids per `rule_id group_key` (through the Distributed table). */
async function storedIncidents(): Promise<Map<string, number>> {
  const rows = await env.ch.queryRows<{ rule_id: string; k: string; ids: string }>(
    `SELECT rule_id, visitParamExtractString(details, 'group_key') AS k, toString(uniqExact(alert_id)) AS ids
FROM ${env.database}.alerts WHERE tenant_id = '${env.tenant}' GROUP BY rule_id, k`,
  );
  return new Map(rows.map((r) => [`${r.rule_id} ${r.k}`, Number(r.ids)]));
}

test('kill -9 one of three alerting instances on the cluster mid brute force and mid spraying: each incident alerted exactly once', async () => {
  const instanceEnv = {
    ...env.env,
    AUDITSTREAM_TOPICS__ALERTS: alertsTopic,
    AUDITSTREAM_ALERTING__CONSUMER_GROUP: group,
    AUDITSTREAM_ALERTING__REPARTITION: 'true',
    AUDITSTREAM_ALERTING__START_FROM: 'earliest',
    AUDITSTREAM_ALERTING__TICK_INTERVAL_MS: '200',
    AUDITSTREAM_ALERTING__SESSION_TIMEOUT_MS: '10000',
    AUDITSTREAM_ALERTING__WATCH_RULES: 'false',
    AUDITSTREAM_ALERTING__SINKS__CLICKHOUSE__ENABLED: 'true',
  };
  for (let i = 0; i < 3; i++) children[i] = await spawnAlerting(`c${i}`, instanceEnv);
  const repartitionTopic = `${env.topic}.alerting-repartition`;
  let owners: Array<{ clientId: string; partitions: number[] }> = [];
  await waitFor(
    'both stages of the 3 instances to share their partitions',
    async () => {
      const ev = await groupAssignment(env.kafka, group, repartitionTopic);
      const rp = await groupAssignment(env.kafka, `${group}.repartition`, env.topic);
      owners = ev.members;
      return [ev, rp].every((g) => g.stable && g.members.length === 3 && g.members.every((m) => m.partitions.length === PARTITIONS / 3));
    },
    180_000,
    { everyMs: 500 },
  );
  const victim = owners[0] as { clientId: string; partitions: number[] };
  const victimIdx = Number(/^c(\d)-/.exec(victim.clientId)?.[1]);
  const victimChild = children[victimIdx] as AlertingChild;

  // Two brute-forced actors and two spraying IPs whose incidents the victim owns, and one or two owned
  // by the survivors (who must fire theirs once too, undisturbed by the takeover).
  const keyOf = (field: string, value: string) =>
    encodeGroupKey([
      ['tenant_id', env.tenant],
      [field, value],
    ]);
  const pick = (field: string, candidates: string[], owned: number, other: number) => {
    const mine = (v: string) => victim.partitions.includes(keyPartition(keyOf(field, v), PARTITIONS));
    return [...candidates.filter(mine).slice(0, owned), ...candidates.filter((v) => !mine(v)).slice(0, other)];
  };
  const actors = pick(
    'actor.id',
    Array.from({ length: 60 }, (_, i) => `bf-${i}`),
    2,
    2,
  );
  const ips = pick(
    'actor.ip',
    Array.from({ length: 60 }, (_, i) => `203.0.113.${i + 1}`),
    2,
    1,
  );
  assert.equal(actors.length, 4);
  assert.equal(ips.length, 3);
  const victimOwned = new Set([...actors.slice(0, 2).map((a) => keyOf('actor.id', a)), ...ips.slice(0, 2).map((ip) => keyOf('actor.ip', ip))]);

  // Each half: 4 failures per actor (6 make brute force), 6 sprayed actors per IP (10 make spraying).
  const half = (h: 0 | 1, t: number) => {
    let at = t;
    const next = () => {
      at += 20;
      return at;
    };
    return [
      ...actors.flatMap((a, i) => Array.from({ length: 4 }, () => loginEvent(a, `198.51.100.${i + 1}`, 'failure', next(), env.tenant))),
      ...ips.flatMap((ip, i) => Array.from({ length: 6 }, (_, j) => loginEvent(`sprayed-${i}-${h * 6 + j}`, ip, 'failure', next(), env.tenant))),
    ];
  };
  const expected = [...actors.map((a) => `brute_force ${keyOf('actor.id', a)}`), ...ips.map((ip) => `password_spraying ${keyOf('actor.ip', ip)}`)].sort();

  const alerts = await collectTopic(env.kafka, alertsTopic, decodeAlert);
  try {
    const first = half(0, Date.now() - 5000);
    await produceKeyed(env.kafka, env.topic, first);
    // Each first-half event with a key the victim owns reaches it as at least one copy.
    const forVictim = first.filter((e) => victimOwned.has(keyOf('actor.id', e.actor.id)) || victimOwned.has(keyOf('actor.ip', e.actor.ip as string))).length;
    await waitFor(
      `the victim to evaluate the first half of both attacks (${forVictim} events for its keys)`,
      async () => (await scrape(victimChild.url, 'auditstream_alerting_evaluated_events_total')) >= forVictim,
      120_000,
      { everyMs: 100 },
    );
    await victimChild.stop('SIGKILL');

    // Second half while the victim's partitions are orphaned (until its session times out).
    await produceKeyed(env.kafka, env.topic, half(1, Date.now() - 2500));
    await waitFor(`the ${expected.length} incidents on the alerts topic`, () => firedByIncident(alerts.records).size >= expected.length, 300_000, {
      everyMs: 250,
      detail: () => [...firedByIncident(alerts.records).keys()].join(', '),
    });
    // Graceful stop of the survivors: whatever they would still deliver is on the topic and in ClickHouse after it.
    for (const [i, c] of children.entries()) if (i !== victimIdx) await c.stop('SIGTERM');
  } finally {
    await alerts.stop();
  }

  const byIncident = firedByIncident(alerts.records);
  assert.deepEqual([...byIncident.keys()].sort(), expected, 'the alerts topic holds the expected incidents, nothing else');
  for (const [incident, ids] of byIncident) assert.equal(ids.length, 1, `${incident}: fired exactly once`);
  for (const d of alerts.records.filter((r) => r.kind === 'fired' && victimOwned.has(r.alert.group_key))) {
    // Only 4 failures and 6 sprayed actors arrived after the kill: firing needed the state from before it.
    if (d.alert.rule_id === 'brute_force') assert.ok(d.alert.count >= 6, `${d.alert.group_key}: counts failures from both sides of the kill`);
    else assert.ok(Number(d.alert.details.distinct_count) >= 10, `${d.alert.group_key}: counts actors from both sides of the kill`);
  }

  // The ClickHouse alert history (Distributed inserts reach the shards asynchronously): one alert id per incident.
  const stored = await waitFor('the ClickHouse sink to store every incident', storedIncidents, (m) => m.size >= expected.length, 120_000, 500);
  assert.deepEqual([...stored.keys()].sort(), expected, 'ClickHouse holds the expected incidents, nothing else');
  for (const [incident, ids] of stored) assert.equal(ids, 1, `${incident}: one alert id in ClickHouse`);
});
