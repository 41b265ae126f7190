import type { MigrationContext, MigrationStatement } from '../src/migrate.js';

export interface TableSwap {
  /** The table replaced, e.g. `events`. */
  table: string;
  /** The migration id's number, e.g. `006`: names the copy `<table>_new<n>` and the old table `<table>_pre<n>`. */
  n: string;
  /** CREATE TABLE IF NOT EXISTS for the new layout, under the given name. */
  create: (name: string) => string;
  /** Columns copied from the old table (the new one's other columns take their defaults). */
  columns: readonly string[];
  /** Statements run right after the swap, before the copy (e.g. re-creating materialized views). */
  afterSwap?: readonly string[];
}

/**
 * Replaces a table by one with another sorting key (which a MergeTree cannot change in place):
 *   1. create `<table>_new<n>` with the new layout (unless the swap already happened);
 *   2. RENAME `<table>` → `<table>_pre<n>` and `<table>_new<n>` → `<table>` in one statement, so
 *      writers find the new table at once and nothing they insert from then on is missed;
 *   3. `afterSwap`;
 *   4. copy every row of `<table>_pre<n>` into `<table>`;
 *   5. drop a `<table>_new<n>` left over.
 * Each step is guarded on which tables exist, so a run interrupted anywhere is simply run again;
 * a second copy is harmless only if the new key collapses identical rows (a ReplacingMergeTree
 * whose key identifies a row), which is what both swaps here are for. `<table>_pre<n>` is kept:
 * an operator drops it after `auditstream verify` agrees (docs/storage.md). Writers should be
 * stopped while it runs (`auditstream migrate` before starting ingest): a row being inserted into
 * the old table while the RENAME happens would land in `<table>_pre<n>` after the copy.
 */
export function swapTable(ctx: MigrationContext, s: TableSwap): MigrationStatement[] {
  const { db } = ctx;
  const pre = `${s.table}_pre${s.n}`;
  const fresh = `${s.table}_new${s.n}`;
  const cols = s.columns.map((c) => `\`${c}\``).join(', ');
  return [
    { sql: s.create(fresh), when: { table: pre, exists: false } },
    { sql: `RENAME TABLE ${db}.${s.table} TO ${db}.${pre}, ${db}.${fresh} TO ${db}.${s.table}`, when: { table: pre, exists: false } },
    ...(s.afterSwap ?? []),
    { sql: `INSERT INTO ${db}.${s.table} (${cols}) SELECT ${cols} FROM ${db}.${pre}`, when: { table: pre, exists: true } },
    `DROP TABLE IF EXISTS ${db}.${fresh}`,
  ];
}
