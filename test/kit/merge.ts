import { type ClickHouse, p, sql, table } from '@auditstream/clickhouse';
import { waitFor } from './poll.js';

/**
 * OPTIMIZE … FINAL until every partition of the table is one active part, so a ReplacingMergeTree
 * holds no copies any more. One statement is not enough under load: when a part is already being
 * merged in the background, OPTIMIZE returns without merging and without an error.
 */
export async function mergeFully(ch: ClickHouse, database: string, name: string, timeoutMs = 60_000): Promise<void> {
  const target = table(database, name);
  await waitFor(
    `${target.text} merged into one part per partition`,
    async () => {
      await ch.command(sql`OPTIMIZE TABLE ${target} FINAL`);
      const [r] = await ch.queryRows<{ n: string }>(
        sql`SELECT count() AS n FROM (SELECT partition FROM system.parts WHERE database = ${p.string(database)} AND table = ${p.string(name)} AND active GROUP BY partition HAVING count() > 1)`,
      );
      return Number(r?.n) === 0;
    },
    timeoutMs,
    { everyMs: 500 },
  );
}
