// `auditstream bench --cluster`: how ingest and alerting scale out on `stack up --cluster`. One
// backlog of N events per run on an RF-3 topic; ingest drains it with 1 and with 2 instances (one
// consumer group and a fresh Distributed database per side), and alerting evaluates the same events
// with 1 and with 3 instances (alerting.repartition on both sides; a group, repartition topic and
// alerts topic per side). Sides run one after the other, in an order that alternates between runs,
// and the ratios are taken within the run. Each side must pass its exactly-once check or the
// section fails: a fast wrong side must not look good.
// The sides are in cluster/: options.ts (options, sides, the instances), ingest.ts, alerting.ts.
import { AuditstreamError } from '@auditstream/core';
import { publishEvents } from '@auditstream/workload';
import type { RunEnv } from '../env.js';
import type { RunFigures } from '../report.js';
import { perSecond } from '../stats.js';
import { drainAlerting, incidentMismatch } from './cluster/alerting.js';
import { drainIngest } from './cluster/ingest.js';
import { ALERTING_SIDES, type ClusterRoundOptions, type Drop, INGEST_SIDES, load1, sideOrder } from './cluster/options.js';

export { BENCH_ALLOWED_LATENESS_MS, type FiredAlert, incidentMismatch, ORDER_DEPENDENT_RULES, summarizeFired } from './cluster/alerting.js';
export { ALERTING_SIDES, type ClusterRoundOptions, INGEST_SIDES, sideOrder } from './cluster/options.js';

/**
 * One run: the backlog, ingest 1 and 2, alerting 1 and 3 (orders alternating by run), their checks.
 * Fills `figures` as sides pass, so a failure keeps what was measured before it.
 */
export async function runClusterRound(env: RunEnv, o: ClusterRoundOptions, figures: RunFigures): Promise<void> {
  figures.cluster_load1_start = load1();
  const drops: Array<() => Promise<unknown>> = [];
  const drop: Drop = (d) => drops.push(d);
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
