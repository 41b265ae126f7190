import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { type DeepReadonly, readConfigFile, type sections } from '@auditstream/config';
import { AuditstreamError, errorType } from '@auditstream/core';
import type { Logger } from '@auditstream/observability';
import { type ClickHouseClient, type ClickHouseSettings, createClient } from '@clickhouse/client';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { z } from 'zod';
import { type Capabilities, detectCapabilities } from './capabilities.js';
import { classifyClickHouseError } from './errors.js';
import { type RowBinaryColumn, rowBinaryEncoder } from './row-binary.js';
import { TABLES, type TableName } from './schema.js';
import { render, type SqlFragment, table } from './sql.js';

export type ClickHouseConfig = DeepReadonly<z.infer<typeof sections.clickhouseSection>>;

export interface ClickHouseDeps {
  logger: Logger;
  metrics?: Registry;
  /**
   * A @clickhouse/client `Connection` to use instead of HTTP: chDB's in-process engine
   * (`createChdbConnection` from `chdb/connection`) in the chdb test suite.
   */
  connection?: unknown;
  /** Overrides the detected capabilities (tests of one layout on another server). */
  capabilities?: Capabilities;
  /** Name for the pino child logger and the metrics label; default `clickhouse`. */
  component?: string;
}

export interface RequestOptions {
  /** What the request does, for error messages and the `op` metrics label: a short constant. */
  operation?: string;
  /** Extra server settings for this request. */
  settings?: ClickHouseSettings;
  abortSignal?: AbortSignal;
}

export interface ClickHouse {
  /** The configured database holding the audit tables. */
  readonly database: string;
  /** clickhouse.cluster when set: `<database>` holds Distributed tables over `<database>_local` (cluster.ts). */
  readonly cluster?: string | undefined;
  /** The underlying @clickhouse/client, for streaming cases this wrapper does not cover. */
  readonly client: ClickHouseClient;
  /** Detected once (SELECT version()) and cached. */
  capabilities(): Promise<Capabilities>;
  /** Rows of a SELECT (JSONEachRow). SqlFragments are rendered for this server (params or escaped literals). */
  queryRows<T>(query: SqlFragment | string, options?: RequestOptions): Promise<T[]>;
  /** A statement without a result: DDL, ALTER, INSERT … SELECT. */
  command(query: SqlFragment | string, options?: RequestOptions): Promise<void>;
  /** Inserts rows with JSONEachRow into `<database>.<table>`; the column list names every key (no silent defaults). */
  insertJson(tableName: TableName, rows: readonly Record<string, unknown>[], options?: RequestOptions & { columns?: readonly string[] }): Promise<void>;
  /**
   * Inserts rows with RowBinary (row-binary.ts) into `<database>.<table>`, columns in this order with
   * their types. Only where `binaryInserts` is true.
   */
  insertRowBinary(tableName: TableName, rows: readonly Record<string, unknown>[], columns: readonly RowBinaryColumn[], options?: RequestOptions): Promise<void>;
  /**
   * clickhouse.insert_format is row_binary and requests go over HTTP: a custom connection (chDB's)
   * passes request bodies on as text, which binary rows would not survive.
   */
  readonly binaryInserts: boolean;
  /** True when the server answers `SELECT 1` with these credentials. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Settings sent with every request. Chosen to work on every server from 18.16 on:
 * - max_execution_time: the server stops a runaway query (config clickhouse.max_execution_time_s).
 * - wait_end_of_query=1 (SELECTs): the server buffers the result before answering, so an exception
 *   raised mid-query comes back as an HTTP error with its code, not as text appended to a 200
 *   response (which 18.16 does without it, and which a JSON parser then chokes on).
 * - send_progress_in_http_headers is left off: 18.16 accepts it, but headers then grow with the
 *   query's duration (Node's 16 KB header limit), and our queries are short.
 * - enable_http_compression is sent only when compression is on (readonly=1 users may not send
 *   any setting: the reader account is readonly=2 for that reason, see deploy/clickhouse).
 * - insert_distributed_sync=1 and load_balancing=in_order with clickhouse.cluster (see below).
 * Server-side query parameters are never sent to servers without caps.queryParams (18.16 rejects
 * `param_*` as unknown settings, code 115): the SQL builder inlines escaped literals there.
 */
export function baseSettings(config: ClickHouseConfig): ClickHouseSettings {
  // A cluster's tables are Distributed: an insert returns only once every shard holds its rows, so
  // ingest commits Kafka offsets for stored events, not for rows queued on one server (docs/scaling.md).
  // in_order: inserts and reads go to the same (first healthy) replica of each shard. With the default
  // random choice, a read could land on the peer that has not yet fetched a just-stored part, so one
  // query showed 3,000 events and the next 1,880.
  return {
    max_execution_time: config.max_execution_time_s,
    ...(config.cluster ? { insert_distributed_sync: 1 as const, load_balancing: 'in_order' as const } : {}),
  };
}

export function createClickHouse(config: ClickHouseConfig, deps: ClickHouseDeps): ClickHouse {
  const component = deps.component ?? 'clickhouse';
  const log = deps.logger.child({ component });
  if (config.ca_file && !config.url.startsWith('https:'))
    throw new AuditstreamError('CONFIG_INVALID', 'clickhouse.ca_file is set but clickhouse.url is not https://: the CA would never be used', {
      field: 'clickhouse.url',
    });
  const password = config.password_file ? readConfigFile(config.password_file, 'clickhouse.password_file', 'utf8').replace(/\r?\n$/, '') : config.password;
  const gzip = compressionOn(config);
  const clientLogger = log.child({ module: '@clickhouse/client' });
  // The client's own logs include query text and parameters: only module and message are kept.
  class ClientLog {
    trace() {}
    debug() {}
    info() {}
    warn(p: { module: string; message: string }) {
      clientLogger.warn({ client_module: p.module }, p.message.slice(0, 300));
    }
    error(p: { module: string; message: string }) {
      clientLogger.debug({ client_module: p.module }, p.message.slice(0, 300));
    }
  }
  const client = createClient({
    url: config.url,
    username: config.username,
    password,
    // The database is named in every statement; the connection stays on `default` so that
    // `migrate` can create the database it is about to use.
    request_timeout: config.request_timeout_ms,
    max_open_connections: config.max_open_connections,
    // gzip level 1 for request bodies: on a 500k-row insert over loopback the default level halved
    // throughput (34k vs 60k rows/s uncompressed); level 1 keeps most of the size win for a fraction of the CPU.
    // Without compression, bodies still go in a gzip frame, level 0 (stored blocks: a copy and a CRC):
    // ClickHouse 18.16 stores the rows it parsed from a plain body that ends early at a row boundary (a
    // killed ingest's socket is closed with a FIN), while a gzip frame cut short fails whole
    // (test/integration/insert-cut.test.ts).
    compression: { request: { codec: 'gzip', level: gzip ? 1 : 0 }, response: gzip },
    // Below the server's keep_alive_timeout (3 s default before 23.11; 10 s in the local stack).
    keep_alive: { enabled: true, idle_socket_ttl: 2500 },
    clickhouse_settings: baseSettings(config),
    application: 'auditstream',
    log: { LoggerClass: ClientLog as never },
    ...(config.ca_file ? { tls: { ca_cert: readConfigFile(config.ca_file, 'clickhouse.ca_file') } } : {}),
    ...(deps.connection ? { connection: deps.connection as never } : {}),
  });

  const metrics = deps.metrics ? makeMetrics(deps.metrics) : undefined;
  let caps: Promise<Capabilities> | undefined = deps.capabilities ? Promise.resolve(deps.capabilities) : undefined;

  async function timed<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const end = metrics?.duration.startTimer({ op });
    try {
      const out = await fn();
      metrics?.requests.inc({ op, outcome: 'ok' });
      return out;
    } catch (err) {
      const e = classifyClickHouseError(err, { operation: op });
      metrics?.requests.inc({ op, outcome: errorType(e) });
      throw e;
    } finally {
      end?.();
    }
  }

  async function rendered(query: SqlFragment | string) {
    if (typeof query === 'string') return { query };
    return render(query, await api.capabilities());
  }

  /** An INSERT whose body is made a chunk at a time while it is sent (chunkStream). */
  async function streamInsert(
    tableName: TableName,
    quotedColumns: readonly string[],
    format: 'JSONEachRow' | 'RowBinary',
    chunk: (start: number, end: number) => Buffer,
    rowCount: number,
    options: RequestOptions,
  ): Promise<void> {
    const result = await client.exec({
      query: `INSERT INTO ${table(config.database, tableName).text} (${quotedColumns.join(', ')}) FORMAT ${format}`,
      values: chunkStream(rowCount, chunk),
      ...(options.settings ? { clickhouse_settings: options.settings } : {}),
      ...(options.abortSignal ? { abort_signal: options.abortSignal } : {}),
    });
    result.stream.resume();
    await finished(result.stream);
  }

  const api: ClickHouse = {
    database: config.database,
    cluster: config.cluster || undefined,
    client,
    capabilities() {
      if (!caps) {
        caps = detectCapabilities({ queryRows: (q) => api.queryRows(q, { operation: 'version' }) });
        caps.then(
          (c) => log.info({ version: c.version, switches: switchesOf(c) }, 'ClickHouse capabilities detected'),
          () => {
            caps = undefined; // retry detection on the next call
          },
        );
      }
      return caps;
    },
    async queryRows<T>(query: SqlFragment | string, options: RequestOptions = {}): Promise<T[]> {
      const op = options.operation ?? 'query';
      return timed(op, async () => {
        const r = await rendered(query);
        const rs = await client.query({
          query: r.query,
          format: 'JSONEachRow',
          ...(r.query_params ? { query_params: r.query_params } : {}),
          clickhouse_settings: { wait_end_of_query: 1, ...options.settings },
          ...(options.abortSignal ? { abort_signal: options.abortSignal } : {}),
        });
        return (await rs.json()) as T[];
      });
    },
    async command(query: SqlFragment | string, options: RequestOptions = {}): Promise<void> {
      const op = options.operation ?? 'command';
      await timed(op, async () => {
        const r = await rendered(query);
        await client.command({
          query: r.query,
          ...(r.query_params ? { query_params: r.query_params } : {}),
          clickhouse_settings: { wait_end_of_query: 1, ...options.settings },
          ...(options.abortSignal ? { abort_signal: options.abortSignal } : {}),
        });
      });
    },
    async insertJson(tableName, rows, options = {}) {
      checkTable(tableName);
      if (rows.length === 0) return;
      const op = options.operation ?? `insert_${tableName}`;
      const columns = options.columns ?? Object.keys(rows[0] as object);
      const quoted = columns.map((c) => `\`${checkColumn(c)}\``) as [string, ...string[]];
      await timed(op, async () => {
        // Every body is gzip-framed (level 0 without compression, above): ClickHouse stores the rows it
        // parsed from a plain body cut short (a row that fails to encode, an abort), while a cut gzip
        // stream fails to decompress and stores nothing.
        if (rows.length >= STREAM_MIN_ROWS) {
          // Large batches (ingest's): the rows the client's insert() sends (JSON.stringify of each), made
          // a chunk at a time while it is sent rather than as one string of the whole batch first:
          // ~20 % less CPU per row and no batch-sized string for the GC.
          await streamInsert(tableName, quoted, 'JSONEachRow', (start, end) => jsonEachRowChunk(rows, start, end), rows.length, options);
          return;
        }
        await client.insert({
          table: table(config.database, tableName).text,
          values: rows as Record<string, unknown>[],
          format: 'JSONEachRow',
          columns: quoted,
          ...(options.settings ? { clickhouse_settings: options.settings } : {}),
          ...(options.abortSignal ? { abort_signal: options.abortSignal } : {}),
        });
      });
      metrics?.rows.inc({ table: tableName }, rows.length);
    },
    binaryInserts: config.insert_format === 'row_binary' && deps.connection === undefined,
    async insertRowBinary(tableName, rows, columns, options = {}) {
      checkTable(tableName);
      if (rows.length === 0) return;
      const op = options.operation ?? `insert_${tableName}`;
      const encode = rowBinaryEncoder(columns);
      const quoted = columns.map((c) => `\`${checkColumn(c.name)}\``);
      await timed(op, async () => {
        // gzip-framed like every body (see insertJson): a body cut short stores nothing.
        await streamInsert(tableName, quoted, 'RowBinary', (start, end) => encode(rows, start, end), rows.length, options);
      });
      metrics?.rows.inc({ table: tableName }, rows.length);
    },
    async ping() {
      try {
        await api.queryRows('SELECT 1 AS ok', { operation: 'ping' });
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await client.close();
    },
  };
  return api;
}

/**
 * Whether HTTP bodies are gzipped (clickhouse.compression). `auto`: not on loopback, where
 * compressing costs both processes CPU (ingest's gzip, the server's gunzip) and saves no network.
 */
export function compressionOn(config: Pick<ClickHouseConfig, 'compression' | 'url'>): boolean {
  if (config.compression !== 'auto') return config.compression === 'gzip';
  const host = new URL(config.url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return !(host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host));
}

/** insertJson streams batches of at least this many rows (see jsonEachRowStream); smaller ones go through the client's insert(). */
export const STREAM_MIN_ROWS = 1000;
const STREAM_CHUNK_ROWS = 256;

/**
 * A request body made STREAM_CHUNK_ROWS rows at a time, each chunk when the request reads it, so
 * no batch-sized string or buffer is held. A chunk that cannot be encoded (a BigInt for JSON, a
 * value of the wrong type for RowBinary) fails the stream, and with it the request: nothing stored.
 */
function chunkStream(rowCount: number, chunk: (start: number, end: number) => Buffer): Readable {
  let i = 0;
  return new Readable({
    read() {
      if (i >= rowCount) {
        this.push(null);
        return;
      }
      const end = Math.min(rowCount, i + STREAM_CHUNK_ROWS);
      let bytes: Buffer;
      try {
        bytes = chunk(i, end);
      } catch (err) {
        this.destroy(err as Error);
        return;
      }
      i = end;
      this.push(bytes);
    },
  });
}

/**
 * JSONEachRow text of rows[start, end): ONE JSON.stringify of the rows as an array, without the
 * brackets in the encoded bytes ('[' cut, ']' overwritten by a newline): rows separated by commas,
 * which JSONEachRow reads like newlines (18.16 on). V8 writes the chunk as one flat string, where a
 * string per row joined with `+=` made a tree of 2 × 256 strings that the UTF-8 encoding then had to flatten.
 */
function jsonEachRowChunk(rows: readonly Record<string, unknown>[], start: number, end: number): Buffer {
  const bytes = Buffer.from(JSON.stringify(rows.slice(start, end)), 'utf8');
  // '[' and ']' are one byte each, the first and the last: the chunk is the bytes between, and a newline.
  bytes[bytes.length - 1] = 0x0a;
  return bytes.subarray(1);
}

function checkTable(tableName: string): void {
  if (!(TABLES as readonly string[]).includes(tableName))
    throw new AuditstreamError('SQL_IDENTIFIER', `table "${String(tableName).slice(0, 64)}" is not an audit table`, { field: 'table' });
}

function checkColumn(c: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(c)) throw new AuditstreamError('SQL_IDENTIFIER', 'column name is not a plain identifier', { field: 'columns' });
  return c;
}

function switchesOf(c: Capabilities): string {
  return Object.entries(c)
    .filter(([k, v]) => typeof v === 'boolean' && k !== 'version')
    .map(([k, v]) => `${k}=${v ? 'on' : 'off'}`)
    .join(' ');
}

interface Metrics {
  requests: Counter<'op' | 'outcome'>;
  duration: Histogram<'op'>;
  rows: Counter<'table'>;
}

// One set of metric objects per registry: several ClickHouse handles may share a registry.
const metricsByRegistry = new WeakMap<Registry, Metrics>();
function makeMetrics(registry: Registry): Metrics {
  const existing = metricsByRegistry.get(registry);
  if (existing) return existing;
  const m: Metrics = {
    requests: new Counter({
      name: 'auditstream_clickhouse_requests_total',
      help: 'ClickHouse requests by operation and outcome (ok or the AuditstreamError code).',
      labelNames: ['op', 'outcome'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'auditstream_clickhouse_request_duration_seconds',
      help: 'ClickHouse request duration by operation.',
      labelNames: ['op'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    rows: new Counter({
      name: 'auditstream_clickhouse_inserted_rows_total',
      help: 'Rows inserted into ClickHouse by table.',
      labelNames: ['table'],
      registers: [registry],
    }),
  };
  metricsByRegistry.set(registry, m);
  return m;
}
