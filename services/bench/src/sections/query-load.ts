// Stored events for the query figures without the pipeline: `INSERT … SELECT FROM system.numbers`
// writes N rows shaped like the ingest section's events (shared/workload sampleInput: 997 actors,
// 5,000 documents, auth.login one event in ten) straight into audit.events, so 5M rows load in
// about a minute instead of the pipeline's several. The materialized views fire as on any insert,
// so the insert time is the write cost of the schema (lookup and aggregate tables included).
import { type ClickHouse, layoutFor, recordAllDuplicatesSql } from '@auditstream/clickhouse';

export interface LoadSpec {
  database: string;
  tenant: string;
  events: number;
  /** occurred_at spreads evenly over [startMs, startMs + windowMs). */
  startMs: number;
  windowMs: number;
  /**
   * Every `redeliverEvery`-th event is stored a second time (a re-delivered Kafka message: same
   * offset, later ingested_at), so the queries' dedup has copies to skip. 0: none.
   */
  redeliverEvery: number;
}

/** The SELECT producing the rows (a subquery per row number `i`), for the server's layout. */
export function loadSql(layout: 'legacy' | 'modern', s: LoadSpec, copies: boolean): string {
  const stepUs = Math.floor((s.windowMs * 1000) / s.events);
  const legacy = layout === 'legacy';
  const cols = [
    ['tenant_id', `'${s.tenant.replace(/'/g, '')}'`],
    ['occurred_at', legacy ? "toDateTime(intDiv(ts_us, 1000000), 'UTC')" : "toDateTime64(ts_us / 1000000, 6, 'UTC')"],
    ...(legacy ? [['occurred_at_us', 'toUInt32(ts_us % 1000000)']] : []),
    // A UUIDv7: 48 bits of milliseconds, then hash bits.
    [
      'event_id',
      "toUUID(concat(substring(th, 3, 8), '-', substring(th, 11, 4), '-7', substring(rh, 1, 3), '-8', substring(rh, 4, 3), '-', substring(rh, 7, 12)))",
    ],
    ['action', "if(i % 10 = 0, 'auth.login', 'document.read')"],
    ['category', "if(i % 10 = 0, 'authentication', 'resource_access')"],
    ['outcome', "if(i % 10 = 0, 'failure', 'success')"],
    ['reason', "if(i % 10 = 0, concat('bad password for user', toString(i), '@example.com'), '')"],
    ['actor_id', "concat('user-', toString(i % 997))"],
    ['actor_type', "'user'"],
    ['actor_name', "concat('User ', toString(i % 997))"],
    ['actor_ip', "['81.2.69.142', '8.8.8.8', '2a02:8070::1', '10.0.0.7'][i % 4 + 1]"],
    ['actor_user_agent', "'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'"],
    ['service', "'bench'"],
    ['resource_type', "'document'"],
    ['resource_id', "concat('doc-', toString(i % 5000))"],
    ['severity', "'info'"],
    ...(legacy
      ? [
          ['attr_keys', "['http_method', 'seq']"],
          ['attr_values', "['GET', toString(i)]"],
        ]
      : [['attributes', "map('http_method', 'GET', 'seq', toString(i))"]]),
    ['received_at', legacy ? "toDateTime(intDiv(ts_us, 1000000), 'UTC')" : "toDateTime64(ts_us / 1000000, 3, 'UTC')"],
    ['ingested_at', legacy ? `toDateTime(intDiv(ts_us, 1000000) + ${copies ? 60 : 1}, 'UTC')` : `toDateTime64(ts_us / 1000000 + ${copies ? 60 : 1}, 3, 'UTC')`],
    ...(legacy
      ? [
          ['received_at_ms', 'toUInt16(intDiv(ts_us % 1000000, 1000))'],
          ['ingested_at_ms', 'toUInt16(0)'],
        ]
      : []),
    ['kafka_topic', "'bench.query'"],
    ['kafka_partition', 'toUInt32(i % 3)'],
    ['kafka_offset', 'intDiv(i, 3)'],
    ['chain_seq', 'intDiv(i, 3)'],
    ['prev_hash', 'concat(rh, rh)'],
    ['hash', 'concat(rh, rh)'],
  ] as const;
  const start = BigInt(s.startMs) * 1000n;
  return `INSERT INTO ${s.database}.events (${cols.map((c) => c[0]).join(', ')})
SELECT ${cols.map(([name, expr]) => `${expr} AS ${name}`).join(', ')}
FROM (SELECT number AS i, toUInt64(${start} + number * ${stepUs}) AS ts_us,
        hex(toUInt64(intDiv(ts_us, 1000)) + 281474976710656) AS th, hex(MD5(toString(number))) AS rh
      FROM system.numbers LIMIT ${s.events})${copies ? ` WHERE i % ${s.redeliverEvery} = 0` : ''}`;
}

export interface LoadResult {
  /** Rows written (events plus re-delivered copies). */
  rows: number;
  insert_seconds: number;
}

/** Loads the rows into `database` (migrated), timing the inserts (materialized views included). */
export async function loadStoredEvents(ch: ClickHouse, s: LoadSpec): Promise<LoadResult> {
  const layout = layoutFor(await ch.capabilities());
  const t0 = performance.now();
  await ch.command(loadSql(layout, s, false));
  let rows = s.events;
  if (s.redeliverEvery > 0) {
    await ch.command(loadSql(layout, s, true));
    rows += Math.ceil(s.events / s.redeliverEvery);
  }
  // INSERT … SELECT bypasses insertRows' duplicate check: migration 012's one-off scan records the copies (timed: a write cost).
  const [dups] = await ch.queryRows<{ n: number | string }>(
    `SELECT count() AS n FROM system.tables WHERE database = '${s.database.replace(/'/g, '')}' AND name = 'event_id_dups'`,
    { operation: 'bench_has_dups' },
  );
  if (Number(dups?.n) > 0) await ch.command(recordAllDuplicatesSql(`\`${s.database}\``), { operation: 'bench_record_duplicates' });
  return { rows, insert_seconds: (performance.now() - t0) / 1000 };
}

/** Bytes on disk of each table of the database (active parts), and their sum. */
export async function diskBytes(ch: ClickHouse, database: string): Promise<Record<string, number>> {
  const rows = await ch.queryRows<{ table: string; bytes: string | number }>(
    `SELECT table, sum(bytes_on_disk) AS bytes FROM system.parts WHERE database = '${database.replace(/'/g, '')}' AND active GROUP BY table ORDER BY table`,
    { operation: 'bench_disk_bytes' },
  );
  const out: Record<string, number> = {};
  for (const r of rows) out[r.table] = Number(r.bytes);
  return out;
}
