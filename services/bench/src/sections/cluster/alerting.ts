// The alerting side of `bench --cluster`: k instances (alerting.repartition) evaluate the backlog;
// no alert delivered twice, and the incidents fired are compared between the sides.
import { decodeAlert } from '@auditstream/alerting';
import { AuditstreamError, sleep } from '@auditstream/core';
import { committedOffsets, ensureTopics, rangesToEnd, readRanges, topicWatermarks, withAdmin } from '@auditstream/kafka';
import type { RunEnv } from '../../env.js';
import type { RunFigures } from '../../report.js';
import { perSecond } from '../../stats.js';
import { type ClusterRoundOptions, checkAlive, type Drop, dropTopics, load1, spawnMany, tails } from './options.js';

/**
 * Rules left out of the 1-vs-3 comparison of incidents: event_loss takes the first sequence number
 * it sees of a producer as its start (arrival order across partitions), silent_producer fires from
 * the wall clock. Every other rule's incidents depend only on the events.
 */
export const ORDER_DEPENDENT_RULES: ReadonlySet<string> = new Set(['event_loss', 'silent_producer']);

/**
 * Lateness given to both alerting sides: a backlog is evaluated long after it happened, and
 * instances reading different partitions at different speeds interleave event times in the
 * repartition topic; a lateness longer than the backlog's span makes the incidents independent of
 * that interleaving (with the default 10 s, more instances could drop more events as late).
 */
export const BENCH_ALLOWED_LATENESS_MS = 3_600_000;

export interface FiredAlert {
  rule_id: string;
  group_key: string;
  alert_id: string;
}

/** The incidents (rule and group key) fired, outside ORDER_DEPENDENT_RULES, and the alert ids delivered as fired more than once. */
export function summarizeFired(fired: readonly FiredAlert[]): { incidents: Set<string>; alerts: number; duplicates: string[] } {
  const incidents = new Set<string>();
  const seen = new Set<string>();
  const duplicates: string[] = [];
  for (const f of fired) {
    if (seen.has(f.alert_id)) duplicates.push(f.alert_id);
    seen.add(f.alert_id);
    if (!ORDER_DEPENDENT_RULES.has(f.rule_id)) incidents.add(`${f.rule_id} ${f.group_key}`);
  }
  return { incidents, alerts: fired.length, duplicates };
}

/** Incidents one side fired and the other did not. */
export function incidentMismatch(a: ReadonlySet<string>, b: ReadonlySet<string>): string[] {
  return [...[...a].filter((x) => !b.has(x)), ...[...b].filter((x) => !a.has(x))].sort();
}

/** A group's committed offsets on a topic: whether every partition is at its end (an empty one needs no commit), and their sum. */
async function groupProgress(env: RunEnv, group: string, topic: string): Promise<{ atEnd: boolean; committed: number }> {
  return withAdmin(env.kafka, async (admin) => {
    const ends = await topicWatermarks(admin, topic);
    const committed = await committedOffsets(admin, group, topic);
    return {
      atEnd: [...ends].every(([p, m]) => BigInt(committed.get(p) ?? '0') >= BigInt(m.high)),
      committed: [...committed.values()].reduce((s, c) => s + Number(c), 0),
    };
  }).catch(() => ({ atEnd: false, committed: 0 })); // the repartition topic exists once an instance created it
}

export async function drainAlerting(
  env: RunEnv,
  k: number,
  o: ClusterRoundOptions,
  drop: Drop,
): Promise<{ figures: RunFigures; fired: ReturnType<typeof summarizeFired> }> {
  const group = `${env.id}_a${k}`;
  const repartition = `${env.topics.events}.a${k}.repartition`;
  const alerts = `${env.topics.events}.a${k}.alerts`;
  await ensureTopics(env.kafka, { topics: [{ name: alerts, partitions: 1, replicationFactor: o.replicationFactor }] });
  dropTopics(drop, env.kafka, [alerts, repartition], o);
  drop(() => withAdmin(env.kafka, (a) => a.deleteGroups([group, `${group}.repartition`])).catch(() => {}));
  const childEnv = {
    ...env.serviceEnv,
    AUDITSTREAM_TOPICS__ALERTS: alerts,
    AUDITSTREAM_ALERTING__CONSUMER_GROUP: group,
    AUDITSTREAM_ALERTING__REPARTITION: 'true',
    AUDITSTREAM_ALERTING__REPARTITION_TOPIC: repartition,
    AUDITSTREAM_ALERTING__START_FROM: 'earliest',
    AUDITSTREAM_ALERTING__ALLOWED_LATENESS_MS: String(BENCH_ALLOWED_LATENESS_MS),
  };
  o.log(`  alerting with ${k} instance(s), group ${group}`);
  const tSpawn = Date.now();
  const children = spawnMany('alerting', k, childEnv, o);
  try {
    // Done when the repartition stage has committed the end of the events topic and, after that,
    // the evaluating group the end of the repartition topic (which the stage no longer grows).
    let tFirst = 0;
    for (;;) {
      const stage = await groupProgress(env, `${group}.repartition`, env.topics.events);
      const engine = await groupProgress(env, group, repartition);
      if (engine.committed > 0 && tFirst === 0) tFirst = Date.now();
      if (stage.atEnd && engine.atEnd) break;
      checkAlive(children);
      // kafkajs gave up on a consumer (restart: false): that stage will never reach the end.
      const dead = children.find((c) => /consumer crashed[^\n]*"restart":false|"restart":false[^\n]*consumer crashed/.test(c.output()));
      if (dead) throw new AuditstreamError('BENCH_CHILD', `an alerting instance's consumer crashed for good: ${dead.output().slice(-1500)}`, {});
      if (Date.now() - tSpawn > o.timeoutMs)
        throw new AuditstreamError('BENCH_TIMEOUT', `${k} alerting instance(s) did not reach the end of ${env.topics.events}; ${tails(children)}`, {});
      await sleep(o.pollMs);
    }
    const tAll = Date.now();
    const load = load1();
    // Stopped before reading the alerts: whatever they would deliver is on the topic by then.
    for (const c of children) await c.stop();
    const fired: FiredAlert[] = [];
    await withAdmin(env.kafka, async (admin) =>
      readRanges({
        kafka: env.kafka,
        admin,
        topic: alerts,
        ranges: await rangesToEnd(admin, alerts),
        groupPrefix: group,
        timeoutMs: 120_000,
        onMessage: (m) => {
          const d = m.value ? decodeAlert(m.value) : undefined;
          if (d?.kind === 'fired') fired.push({ rule_id: d.alert.rule_id, group_key: d.alert.group_key, alert_id: d.alert.alert_id });
        },
      }),
    );
    const summary = summarizeFired(fired);
    if (summary.duplicates.length > 0)
      throw new AuditstreamError(
        'BENCH_CHECK',
        `${k} alerting instance(s) delivered ${summary.duplicates.length} alert(s) twice, e.g. ${summary.duplicates[0]}`,
        {},
      );
    return {
      fired: summary,
      figures: {
        [`cluster_alerting_${k}_events_per_s`]: perSecond(o.events, tAll - tSpawn),
        // Approximate: the stage may have copied a batch or so before the evaluating group's first commit.
        [`cluster_alerting_${k}_steady_events_per_s`]: tFirst > 0 && tFirst < tAll ? perSecond(o.events, tAll - tFirst) : Number.NaN,
        [`cluster_alerting_${k}_seconds`]: (tAll - tSpawn) / 1000,
        [`cluster_alerting_${k}_alerts`]: summary.alerts,
        [`cluster_alerting_${k}_cpu_s`]: children.reduce((s, c) => s + c.usage().cpu_s, 0),
        [`cluster_alerting_${k}_load1`]: load,
      },
    };
  } finally {
    for (const c of children) await c.stop(5000);
  }
}
