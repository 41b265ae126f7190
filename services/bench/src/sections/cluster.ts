// `auditstream bench --cluster`: how ingest and alerting scale out on `stack up --cluster`. One
// backlog of N events per run on an RF-3 topic; ingest drains it with 1 and with 2 instances (one
// consumer group and a fresh Distributed database per side), and alerting evaluates the same events
// with 1 and with 3 instances (alerting.repartition on both sides; a group, repartition topic and
// alerts topic per side). Sides run one after the other, in an order that alternates between runs,
// and the ratios are taken within the run. Each side must pass its exactly-once check or the
// section fails: a fast wrong side must not look good.
import { loadavg } from 'node:os';
import { decodeAlert } from '@auditstream/alerting';
import { type ClickHouse, localDatabase, migrate } from '@auditstream/clickhouse';
import { AuditstreamError, sleep } from '@auditstream/core';
import { committedOffsets, ensureTopics, rangesToEnd, readRanges, topicWatermarks, withAdmin } from '@auditstream/kafka';
import { countStored, publishEvents } from '@auditstream/workload';
import type { RunEnv } from '../env.js';
import { type ServiceChild, spawnService } from '../procs.js';
import type { RunFigures } from '../report.js';
import { perSecond } from '../stats.js';

export const INGEST_SIDES = [1, 2] as const;
export const ALERTING_SIDES = [1, 3] as const;

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

/** Side order of run `index`: as given on even runs, reversed on odd ones, so neither side always runs second. */
export function sideOrder<T>(index: number, sides: readonly T[]): T[] {
  return index % 2 === 0 ? [...sides] : [...sides].reverse();
}

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

export interface ClusterRoundOptions {
  events: number;
  /** The run's index: its parity picks the order of the sides. */
  index: number;
  /** clickhouse.cluster: the per-side databases are migrated and dropped ON CLUSTER. */
  cluster: string;
  partitions: number;
  replicationFactor: number;
  /** A client of the side's database (countStored reads `<database>.events`). */
  clickhouse: (database: string) => ClickHouse;
  pollMs: number;
  timeoutMs: number;
  log: (s: string) => void;
  track: (c: ServiceChild) => void;
}

const load1 = () => loadavg()[0] as number;

/** Starts `k` instances of a service at once with the same environment. */
function spawnMany(name: 'ingest' | 'alerting', k: number, env: Record<string, string>, o: ClusterRoundOptions): ServiceChild[] {
  const children = Array.from({ length: k }, () => spawnService(name, env));
  for (const c of children) o.track(c);
  return children;
}

/** The last lines of each child's output, for an error. */
const tails = (children: readonly ServiceChild[]) => children.map((c, i) => `[${c.name} ${i + 1}] ${c.output().slice(-800)}`).join('\n');

function checkAlive(children: readonly ServiceChild[]): void {
  const dead = children.find((c) => c.proc.exitCode !== null);
  if (dead) throw new AuditstreamError('BENCH_CHILD', `auditstream ${dead.name} exited early: ${dead.output().slice(-1500)}`, {});
}

async function drainIngest(env: RunEnv, k: number, o: ClusterRoundOptions, drop: (d: () => Promise<unknown>) => void): Promise<RunFigures> {
  const database = `${env.id}_i${k}`;
  const topics = { checkpoints: `${env.topics.events}.i${k}.checkpoints`, dlq: `${env.topics.events}.i${k}.dlq` };
  const ch = o.clickhouse(database);
  drop(async () => {
    for (const d of [database, localDatabase(database)]) await ch.command(`DROP DATABASE IF EXISTS ${d} ON CLUSTER ${o.cluster}`).catch(() => {});
    await ch.close();
  });
  await migrate(ch, { database, cluster: o.cluster });
  await ensureTopics(env.kafka, { topics: Object.values(topics).map((name) => ({ name, partitions: o.partitions, replicationFactor: o.replicationFactor })) });
  drop(() => withAdmin(env.kafka, (a) => a.deleteTopics({ topics: Object.values(topics) })).catch(() => {}));
  const group = `${database}_ingest`;
  drop(() => withAdmin(env.kafka, (a) => a.deleteGroups([group])).catch(() => {}));
  const childEnv = {
    ...env.serviceEnv,
    AUDITSTREAM_CLICKHOUSE__DATABASE: database,
    AUDITSTREAM_INGEST__GROUP_ID: group,
    AUDITSTREAM_TOPICS__CHECKPOINTS: topics.checkpoints,
    AUDITSTREAM_TOPICS__DLQ: topics.dlq,
  };
  o.log(`  ingest with ${k} instance(s), group ${group}`);
  const tSpawn = Date.now();
  const children = spawnMany('ingest', k, childEnv, o);
  try {
    let tFirst = 0;
    let nFirst = 0;
    for (;;) {
      const count = await countStored(ch, env.tenant);
      const now = Date.now();
      if (count > 0 && tFirst === 0) {
        tFirst = now;
        nFirst = count;
      }
      if (count >= o.events) break;
      checkAlive(children);
      if (now - tSpawn > o.timeoutMs)
        throw new AuditstreamError('BENCH_TIMEOUT', `${k} ingest instance(s) stored ${count} of ${o.events} events; ${tails(children)}`, {});
      await sleep(o.pollMs);
    }
    const tAll = Date.now();
    const load = load1();
    for (const c of children) await c.stop();
    // Exactly once as queries see it: N distinct ids, and N rows after the replacing merge.
    const [row] = await ch.queryRows<{ distinct: string; final: string; raw: string }>(
      `SELECT uniqExact(event_id) AS distinct, (SELECT count() FROM ${database}.events FINAL WHERE tenant_id = '${env.tenant}') AS final, count() AS raw FROM ${database}.events WHERE tenant_id = '${env.tenant}'`,
    );
    const distinct = Number(row?.distinct);
    const final = Number(row?.final);
    if (distinct !== o.events || final !== o.events)
      throw new AuditstreamError(
        'BENCH_CHECK',
        `${k} ingest instance(s): ${distinct} distinct events and ${final} rows after FINAL, published ${o.events}`,
        {},
      );
    return {
      [`cluster_ingest_${k}_events_per_s`]: perSecond(o.events, tAll - tSpawn),
      [`cluster_ingest_${k}_steady_events_per_s`]: nFirst < o.events ? perSecond(o.events - nFirst, tAll - tFirst) : Number.NaN,
      [`cluster_ingest_${k}_seconds`]: (tAll - tSpawn) / 1000,
      [`cluster_ingest_${k}_raw_duplicates`]: Number(row?.raw) - o.events,
      [`cluster_ingest_${k}_cpu_s`]: children.reduce((s, c) => s + c.usage().cpu_s, 0),
      [`cluster_ingest_${k}_load1`]: load,
    };
  } finally {
    for (const c of children) await c.stop(5000);
  }
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

async function drainAlerting(
  env: RunEnv,
  k: number,
  o: ClusterRoundOptions,
  drop: (d: () => Promise<unknown>) => void,
): Promise<{ figures: RunFigures; fired: ReturnType<typeof summarizeFired> }> {
  const group = `${env.id}_a${k}`;
  const repartition = `${env.topics.events}.a${k}.repartition`;
  const alerts = `${env.topics.events}.a${k}.alerts`;
  await ensureTopics(env.kafka, { topics: [{ name: alerts, partitions: 1, replicationFactor: o.replicationFactor }] });
  drop(() => withAdmin(env.kafka, (a) => a.deleteTopics({ topics: [alerts, repartition] })).catch(() => {}));
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

/**
 * One run: the backlog, ingest 1 and 2, alerting 1 and 3 (orders alternating by run), their checks.
 * Fills `figures` as sides pass, so a failure keeps what was measured before it.
 */
export async function runClusterRound(env: RunEnv, o: ClusterRoundOptions, figures: RunFigures): Promise<void> {
  figures.cluster_load1_start = load1();
  const drops: Array<() => Promise<unknown>> = [];
  const drop = (d: () => Promise<unknown>) => drops.push(d);
  try {
    o.log(`  pre-producing ${o.events} events through the SDK (RF ${o.replicationFactor}, acks=all)`);
    const t0 = Date.now();
    await publishEvents(env.kafka, env.topics.events, env.tenant, o.events);
    figures.cluster_preproduce_events_per_s = perSecond(o.events, Date.now() - t0);
    for (const k of sideOrder(o.index, INGEST_SIDES)) Object.assign(figures, await drainIngest(env, k, o, drop));
    const fired = new Map<number, Set<string>>();
    for (const k of sideOrder(o.index, ALERTING_SIDES)) {
      const r = await drainAlerting(env, k, o, drop);
      Object.assign(figures, r.figures);
      fired.set(k, r.fired.incidents);
    }
    const [one, three] = ALERTING_SIDES.map((k) => fired.get(k) ?? new Set<string>());
    const diff = incidentMismatch(one as Set<string>, three as Set<string>);
    if ((one as Set<string>).size === 0)
      throw new AuditstreamError('BENCH_CHECK', 'alerting fired no incident over the backlog: the comparison would prove nothing', {});
    if (diff.length > 0)
      throw new AuditstreamError(
        'BENCH_CHECK',
        `1 and 3 alerting instances fired different incidents (${diff.length}), e.g. ${diff.slice(0, 3).join('; ')}`,
        {},
      );
    figures.cluster_alert_incidents = (one as Set<string>).size;
  } finally {
    for (const d of drops.reverse()) await d();
  }
}
