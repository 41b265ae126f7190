import { type ClickHouse, render, sql, table } from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';

/**
 * Reads a partition's Merkle leaves from the events table: the raw 32-byte entry hashes of
 * chain_seq from..to, in order (identical re-delivered copies once; of two different entries
 * at one chain_seq, a conflict, the lower offset). RowBinary, not JSON: 1M leaves are 41 MB on
 * the wire and one Buffer, instead of a million parsed objects.
 * Rejects with INTEGRITY_TREE_INCOMPLETE when a chain_seq of the range is missing (rows removed
 * by retention or deleted): no tree can be built over a hole.
 */
export async function readLeafEntries(ch: ClickHouse, topic: string, partition: number, from: bigint, to: bigint): Promise<Buffer[]> {
  if (to < from) return [];
  const q = sql`SELECT chain_seq, unhex(hash) AS leaf_bytes FROM ${table(ch.database, 'events')}
WHERE kafka_topic = ${topic} AND kafka_partition = ${partition} AND chain_seq >= ${from} AND chain_seq <= ${to}
ORDER BY chain_seq, kafka_offset
LIMIT 1 BY chain_seq
FORMAT RowBinary`;
  const r = render(q, await ch.capabilities());
  const res = await ch.client.exec({
    query: r.query,
    ...(r.query_params ? { query_params: r.query_params } : {}),
    clickhouse_settings: { wait_end_of_query: 1, max_execution_time: 0 },
  });
  const chunks: Buffer[] = [];
  for await (const c of res.stream) chunks.push(c as Buffer);
  const buf = Buffer.concat(chunks);
  const out: Buffer[] = [];
  let expect = from;
  // Row: UInt64 LE chain_seq, then the String as a varint length (32 < 128: one byte) and its bytes.
  for (let i = 0; i < buf.length; ) {
    const seq = buf.readBigUInt64LE(i);
    const len = buf[i + 8] as number;
    if (seq !== expect || len !== 32) break;
    out.push(buf.subarray(i + 9, i + 41));
    i += 41;
    expect++;
  }
  if (expect !== to + 1n)
    throw new AuditstreamError('INTEGRITY_TREE_INCOMPLETE', `partition ${partition} of ${topic} has no stored chain entry ${expect} (of ${from}..${to})`, {
      retriable: false,
      field: 'chain_seq',
    });
  return out;
}
