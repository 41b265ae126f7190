import type { ClickHouse } from '@auditstream/clickhouse';
import { waitFor } from './poll.js';

/**
 * OPTIMIZE … FINAL until every partition of the table is one active part, so a ReplacingMergeTree
 * holds no copies any more. One statement is not enough under load: when a part is already being
 * merged in the background, OPTIMIZE returns without merging and without an error.
 */
export async function mergeFully(ch: ClickHouse, database: string, table: string, timeoutMs = 60_000): Promise<void> {
  const name = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '');
  const [db, t] = [name(database), name(table)];
  await waitFor(
    `${db}.${t} merged into one part per partition`,
    async () => {
      await ch.command(`OPTIMIZE TABLE \`${db}\`.\`${t}\` FINAL`);
      const [r] = await ch.queryRows<{ n: string }>(
        `SELECT count() AS n FROM (SELECT partition FROM system.parts WHERE database = '${db}' AND table = '${t}' AND active GROUP BY partition HAVING count() > 1)`,
      );
      return Number(r?.n) === 0;
    },
    timeoutMs,
    { everyMs: 500 },
  );
}
