import { type ClickHouse, contentHashSql, firstReceivedOrder, joinSql, layoutFor, p, sql, table, unsafeRaw } from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';
import type { Finding } from './partition-verifier.js';
import { occurredAtText } from './partition-verifier.js';

/**
 * event_id conflicts (the model is in @auditstream/clickhouse identity.ts): messages
 * that carry one event_id with different event content. Each is stored and chained (the sorting
 * key ends with the Kafka source, so none merges another away); queries show the first received.
 * verify names every other one: an auditor sees that the event shown is not the only message that
 * claimed its id (a buggy producer, or one trying to replace another's event).
 */

interface SourceRow {
  eid: string;
  tid: string;
  src_topic: string;
  src_partition: number | string;
  src_offset: string;
  ch_hash: string;
  t_us: string;
}

export interface ConflictSource {
  topic: string;
  partition: number;
  offset: string;
  tenant_id: string;
  occurred_at_us: string;
  content_hash: string;
}

export interface EventIdConflict {
  event_id: string;
  /** Every stored message with the id, the first received (the row queries show) first; identical copies once. */
  sources: ConflictSource[];
}

/** Event ids carried by messages with different content (at most `limit`), with their sources. */
export async function findEventIdConflicts(ch: ClickHouse, o: { tenant?: string; limit?: number } = {}): Promise<EventIdConflict[]> {
  const layout = layoutFor(await ch.capabilities());
  const events = table(ch.database, 'events');
  const h = contentHashSql(layout);
  const limit = o.limit ?? 1000;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new AuditstreamError('USAGE', 'the conflict limit must be a positive integer', { field: 'limit' });
  const where = o.tenant !== undefined ? sql` WHERE tenant_id = ${o.tenant}` : sql``;
  // min/max of a 64-bit content hash per id: constant state per group, whatever the table's size.
  const ids = await ch.queryRows<{ eid: string }>(
    sql`SELECT toString(event_id) AS eid FROM ${events}${where} GROUP BY event_id HAVING min(${h}) != max(${h}) ORDER BY eid LIMIT ${unsafeRaw(String(limit))}`, // a checked integer: 18.16 takes only a literal after LIMIT
    { operation: 'integrity_conflict_ids', settings: { max_execution_time: 0, max_bytes_before_external_group_by: '1073741824' } },
  );
  if (ids.length === 0) return [];
  const occurred = layout === 'modern' ? sql`toString(toUnixTimestamp64Micro(occurred_at))` : sql`toString(toUInt64(occurred_at) * 1000000 + occurred_at_us)`;
  const rows = await ch.queryRows<SourceRow>(
    sql`SELECT lower(toString(event_id)) AS eid, tenant_id AS tid, toString(kafka_topic) AS src_topic, kafka_partition AS src_partition,
  toString(kafka_offset) AS src_offset, toString(${h}) AS ch_hash, ${occurred} AS t_us
FROM ${events}
WHERE event_id IN (${joinSql(
      ids.map((r) => sql`${p.uuid(r.eid)}`),
      ', ',
    )})${o.tenant !== undefined ? sql` AND tenant_id = ${o.tenant}` : sql``}
ORDER BY event_id, ${firstReceivedOrder(layout)}
LIMIT 1 BY event_id, kafka_topic, kafka_partition, kafka_offset`,
    { operation: 'integrity_conflict_sources', settings: { max_execution_time: 0 } },
  );
  const byId = new Map<string, EventIdConflict>();
  for (const r of rows) {
    let c = byId.get(r.eid);
    if (!c) {
      c = { event_id: r.eid, sources: [] };
      byId.set(r.eid, c);
    }
    c.sources.push({
      topic: r.src_topic,
      partition: Number(r.src_partition),
      offset: r.src_offset,
      tenant_id: r.tid,
      occurred_at_us: r.t_us,
      content_hash: r.ch_hash,
    });
  }
  return [...byId.values()];
}

/** One warning per message whose content differs from the row queries show for its event_id. */
export function conflictFindings(conflicts: readonly EventIdConflict[]): Finding[] {
  const out: Finding[] = [];
  for (const c of conflicts) {
    const [shown, ...others] = c.sources;
    if (!shown) continue;
    const versions = new Set(c.sources.map((s) => s.content_hash)).size;
    for (const s of others) {
      if (s.content_hash === shown.content_hash) continue; // the same event published twice: a duplicate, not a conflict
      const occurredAt = occurredAtText(s.occurred_at_us);
      out.push({
        kind: 'event_id_conflict',
        severity: 'warning',
        topic: s.topic,
        partition: s.partition,
        offset: s.offset,
        event_id: c.event_id,
        tenant_id: s.tenant_id,
        ...(occurredAt ? { occurred_at: occurredAt } : {}),
        detail: `event_id ${c.event_id} is also carried by ${shown.topic}/${shown.partition} offset ${shown.offset}, the first received (the row queries show), with different content: ${c.sources.length} messages, ${versions} versions`,
      });
    }
  }
  return out;
}
