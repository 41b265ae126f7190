import { createHash } from 'node:crypto';
import { AuditstreamError } from '@auditstream/core';
import { MIGRATIONS } from '../migrations/index.js';
import { type Capabilities, type Layout, layoutFor } from './capabilities.js';
import type { ClickHouse } from './client.js';
import { createClusterRewriter } from './cluster.js';
import { database as dbIdent, sql, table } from './sql.js';

/**
 * A migration renders its statements for the connected server; the runner executes them in
 * order and records the migration in `<db>.schema_migrations`. Statements must be idempotent
 * (CREATE … IF NOT EXISTS) so a run interrupted half-way is simply run again.
 */
export interface MigrationContext {
  /** The database, already quoted: `\`audit\``. */
  db: string;
  caps: Capabilities;
  layout: Layout;
}

/**
 * A statement run only when a table of the database exists (`exists: true`) or does not: what
 * makes a table swap (RENAME, copy) safe to run again after an interruption.
 */
export interface GuardedStatement {
  sql: string;
  /** With `column`: run only when that column of the table exists (or not): ADD COLUMN on servers without IF NOT EXISTS. */
  when: { table: string; exists: boolean; column?: string };
}
export type MigrationStatement = string | GuardedStatement;

export interface Migration {
  /** `NNN_name`, sorted lexically = applied in order. */
  id: string;
  description: string;
  up(ctx: MigrationContext): MigrationStatement[];
}

export interface RenderedMigration {
  id: string;
  description: string;
  /** The SQL of each statement (a guarded one with its condition as a trailing comment). */
  statements: string[];
  /** Per statement: the guard, if any, and the SQL sent (without the comment). */
  guards: (GuardedStatement['when'] | undefined)[];
  sqls: string[];
  /** Per statement: the migration statement it came from (cluster mode turns one into several, which share one guard check). */
  origins: number[];
  /** sha256 of the rendered statements: a recorded checksum that differs means the schema was rendered for another server. */
  checksum: string;
}

export function renderMigrations(
  database: string,
  caps: Capabilities,
  migrations: readonly Migration[] = MIGRATIONS,
  cluster?: string | undefined,
): RenderedMigration[] {
  const ctx: MigrationContext = { db: dbIdent(database).text, caps, layout: layoutFor(caps) };
  // Cluster mode rewrites every statement of every migration (see cluster.ts); the bootstrap too.
  const rewrite = cluster ? createClusterRewriter({ cluster, database }) : undefined;
  return [...migrations]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((m) => {
      const written = m.up(ctx);
      // Each statement is rewritten once: the rewriter follows renames from statement to statement.
      const expanded = written.map((s): MigrationStatement[] =>
        !rewrite ? [s] : typeof s === 'string' ? rewrite(s) : rewrite(s.sql).map((sql) => ({ sql, when: s.when })),
      );
      const origins = expanded.flatMap((list, i) => list.map(() => i));
      const raw = expanded.flat();
      const statements = raw.map((s) =>
        typeof s === 'string'
          ? s
          : `${s.sql}\n-- only if ${s.when.column ? `column ${s.when.table}.${s.when.column}` : `table ${s.when.table}`} ${s.when.exists ? 'exists' : 'does not exist'}`,
      );
      const guards = raw.map((s) => (typeof s === 'string' ? undefined : s.when));
      const sqls = raw.map((s) => (typeof s === 'string' ? s : s.sql));
      return {
        id: m.id,
        description: m.description,
        statements,
        guards,
        sqls,
        origins,
        checksum: createHash('sha256').update(statements.join(';\n')).digest('hex'),
      };
    });
}

export interface MigrationRecord {
  id: string;
  checksum: string;
  applied_at: string;
  server_version: string;
  layout: string;
}

export interface MigrationStatusEntry {
  id: string;
  description: string;
  applied: boolean;
  applied_at?: string;
  /** Applied with a different rendering (e.g. before a server upgrade): the tables keep their old layout. */
  drift: boolean;
}

export interface MigrationStatus {
  database: string;
  serverVersion: string;
  layout: Layout;
  entries: MigrationStatusEntry[];
  pending: string[];
}

export interface MigrateOptions {
  database?: string;
  dryRun?: boolean;
  /** Called with each statement before it runs (or instead of running it, in a dry run). */
  onStatement?: (migrationId: string, statement: string) => void;
  migrations?: readonly Migration[];
  /** `clickhouse.cluster`: the schema as Replicated tables, Distributed tables for access, DDL ON CLUSTER (cluster.ts). */
  cluster?: string | undefined;
}

export interface MigrateResult {
  database: string;
  dryRun: boolean;
  /** Migrations applied by this run (none in a dry run). */
  applied: string[];
  /** Migrations that were pending when the run started (what a dry run would apply). */
  pending: string[];
  alreadyApplied: string[];
  /** Every statement run (or that would run, in a dry run). */
  statements: { migration: string; sql: string }[];
  /** True when nothing was pending: a second run is a no-op. */
  noop: boolean;
  message: string;
}

const MIGRATIONS_TABLE_DDL = (db: string) => `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (
  \`id\` String,
  \`description\` String,
  \`checksum\` String COMMENT 'sha256 of the rendered statements',
  \`statements\` UInt32,
  \`server_version\` String,
  \`layout\` String,
  \`applied_at\` DateTime('UTC')
) ENGINE = ReplacingMergeTree(applied_at)
ORDER BY id`;

async function databaseExists(ch: ClickHouse, database: string): Promise<boolean> {
  const rows = await ch.queryRows<{ n: string | number }>(sql`SELECT count() AS n FROM system.databases WHERE name = ${database}`, {
    operation: 'migrate_check',
  });
  return Number(rows[0]?.n ?? 0) > 0;
}

async function tableExists(ch: ClickHouse, database: string, name: string): Promise<boolean> {
  const rows = await ch.queryRows<{ n: string | number }>(sql`SELECT count() AS n FROM system.tables WHERE database = ${database} AND name = ${name}`, {
    operation: 'migrate_check',
  });
  return Number(rows[0]?.n ?? 0) > 0;
}

async function guardHolds(ch: ClickHouse, database: string, guard: GuardedStatement['when']): Promise<boolean> {
  if (guard.column === undefined) return tableExists(ch, database, guard.table);
  const rows = await ch.queryRows<{ n: string | number }>(
    sql`SELECT count() AS n FROM system.columns WHERE database = ${database} AND table = ${guard.table} AND name = ${guard.column}`,
    { operation: 'migrate_check' },
  );
  return Number(rows[0]?.n ?? 0) > 0;
}

async function appliedMigrations(ch: ClickHouse, database: string): Promise<Map<string, MigrationRecord>> {
  if (!(await databaseExists(ch, database)) || !(await tableExists(ch, database, 'schema_migrations'))) return new Map();
  // ReplacingMergeTree + eventual merges: keep the first application of each id.
  // Aliases differ from column names: ClickHouse aliases are query-global.
  const rows = await ch.queryRows<{ id: string; first_checksum: string; first_applied: string; first_version: string; first_layout: string }>(
    sql`SELECT id, argMin(checksum, applied_at) AS first_checksum, toString(min(applied_at)) AS first_applied,
           argMin(server_version, applied_at) AS first_version, argMin(layout, applied_at) AS first_layout
        FROM ${table(database, 'schema_migrations')} GROUP BY id ORDER BY id`,
    { operation: 'migrate_status' },
  );
  return new Map(
    rows.map((r) => [r.id, { id: r.id, checksum: r.first_checksum, applied_at: r.first_applied, server_version: r.first_version, layout: r.first_layout }]),
  );
}

export async function migrationStatus(
  ch: ClickHouse,
  options: { database?: string; migrations?: readonly Migration[]; cluster?: string | undefined } = {},
): Promise<MigrationStatus> {
  const database = options.database ?? ch.database;
  const caps = await ch.capabilities();
  const rendered = renderMigrations(database, caps, options.migrations, options.cluster);
  const applied = await appliedMigrations(ch, database);
  const entries = rendered.map((m) => {
    const rec = applied.get(m.id);
    return {
      id: m.id,
      description: m.description,
      applied: rec !== undefined,
      ...(rec ? { applied_at: rec.applied_at } : {}),
      drift: rec !== undefined && rec.checksum !== m.checksum,
    };
  });
  return { database, serverVersion: caps.version, layout: layoutFor(caps), entries, pending: entries.filter((e) => !e.applied).map((e) => e.id) };
}

/**
 * Creates the database and the migrations table if needed, then applies pending migrations in
 * order, recording each one. Idempotent: a second run finds nothing pending, runs no DDL and
 * says so. A dry run reads what is applied and returns the statements it would run.
 */
export async function migrate(ch: ClickHouse, options: MigrateOptions = {}): Promise<MigrateResult> {
  const database = options.database ?? ch.database;
  const db = dbIdent(database).text;
  const dryRun = options.dryRun ?? false;
  const caps = await ch.capabilities();
  const layout = layoutFor(caps);
  const rendered = renderMigrations(database, caps, options.migrations, options.cluster);
  const rewrite = options.cluster ? createClusterRewriter({ cluster: options.cluster, database }) : undefined;
  // A Distributed insert returns once every shard has the rows (the migrations' INSERT … SELECT and the record).
  const settings = options.cluster ? { insert_distributed_sync: 1 as const } : undefined;
  const applied = await appliedMigrations(ch, database);
  const pending = rendered.filter((m) => !applied.has(m.id));
  const statements: { migration: string; sql: string }[] = [];
  const done: string[] = [];

  if (pending.length > 0) {
    const written = [`CREATE DATABASE IF NOT EXISTS ${db}`, MIGRATIONS_TABLE_DDL(db)];
    const bootstrap = rewrite ? written.flatMap(rewrite) : written;
    for (const s of bootstrap) {
      statements.push({ migration: '000_bootstrap', sql: s });
      options.onStatement?.('000_bootstrap', s);
      if (!dryRun) await ch.command(s, { operation: 'migrate_ddl' });
    }
  }
  for (const m of pending) {
    let origin = -1;
    let holds = true;
    for (const [i, s] of m.statements.entries()) {
      const guard = m.guards[i];
      // A dry run lists guarded statements as they are (the tables they test may not exist yet).
      // The statements one migration statement became share one check, made before the first runs.
      if (m.origins[i] !== origin) {
        origin = m.origins[i] as number;
        holds = dryRun || !guard || (await guardHolds(ch, database, guard)) === guard.exists;
      }
      if (!holds) continue;
      statements.push({ migration: m.id, sql: s });
      options.onStatement?.(m.id, s);
      if (!dryRun) {
        try {
          await ch.command(m.sqls[i] as string, { operation: 'migrate_ddl', ...(settings ? { settings } : {}) });
        } catch (err) {
          const e = err as AuditstreamError;
          throw new AuditstreamError(e.code ?? 'CLICKHOUSE_QUERY', `migration ${m.id} failed: ${e.message}`, {
            cause: err,
            field: m.id,
            retriable: e.retriable ?? false,
          });
        }
      }
    }
    if (!dryRun) {
      await ch.insertJson(
        'schema_migrations',
        [
          {
            id: m.id,
            description: m.description,
            checksum: m.checksum,
            statements: m.statements.length,
            server_version: caps.version,
            layout,
            applied_at: Math.floor(Date.now() / 1000),
          },
        ],
        { operation: 'migrate_record', ...(settings ? { settings } : {}) },
      );
    }
    done.push(m.id);
  }
  const alreadyApplied = rendered.filter((m) => applied.has(m.id)).map((m) => m.id);
  const noop = pending.length === 0;
  const message = noop
    ? `Database ${database} is up to date (${alreadyApplied.length} migrations applied); nothing to do.`
    : dryRun
      ? `Dry run: would apply ${done.length} migration(s) to ${database} (${statements.length} statements): ${done.join(', ')}.`
      : `Applied ${done.length} migration(s) to ${database} for ClickHouse ${caps.version} (${layout} layout): ${done.join(', ')}.`;
  return { database, dryRun, applied: dryRun ? [] : done, pending: pending.map((m) => m.id), alreadyApplied, statements, noop, message };
}
