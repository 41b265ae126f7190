import { readFileSync } from 'node:fs';
import { AuditstreamError, sleep, uuidv7 } from '@auditstream/core';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { type Capabilities, layoutFor } from './capabilities.js';
import type { ClickHouse } from './client.js';
import { alterRows, eachServer, type ServerTable } from './maintenance.js';
import type { AuditEventInput } from './rows.js';
import { RETENTION_TABLES, type RetentionTable } from './schema.js';
import { ident, literal, Param, p, quoteString, sql, table } from './sql.js';

/**
 * Retention: how long rows are kept, per table, with per-tenant overrides, under legal holds.
 *
 * - Servers with TTL (modern): one TTL expression per table, rendered from the policy and the
 *   active holds (`ALTER TABLE … MODIFY TTL`); ClickHouse deletes expired rows during merges,
 *   row by row, so each tenant gets exactly its own retention. Re-run after any policy or hold change.
 * - Servers without TTL (18.16): whole monthly partitions are dropped (`ALTER TABLE … DROP
 *   PARTITION`). A partition holds every tenant's rows for that month, so it is dropped only when
 *   it is expired for EVERY tenant that has rows in it, using each tenant's own retention (a tenant
 *   with a longer override keeps the whole month for everyone), and when NO tenant with rows in it is
 *   under legal hold (a hold on `*` keeps everything). Tenants with shorter overrides than the
 *   default therefore keep data longer than asked on 18.16; that is the price of partition drops.
 */
const days = z.number().int().positive().nullable();
export const retentionPolicySchema = z.strictObject({
  default_days: z
    .strictObject({
      events: days.default(365).describe('Days events are kept (null: forever).'),
      alerts: days.default(365).describe('Days alert history is kept (null: forever).'),
      dlq_decisions: days.default(365).describe('Days dead-letter decisions are kept (null: forever).'),
    })
    .prefault({}),
  tenant_overrides: z
    .record(
      z.string().min(1),
      z.strictObject({
        events: days.optional(),
        alerts: days.optional(),
      }),
    )
    .default({})
    .describe('Per-tenant retention in days, overriding default_days for that tenant.'),
});
export type RetentionPolicy = z.infer<typeof retentionPolicySchema>;

export function parseRetentionPolicy(value: unknown): RetentionPolicy {
  const r = retentionPolicySchema.safeParse(value ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    const key = issue ? issue.path.join('.') : '(root)';
    throw new AuditstreamError('CONFIG_INVALID', `retention policy key "${key}": ${issue?.message ?? 'invalid'}`, { field: key });
  }
  return r.data;
}

/** Reads a YAML or JSON policy file; no file = the defaults. */
export function loadRetentionPolicy(file?: string): RetentionPolicy {
  if (!file) return parseRetentionPolicy({});
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new AuditstreamError('CONFIG_UNREADABLE', `cannot read retention policy ${file}`, { cause, field: 'policy' });
  }
  return parseRetentionPolicy(parseYaml(text));
}

/** Days a tenant's rows in a table are kept; null = forever. */
export function retentionDays(policy: RetentionPolicy, tbl: RetentionTable, tenant?: string): number | null {
  const o = tenant !== undefined && tbl !== 'dlq_decisions' ? policy.tenant_overrides[tenant]?.[tbl] : undefined;
  return o !== undefined ? o : policy.default_days[tbl];
}

// ---------------------------------------------------------------------------------------------
// Legal holds

export interface LegalHold {
  tenant_id: string;
  hold_id: string;
  reason: string;
  created_at: string;
}

export async function activeLegalHolds(ch: ClickHouse, database = ch.database): Promise<LegalHold[]> {
  // FINAL: the latest version of each hold (a release is a newer row with released_at set).
  return ch.queryRows<LegalHold>(
    sql`SELECT tenant_id, hold_id, reason, toString(created_at) AS created_at FROM ${table(database, 'legal_holds')} FINAL WHERE released_at IS NULL ORDER BY tenant_id, hold_id`,
    { operation: 'legal_holds' },
  );
}

export async function placeLegalHold(
  ch: ClickHouse,
  hold: { tenant_id: string; reason: string; hold_id?: string },
  database = ch.database,
): Promise<LegalHold> {
  if (!hold.tenant_id) throw new AuditstreamError('USAGE', 'a legal hold needs a tenant_id (or * for all tenants)', { field: 'tenant_id' });
  const now = Math.floor(Date.now() / 1000);
  const row = { tenant_id: hold.tenant_id, hold_id: hold.hold_id ?? uuidv7(), reason: hold.reason, created_at: now, released_at: null, updated_at: now };
  await insertHold(ch, database, row);
  return { tenant_id: row.tenant_id, hold_id: row.hold_id, reason: row.reason, created_at: new Date(now * 1000).toISOString() };
}

export async function releaseLegalHold(ch: ClickHouse, hold: { tenant_id: string; hold_id: string }, database = ch.database): Promise<boolean> {
  const current = (await activeLegalHolds(ch, database)).find((h) => h.tenant_id === hold.tenant_id && h.hold_id === hold.hold_id);
  if (!current) return false;
  const now = Math.floor(Date.now() / 1000);
  const created = Math.floor(Date.parse(`${current.created_at.replace(' ', 'T')}Z`) / 1000);
  // updated_at + 1 s at least, so the release wins over a hold placed within the same second.
  await insertHold(ch, database, { ...current, created_at: created, released_at: now, updated_at: Math.max(now, created + 1) });
  return true;
}

async function insertHold(ch: ClickHouse, database: string, row: Record<string, unknown>): Promise<void> {
  if (database === ch.database) {
    await ch.insertJson('legal_holds', [row], { operation: 'legal_hold' });
    return;
  }
  // Another database than the handle's (tests, migrations into a second database).
  const cols = Object.keys(row);
  const vals = cols.map((c) => {
    const v = row[c];
    if (v === null) return 'NULL';
    if (typeof v === 'number') return `toDateTime(${Math.floor(v)}, 'UTC')`;
    return quoteString(String(v));
  });
  await ch.command(`INSERT INTO ${table(database, 'legal_holds').text} (${cols.join(', ')}) VALUES (${vals.join(', ')})`, { operation: 'legal_hold' });
}

// ---------------------------------------------------------------------------------------------
// Planning (pure) and applying

export interface PartitionInfo {
  table: RetentionTable;
  /** toYYYYMM partition id, e.g. 202401. */
  partition: string;
  /** Tenants with rows in the partition (tables with a tenant column). */
  tenants: string[];
}

export interface PartitionDecision {
  table: string;
  partition: string;
  drop: boolean;
  reason: string;
}

/** First instant after the month a YYYYMM partition covers. */
export function partitionEnd(partition: string): Date {
  if (!/^\d{6}$/.test(partition)) throw new AuditstreamError('RETENTION', `unexpected partition id "${partition.slice(0, 20)}"`, { field: 'partition' });
  const y = Number(partition.slice(0, 4));
  const m = Number(partition.slice(4, 6));
  return new Date(Date.UTC(y, m, 1)); // month m (1-based) → Date.UTC month index m = next month
}

/**
 * Which partitions may be dropped. A partition is dropped only when, for every tenant with rows in
 * it, the whole month is older than that tenant's retention, and no such tenant is on legal hold.
 */
export function planPartitionDrops(input: {
  now: Date;
  policy: RetentionPolicy;
  holds: readonly string[];
  partitions: readonly PartitionInfo[];
}): PartitionDecision[] {
  const held = new Set(input.holds);
  const out: PartitionDecision[] = [];
  for (const part of input.partitions) {
    const spec = RETENTION_TABLES[part.table];
    const end = partitionEnd(part.partition);
    const keep = (reason: string) => out.push({ table: part.table, partition: part.partition, drop: false, reason });
    if (held.has('*')) {
      keep('legal hold on all tenants');
      continue;
    }
    if (spec.tenantColumn === null && held.size > 0) {
      keep('legal hold active and the table has no tenant column');
      continue;
    }
    const heldHere = part.tenants.filter((t) => held.has(t));
    if (heldHere.length > 0) {
      keep(`legal hold on tenant ${heldHere.slice(0, 3).join(', ')}${heldHere.length > 3 ? ` and ${heldHere.length - 3} more` : ''}`);
      continue;
    }
    const tenants = spec.tenantColumn === null || part.tenants.length === 0 ? [undefined] : part.tenants;
    let longest: number | null = 0;
    let longestTenant: string | undefined;
    for (const t of tenants) {
      const d = retentionDays(input.policy, part.table, t);
      if (d === null) {
        longest = null;
        longestTenant = t;
        break;
      }
      if (d > (longest as number)) {
        longest = d;
        longestTenant = t;
      }
    }
    if (longest === null) {
      keep(`kept forever${longestTenant ? ` for tenant ${longestTenant}` : ''}`);
      continue;
    }
    const cutoff = input.now.getTime() - longest * 86_400_000;
    if (end.getTime() <= cutoff)
      out.push({ table: part.table, partition: part.partition, drop: true, reason: `older than ${longest} days for every tenant in it` });
    else keep(`within ${longest} days${longestTenant ? ` (tenant ${longestTenant})` : ''}`);
  }
  return out;
}

/** Far-future instant TTL expressions use for "forever" (DateTime ends in 2106). */
const FOREVER = "toDateTime('2105-12-31 00:00:00', 'UTC')";

/** The TTL expression for a table: per-tenant days via multiIf, held tenants never expire. */
export function renderTtl(policy: RetentionPolicy, tbl: RetentionTable, holds: readonly string[], caps: Capabilities): string {
  const spec = RETENTION_TABLES[tbl];
  const timeCol = spec.timeColumn;
  const base = tbl === 'events' && layoutFor(caps) === 'modern' ? `toDateTime(${timeCol})` : timeCol;
  const lit = (s: string) => literal(new Param(s, 'String'));
  // A TTL must depend on a column, so "forever" is greatest(<time>, 2105-12-31).
  const forever = `greatest(${base}, ${FOREVER})`;
  if (holds.includes('*') || (spec.tenantColumn === null && holds.length > 0)) return forever;
  const def = retentionDays(policy, tbl);
  const branches: string[] = [];
  if (spec.tenantColumn) {
    const tc = spec.tenantColumn;
    if (holds.length > 0) branches.push(`${tc} IN (${holds.map(lit).join(', ')}), -1`);
    for (const [tenant, o] of Object.entries(policy.tenant_overrides).sort(([a], [b]) => a.localeCompare(b))) {
      const d = o[tbl as 'events' | 'alerts'];
      if (d === undefined || holds.includes(tenant)) continue;
      branches.push(`${tc} = ${lit(tenant)}, ${d === null ? -1 : d}`);
    }
  }
  const defDays = def === null ? -1 : def;
  if (branches.length === 0 && defDays >= 0 && defDays <= 20_000) return `${base} + toIntervalDay(${defDays})`;
  if (branches.length === 0 && defDays < 0) return forever;
  const daysExpr = branches.length === 0 ? String(defDays) : `multiIf(${branches.join(', ')}, ${defDays})`;
  // DateTime ends in 2106: a retention reaching past 2106-01-01 (or negative = forever/held) is forever.
  return `if(${daysExpr} < 0 OR toUInt64(toUnixTimestamp(${base})) + toUInt64(greatest(${daysExpr}, 0)) * 86400 >= 4291747200, ${forever}, addDays(${base}, toUInt32(greatest(${daysExpr}, 0))))`;
}

/** The audit event every retention run records, and the attribute `auditstream verify` reads from it. */
export const RETENTION_RECORD = Object.freeze({ action: 'retention.apply', cutoffAttribute: 'events_cutoff' });

/** Start of the UTC month an instant is in. */
function monthStart(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
}

/**
 * The events cut-off of a partition-dropping run: every month of events before it was dropped
 * (now or by an earlier run), so no event that occurred before it is kept. Months ending by
 * now - minDays were all candidates: the cut-off is the start of the earliest one kept (legal
 * hold, a longer override), else the start of the month now - minDays is in. Undefined when no
 * such instant exists (nothing expires, or a partition id that is not a month).
 */
export function partitionCutoff(input: {
  now: Date;
  minDays: number | null;
  ids: readonly string[];
  decisions: readonly PartitionDecision[];
}): Date | undefined {
  if (input.minDays === null || input.ids.some((id) => !/^\d{6}$/.test(id))) return undefined;
  let cutoff = monthStart(new Date(input.now.getTime() - input.minDays * 86_400_000));
  for (const d of input.decisions) {
    if (d.table !== 'events' || d.drop) continue;
    const start = monthStart(new Date(partitionEnd(d.partition).getTime() - 1));
    if (start < cutoff) cutoff = start;
  }
  return cutoff;
}

/**
 * The events cut-off of a TTL run: with no legal hold and no tenant kept forever, every event
 * older than the longest events retention expires (TTL deletes it at a later merge).
 */
export function ttlCutoff(policy: RetentionPolicy, holds: readonly string[], now: Date): Date | undefined {
  if (holds.length > 0) return undefined;
  const days = [
    policy.default_days.events,
    ...Object.values(policy.tenant_overrides).map((o) => (o.events === undefined ? policy.default_days.events : o.events)),
  ];
  if (days.some((d) => d === null)) return undefined;
  return new Date(now.getTime() - Math.max(...(days as number[])) * 86_400_000);
}

export interface RetentionResult {
  mode: 'ttl' | 'partitions';
  dryRun: boolean;
  holds: string[];
  decisions: PartitionDecision[];
  dropped: { table: string; partition: string }[];
  statements: string[];
  /** No event that occurred before this is kept once the run is done (recorded as events_cutoff); absent on dry runs or when no such instant exists. */
  eventsCutoff?: Date;
  message: string;
}

export interface ApplyRetentionOptions {
  policy: RetentionPolicy;
  dryRun?: boolean;
  now?: Date;
  database?: string;
  /**
   * Records the run as an audit event (the SDK, wired in by the caller). Called once per run,
   * dry runs included, also when the run fails (outcome error); a failure to record fails the run.
   */
  recordEvent: (event: AuditEventInput) => Promise<void>;
  /** Tenant the retention events belong to. */
  systemTenant?: string;
  /** On a cluster: how long to wait for a dropped partition to leave every replica (default 120 s). */
  replicaWaitMs?: number;
  actorId?: string;
  service?: string;
}

/** The table's partitions on any server (on a cluster, the union over every shard's replicas). */
async function listPartitions(ch: ClickHouse, database: string, tbl: string): Promise<string[]> {
  const out = new Set<string>();
  for (const s of await eachServer(ch, 'parts', database)) {
    const rows = await ch.queryRows<{ partition: string }>(
      sql`SELECT DISTINCT partition FROM ${s.from} WHERE database = ${s.database} AND table = ${tbl} AND active ORDER BY partition`,
      { operation: 'retention_parts' },
    );
    for (const r of rows) out.add(String(r.partition).replace(/'/g, ''));
  }
  return [...out].sort();
}

/** Names of the active parts of one partition, per server. */
async function partsOf(ch: ClickHouse, database: string, drop: { table: string; partition: string }): Promise<Map<ServerTable, string[]>> {
  const out = new Map<ServerTable, string[]>();
  for (const s of await eachServer(ch, 'parts', database)) {
    const rows = await ch.queryRows<{ name: string }>(
      sql`SELECT name FROM ${s.from} WHERE database = ${s.database} AND table = ${drop.table} AND partition_id = ${drop.partition} AND active`,
      { operation: 'retention_parts' },
    );
    out.set(
      s,
      rows.map((r) => r.name),
    );
  }
  return out;
}

/**
 * Waits until none of the parts a partition had before its drop is active on any server: the ALTER
 * ON CLUSTER returns once one replica per shard dropped it, and the others follow through the
 * replication log. Parts written after the drop (a late event of that month) have other names.
 */
async function waitForDrop(ch: ClickHouse, before: Map<ServerTable, string[]>, drop: { table: string; partition: string }, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left: string[] = [];
    for (const [s, names] of before) {
      if (names.length === 0) continue;
      const rows = await ch.queryRows<{ n: string }>(
        sql`SELECT toString(count()) AS n FROM ${s.from} WHERE database = ${s.database} AND table = ${drop.table} AND active AND has(${names}, name)`,
        { operation: 'retention_wait' },
      );
      if (Number(rows[0]?.n ?? 0) > 0) left.push(s.server);
    }
    if (left.length === 0) return;
    if (Date.now() > deadline)
      throw new AuditstreamError(
        'RETENTION',
        `partition ${drop.partition} of ${drop.table} is still on ${left.join(', ')} ${timeoutMs} ms after its drop; run retention apply again`,
        { retriable: true, field: 'partition' },
      );
    await sleep(200);
  }
}

export async function applyRetention(ch: ClickHouse, options: ApplyRetentionOptions): Promise<RetentionResult> {
  const database = options.database ?? ch.database;
  const dryRun = options.dryRun ?? false;
  const now = options.now ?? new Date();
  const caps = await ch.capabilities();
  const holds = [...new Set((await activeLegalHolds(ch, database)).map((h) => h.tenant_id))].sort();
  const statements: string[] = [];
  const dropped: { table: string; partition: string }[] = [];
  let decisions: PartitionDecision[] = [];
  let cutoff: Date | undefined;
  const mode: RetentionResult['mode'] = caps.ttl ? 'ttl' : 'partitions';
  try {
    if (caps.ttl) {
      cutoff = ttlCutoff(options.policy, holds, now);
      for (const tbl of Object.keys(RETENTION_TABLES) as RetentionTable[]) {
        const ttl = renderTtl(options.policy, tbl, holds, caps);
        for (const t of [tbl, ...(RETENTION_TABLES[tbl].ttlFollowers as readonly string[])])
          statements.push(`ALTER TABLE ${table(database, t).text} MODIFY TTL ${ttl}`);
      }
    } else {
      const partitions: PartitionInfo[] = [];
      const minDays = smallestRetention(options.policy);
      let eventIds: string[] = [];
      for (const tbl of Object.keys(RETENTION_TABLES) as RetentionTable[]) {
        const spec = RETENTION_TABLES[tbl];
        const ids = await listPartitions(ch, database, tbl);
        if (tbl === 'events') eventIds = ids;
        // Only partitions old enough for the shortest retention anywhere can be candidates.
        const candidates = ids.filter((id) => minDays !== null && /^\d{6}$/.test(id) && partitionEnd(id).getTime() <= now.getTime() - minDays * 86_400_000);
        const tenantsBy = new Map<string, string[]>();
        if (spec.tenantColumn) {
          // One query per candidate month: the partition key prunes the read to that month.
          for (const id of candidates) {
            const rows = await ch.queryRows<{ tenants: string[] }>(
              sql`SELECT groupUniqArray(${ident(spec.tenantColumn)}) AS tenants FROM ${table(database, tbl)} WHERE toYYYYMM(${ident(spec.timeColumn)}) = ${p.uint32(Number(id))}`,
              { operation: 'retention_tenants' },
            );
            tenantsBy.set(id, rows[0]?.tenants ?? []);
          }
        }
        for (const id of candidates) partitions.push({ table: tbl, partition: id, tenants: tenantsBy.get(id) ?? [] });
      }
      decisions = planPartitionDrops({ now, policy: options.policy, holds, partitions });
      cutoff = partitionCutoff({ now, minDays, ids: eventIds, decisions });
      for (const d of decisions.filter((x) => x.drop)) {
        const followers = RETENTION_TABLES[d.table as RetentionTable].followers as readonly string[];
        for (const t of [d.table, ...followers]) {
          statements.push(`ALTER TABLE ${table(database, t).text} DROP PARTITION ${d.partition}`);
        }
      }
    }
    if (!dryRun) {
      for (const s of statements) {
        const m = / ALTER TABLE `[^`]+`\.`([^`]+)` DROP PARTITION (\d+)$/.exec(` ${s}`);
        const drop = m ? { table: m[1] as string, partition: m[2] as string } : undefined;
        const before = drop && ch.cluster ? await partsOf(ch, database, drop) : undefined;
        await alterRows(ch, s, { operation: 'retention_alter' });
        if (drop && before) await waitForDrop(ch, before, drop, options.replicaWaitMs ?? 120_000);
        if (drop) dropped.push(drop);
      }
    }
  } catch (err) {
    await options.recordEvent(retentionEvent(options, { dryRun, mode, holds, dropped, outcome: 'error', now }));
    throw err;
  }
  const eventsCutoff = dryRun ? undefined : cutoff;
  await options.recordEvent(
    retentionEvent(options, { dryRun, mode, holds, dropped, outcome: 'success', now, planned: statements.length, ...(eventsCutoff ? { eventsCutoff } : {}) }),
  );
  const drops = decisions.filter((d) => d.drop).length;
  const message =
    mode === 'ttl'
      ? `${dryRun ? 'Dry run: would set' : 'Set'} TTL on ${statements.length} table(s) (${holds.length} legal hold(s) exempt).`
      : `${dryRun ? 'Dry run: would drop' : 'Dropped'} ${drops} partition(s); kept ${decisions.length - drops} candidate(s)${holds.length ? ` (${holds.length} legal hold(s))` : ''}.`;
  return { mode, dryRun, holds, decisions, dropped, statements, ...(eventsCutoff ? { eventsCutoff } : {}), message };
}

function smallestRetention(policy: RetentionPolicy): number | null {
  const all = [
    ...Object.values(policy.default_days),
    ...Object.values(policy.tenant_overrides).flatMap((o) => [o.events, o.alerts].filter((x) => x !== undefined)),
  ].filter((d): d is number => typeof d === 'number');
  return all.length ? Math.min(...all) : null;
}

function retentionEvent(
  options: ApplyRetentionOptions,
  r: {
    dryRun: boolean;
    mode: string;
    holds: string[];
    dropped: { table: string; partition: string }[];
    outcome: 'success' | 'error';
    now: Date;
    planned?: number;
    eventsCutoff?: Date;
  },
): AuditEventInput {
  return {
    event_id: uuidv7(r.now.getTime()),
    tenant_id: options.systemTenant ?? 'system',
    occurred_at: Date.now() * 1000,
    actor: { id: options.actorId ?? 'auditstream-retention', type: 'system' },
    action: r.dryRun ? 'retention.plan' : RETENTION_RECORD.action,
    category: 'admin',
    outcome: r.outcome,
    reason: r.outcome === 'error' ? 'retention_failed' : null,
    service: options.service ?? 'auditstream-cli',
    severity: r.dryRun ? 'info' : 'medium',
    attributes: {
      mode: r.mode,
      dry_run: String(r.dryRun),
      legal_holds: String(r.holds.length),
      dropped_partitions: r.dropped.map((d) => `${d.table}:${d.partition}`).join(',') || 'none',
      ...(r.planned !== undefined ? { planned_statements: String(r.planned) } : {}),
      // What `auditstream verify` holds a partition whose whole chain is gone against (docs/integrity.md).
      ...(r.eventsCutoff ? { [RETENTION_RECORD.cutoffAttribute]: r.eventsCutoff.toISOString() } : {}),
    },
  };
}
