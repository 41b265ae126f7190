// The ingest side of `bench --cluster`: k instances drain the backlog into a fresh Distributed
// database; exactly once (distinct ids and rows after FINAL) or the side fails.
import { localDatabase, migrate } from '@auditstream/clickhouse';
import { AuditstreamError, sleep } from '@auditstream/core';
import { ensureTopics, withAdmin } from '@auditstream/kafka';
import { countStored } from '@auditstream/workload';
import type { RunEnv } from '../../env.js';
import type { RunFigures } from '../../report.js';
import { perSecond } from '../../stats.js';
import { type ClusterRoundOptions, checkAlive, type Drop, dropTopics, load1, spawnMany, tails } from './options.js';

export async function drainIngest(env: RunEnv, k: number, o: ClusterRoundOptions, drop: Drop): Promise<RunFigures> {
  const database = `${env.id}_i${k}`;
  const topics = { checkpoints: `${env.topics.events}.i${k}.checkpoints`, dlq: `${env.topics.events}.i${k}.dlq` };
  const ch = o.clickhouse(database);
  drop(async () => {
    for (const d of [database, localDatabase(database)]) await ch.command(`DROP DATABASE IF EXISTS ${d} ON CLUSTER ${o.cluster}`).catch(() => {});
    await ch.close();
  });
  await migrate(ch, { database, cluster: o.cluster });
  await ensureTopics(env.kafka, { topics: Object.values(topics).map((name) => ({ name, partitions: o.partitions, replicationFactor: o.replicationFactor })) });
  dropTopics(drop, env.kafka, Object.values(topics), o);
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
