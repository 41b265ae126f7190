import { type ClickHouse, parseClickHouseTime, sql, table } from '@auditstream/clickhouse';
import type { PartitionCheckpoint } from '@auditstream/schemas';
import type { ClickHouseSettings } from '@clickhouse/client';
import { microsToIso } from '../time.js';

export type { PartitionCheckpoint };

/**
 * The latest signed checkpoint of every partition's chain (the console's integrity page): one
 * GROUP BY over the checkpoints table, which is small (one row per checkpoint interval). A
 * forked pair at one offset (two rows since migration 007) shows the first signature's row.
 */
export async function latestCheckpoints(ch: ClickHouse, settings?: ClickHouseSettings): Promise<PartitionCheckpoint[]> {
  const q = sql`SELECT topic, partition, toString(max(last_offset)) AS last, toString(argMax(chain_seq, last_offset)) AS seq,
       argMax(chain_head, last_offset) AS head, toString(argMax(created_at, last_offset)) AS created, argMax(key_id, last_offset) AS key,
       count() AS n
FROM ${table(ch.database, 'checkpoints')}
GROUP BY topic, partition
ORDER BY topic, partition`;
  const rows = await ch.queryRows<Record<string, unknown>>(q, { operation: 'api_checkpoints', ...(settings ? { settings } : {}) });
  return rows.map((r) => ({
    topic: String(r.topic),
    partition: Number(r.partition),
    last_offset: String(r.last),
    chain_seq: String(r.seq),
    chain_head: String(r.head),
    created_at: microsToIso(parseClickHouseTime(String(r.created))),
    key_id: String(r.key),
    checkpoints: Number(r.n),
  }));
}
