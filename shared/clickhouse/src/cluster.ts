import { AuditstreamError } from '@auditstream/core';

/**
 * Cluster mode (`clickhouse.cluster`): every migration is written for one server, and this module
 * rewrites its statements for a sharded, replicated cluster, so no migration knows about clusters
 * (those added later included). The layout:
 *
 * - `<db>_local.<t>`: the data, one table per server, engine `Replicated<X>MergeTree` with the ZooKeeper
 *   path `/clickhouse/tables/{shard}/<db>_local/<t>` and replica `{replica}` (the server's macros).
 * - `<db>.<t>`: a Distributed table over `<db>_local.<t>` on every server, sharded by a hash of the
 *   table's sorting key. Every read and write of the services goes here, so their SQL is unchanged.
 * - Materialized views live beside the local tables (an insert into a shard feeds that shard's view).
 * - Every DDL statement runs `ON CLUSTER`.
 *
 * Why the sharding key is the sorting key: ReplacingMergeTree collapses rows with the same sorting
 * key only within one table, i.e. one shard. Hashing the whole key sends a re-sent row to the shard
 * that already has it, and a re-sent block is split into the same per-shard blocks, which the
 * replicated tables' block deduplication (kept in ZooKeeper per shard, so across replicas) drops.
 */
export interface ClusterTarget {
  /** Cluster name in the servers' remote_servers. */
  cluster: string;
  /** The database the services use (unquoted). */
  database: string;
}

export const localDatabase = (database: string) => `${database}_local`;

/**
 * Column comments are left out on the cluster: ClickHouse 18.16 writes a replicated table's columns
 * to ZooKeeper with their comments and then fails to match them ("Table structure in ZooKeeper is
 * too different from local table structure", code 122). The comments are documentation only.
 */
const withoutComments = (ddl: string) => ddl.replace(/\s+COMMENT\s+'(?:[^'\\]|\\.)*'/g, '');
const q = (name: string) => `\`${name}\``;
const unq = (s: string) => s.replace(/^`|`$/g, '');
/** `db`.`t`, `db`.t, or db.t, capturing the table name. */
const tableRef = (db: string) => new RegExp(`(?:\`${db}\`|${db})\\.(\`[^\`]+\`|[A-Za-z_][A-Za-z0-9_]*)`, 'g');

/** Splits on the commas that are not inside parentheses: `a, f(b, c)` → `a`, `f(b, c)`. */
function topLevelParts(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of list) {
    if (ch === ',' && depth === 0) {
      parts.push(cur.trim());
      cur = '';
      continue;
    }
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    cur += ch;
  }
  if (cur.trim()) parts.push(cur.trim());
  return parts;
}

/** A hash of the whole sorting key; each part as text, because 18.16's hash functions take no UUID. */
export function shardingKey(orderBy: string): string {
  const inner = orderBy.startsWith('(') && orderBy.endsWith(')') ? orderBy.slice(1, -1) : orderBy;
  return `cityHash64(${topLevelParts(inner)
    .map((p) => `toString(${p})`)
    .join(', ')})`;
}

/**
 * A rewriter for one database: stateful across the statements of a rendering, because a RENAME
 * re-creates Distributed tables and needs the sharding key of the table each name now holds.
 */
export function createClusterRewriter(target: ClusterTarget): (sql: string) => string[] {
  const { cluster, database } = target;
  const local = localDatabase(database);
  const on = `ON CLUSTER ${q(cluster)}`;
  const shardingKeys = new Map<string, string>();
  const toLocal = (sql: string) => sql.replace(tableRef(database), (_m, t: string) => `${q(local)}.${t}`);
  const distributed = (t: string, key: string) =>
    `CREATE TABLE IF NOT EXISTS ${q(database)}.${q(t)} ${on} AS ${q(local)}.${q(t)} ENGINE = Distributed(${q(cluster)}, ${q(local)}, ${q(t)}, ${key})`;
  const fail = (sql: string): never => {
    throw new AuditstreamError('CLICKHOUSE_CLUSTER_DDL', `cluster mode cannot rewrite this statement: ${sql.split('\n')[0]}`, { field: 'clickhouse.cluster' });
  };

  return (sql: string): string[] => {
    const s = sql.trim();
    let m = /^CREATE DATABASE (IF NOT EXISTS )?(\S+)$/i.exec(s);
    if (m) return [`CREATE DATABASE ${m[1] ?? ''}${m[2]} ${on}`, `CREATE DATABASE ${m[1] ?? ''}${q(local)} ${on}`];

    m = /^CREATE TABLE (IF NOT EXISTS )?(\S+)\.(\S+) \(([\s\S]*)\) ENGINE = (\w*)MergeTree(?:\(([^)]*)\))?([\s\S]*)$/i.exec(s);
    if (m) {
      const [, ifne = '', , rawName = '', body = '', kind = '', args, rest = ''] = m;
      const t = unq(rawName);
      const orderBy = /ORDER BY ([\s\S]+?)(?:\n|\s+SETTINGS|\s+TTL|$)/i.exec(rest)?.[1]?.trim();
      if (!orderBy) return fail(s);
      const key = shardingKey(orderBy);
      shardingKeys.set(t, key);
      const zkPath = `'/clickhouse/tables/{shard}/${local}/${t}', '{replica}'`;
      return [
        `CREATE TABLE ${ifne}${q(local)}.${q(t)} ${on} (${withoutComments(body)}) ENGINE = Replicated${kind}MergeTree(${zkPath}${args ? `, ${args}` : ''})${rest}`,
        distributed(t, key),
      ];
    }

    m = /^CREATE MATERIALIZED VIEW (IF NOT EXISTS )?(\S+)\.(\S+) ([\s\S]*)$/i.exec(s);
    if (m) return [`CREATE MATERIALIZED VIEW ${m[1] ?? ''}${q(local)}.${q(unq(m[3] ?? ''))} ${on} ${toLocal(m[4] ?? '')}`];

    m = /^ALTER TABLE (\S+)\.(\S+) ([\s\S]*)$/i.exec(s);
    if (m) {
      const t = q(unq(m[2] ?? ''));
      const rest = withoutComments(m[3] ?? '');
      const out = [`ALTER TABLE ${q(local)}.${t} ${on} ${rest}`];
      // A Distributed table's columns are fixed when it is made, and 18.16 runs ALTER … ON CLUSTER on
      // one replica per shard only (it refuses a non-replicated table): make it again over the
      // altered table (a replicated ALTER returns once every replica applied it).
      if (/^(ADD|DROP|MODIFY) COLUMN/i.test(rest)) {
        const key = shardingKeys.get(unq(m[2] ?? '')) ?? fail(s);
        out.push(`DROP TABLE IF EXISTS ${q(database)}.${t} ${on}`, distributed(unq(m[2] ?? ''), key));
      }
      return out;
    }

    m = /^RENAME TABLE ([\s\S]+)$/i.exec(s);
    if (m) {
      // Rename the data; then each name's Distributed table is made again over the table it now names.
      const pairs = (m[1] ?? '').split(',').map(
        (p) =>
          p
            .trim()
            .split(/\s+TO\s+/i)
            .map((x) => unq(x.split('.').pop() ?? '')) as [string, string],
      );
      const moved = new Map(pairs.map(([from, to]) => [to, shardingKeys.get(from)]));
      for (const [to, key] of moved) if (key) shardingKeys.set(to, key);
      const names = [...new Set(pairs.flat())];
      return [
        `RENAME TABLE ${pairs.map(([a, b]) => `${q(local)}.${q(a)} TO ${q(local)}.${q(b)}`).join(', ')} ${on}`,
        ...names.map((n) => `DROP TABLE IF EXISTS ${q(database)}.${q(n)} ${on}`),
        ...pairs.map(([, to]) => distributed(to, shardingKeys.get(to) ?? fail(s))),
      ];
    }

    m = /^DROP TABLE (IF EXISTS )?(\S+)\.(\S+)$/i.exec(s);
    if (m) {
      const t = q(unq(m[3] ?? ''));
      return [`DROP TABLE ${m[1] ?? ''}${q(database)}.${t} ${on}`, `DROP TABLE ${m[1] ?? ''}${q(local)}.${t} ${on}`];
    }

    // Data statements (INSERT … SELECT) go through the Distributed tables as written.
    if (/^INSERT INTO /i.test(s)) return [s];
    return fail(s);
  };
}

/**
 * Row maintenance on a cluster: retention's `DROP PARTITION` (and `MODIFY TTL` on servers with TTL),
 * erasure's and key re-wrapping's `DELETE`/`UPDATE` mutations. Written for one server against
 * `<database>.<table>`, which on a cluster is the Distributed table (no parts, no mutations); the
 * statement goes to the local replicated table ON CLUSTER through the same rewriter as migrations.
 * 18.16 runs an `ALTER … ON CLUSTER` of a replicated table on one replica per shard, and replication
 * carries it to the others; `maintenance.ts` waits for every server. Any other statement is refused.
 */
export function clusterMaintenanceStatement(target: ClusterTarget, sql: string): string {
  const s = sql.trim();
  // Only the table reference changes: the rest carries values (a subject id) and is not touched,
  // unlike a migration's ALTER, whose column comments are stripped.
  const m = /^ALTER TABLE (\S+)\.(\S+) (DELETE WHERE|UPDATE|DROP PARTITION|MODIFY TTL) ([\s\S]+)$/i.exec(s);
  if (!m || unq(m[1] ?? '') !== target.database)
    throw new AuditstreamError('CLICKHOUSE_CLUSTER_DDL', `cluster mode has no rewrite for this maintenance statement: ${s.split('\n')[0]?.slice(0, 120)}`, {
      field: 'clickhouse.cluster',
    });
  return `ALTER TABLE ${q(localDatabase(target.database))}.${q(unq(m[2] ?? ''))} ON CLUSTER ${q(target.cluster)} ${m[3]} ${m[4]}`;
}
