import { AuditstreamError } from '@auditstream/core';
import type { ClickHouse, RequestOptions } from './client.js';
import { clusterMaintenanceStatement, localDatabase } from './cluster.js';
import { quoteString, render, type SqlFragment, sql, unsafeRaw } from './sql.js';

/**
 * Maintenance that rewrites or drops stored rows (retention, erasure, key re-wrapping), on one
 * server or on a cluster (`clickhouse.cluster`, docs/scaling.md). Their SQL names `<database>.<t>`
 * as on one server; on a cluster `alterRows` sends it to the local replicated tables ON CLUSTER,
 * and the callers wait for its effect on every server with `eachServer`, since 18.16 runs the
 * ALTER on one replica per shard and has no setting to wait for the others (no mutations_sync; an
 * ON CLUSTER statement runs with each server's default profile, not the request's settings).
 */

/** Runs an `ALTER TABLE <database>.<t> DELETE/UPDATE/DROP PARTITION/MODIFY TTL …` where the rows are. */
export async function alterRows(ch: ClickHouse, statement: SqlFragment | string, options: RequestOptions = {}): Promise<void> {
  if (!ch.cluster) return ch.command(statement, options);
  // Values inlined (the one escaping function): an ON CLUSTER statement reaches the other servers
  // as text through the DDL queue, without the request's parameters.
  const text = render(statement, { queryParams: false }).query;
  await ch.command(clusterMaintenanceStatement({ cluster: ch.cluster, database: ch.database }, text), options);
}

/** One server's copy of a system table, and the database its audit tables are in there. */
export interface ServerTable {
  /** `host:port` (native protocol), or `local` on a single server. */
  server: string;
  /** Where the audit tables hold their parts and mutations: `<database>`, or `<database>_local` on a cluster. */
  database: string;
  /** `system.<table>`, or `remote('<server>', system, <table>)`. */
  from: SqlFragment;
}

/**
 * `system.<table>` of every server that holds the audit data: the server itself, or each server of
 * the cluster (system.clusters), each replica read on its own through remote(). remote() connects
 * as `default`, as the Distributed tables do when remote_servers names no user.
 */
export async function eachServer(ch: ClickHouse, systemTable: 'mutations' | 'parts', database = ch.database): Promise<ServerTable[]> {
  if (!ch.cluster) return [{ server: 'local', database, from: unsafeRaw(`system.${systemTable}`) }];
  const rows = await ch.queryRows<{ host: string; port: number | string }>(
    sql`SELECT host_address AS host, port FROM system.clusters WHERE cluster = ${ch.cluster} ORDER BY shard_num, replica_num`,
    { operation: 'cluster_servers' },
  );
  if (rows.length === 0)
    throw new AuditstreamError('CLICKHOUSE_CLUSTER_DDL', `cluster ${ch.cluster} is not in system.clusters of the server clickhouse.url names`, {
      field: 'clickhouse.cluster',
    });
  return rows.map((r) => {
    const server = `${r.host.includes(':') ? `[${r.host}]` : r.host}:${Number(r.port)}`;
    // The address comes from the server's own system.clusters, quoted by the one escaping function.
    return { server, database: localDatabase(database), from: unsafeRaw(`remote(${quoteString(server)}, system, ${systemTable})`) };
  });
}
