import { AuditstreamError, TRANSIENT_NODE_CODES } from '@auditstream/core';

/**
 * The one place that turns whatever @clickhouse/client throws into an AuditstreamError.
 *
 * Codes (the `code` of the AuditstreamError, bounded: safe as a metrics label):
 * - CLICKHOUSE_UNAVAILABLE  retriable: connection refused/reset, socket hang-up, overload, 5xx without a code
 * - CLICKHOUSE_TIMEOUT      retriable: client request timeout or server TIMEOUT_EXCEEDED
 * - CLICKHOUSE_AUTH         not retriable: authentication failed (unknown user, wrong password, IP not allowed)
 * - CLICKHOUSE_DENIED       not retriable: authenticated but not allowed (readonly, allow_ddl=0, database access, GRANT)
 * - CLICKHOUSE_DATA         not retriable: the rows themselves are bad (type/parse errors); ingest dead-letters them
 * - CLICKHOUSE_SCHEMA       not retriable: a table, column or database is missing (run `auditstream migrate`)
 * - CLICKHOUSE_QUERY        not retriable: anything else the server rejected (a bug in our SQL, unsupported feature)
 * - CLICKHOUSE_ABORTED      not retriable: the caller aborted the request
 *
 * Old servers (18.16) answer errors as `Code: 27, e.displayText() = DB::Exception: …` with no
 * `(TYPE_NAME)` suffix and no X-ClickHouse-Exception-Code header, so @clickhouse/client cannot parse
 * them into a ClickHouseError: the numeric code is read from the message here, for every version.
 *
 * Messages never include the server's text for data errors: ClickHouse quotes the offending
 * input there (`expected " before: <payload>`). The column at fault is kept in `field`.
 */
export const CLICKHOUSE_ERROR_CODES = [
  'CLICKHOUSE_UNAVAILABLE',
  'CLICKHOUSE_TIMEOUT',
  'CLICKHOUSE_AUTH',
  'CLICKHOUSE_DENIED',
  'CLICKHOUSE_DATA',
  'CLICKHOUSE_SCHEMA',
  'CLICKHOUSE_QUERY',
  'CLICKHOUSE_ABORTED',
  // Raised by this package's own checks, not by the server:
  'QUERY_INVALID', // a query's parameters are invalid (time range, tenant, limit)
  'RETENTION', // a retention setting the tables cannot take
  'SQL_IDENTIFIER', // an identifier that is not safe to splice into SQL
  'SQL_PARAM', // a query parameter of an unsupported type
  'CLICKHOUSE_CLUSTER_DDL', // clickhouse.cluster: a migration statement the cluster rewriter does not know (cluster.ts)
] as const;
export type ClickHouseErrorCode = (typeof CLICKHOUSE_ERROR_CODES)[number];

/** Server exception codes (ErrorCodes.cpp) by class. */
const AUTH = new Set([192, 193, 194, 195, 516]); // UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, IP_ADDRESS_NOT_ALLOWED, AUTHENTICATION_FAILED
const DENIED = new Set([164, 291, 392, 452, 497]); // READONLY, DATABASE_ACCESS_DENIED, QUERY_IS_PROHIBITED, SETTING_CONSTRAINT_VIOLATION, ACCESS_DENIED
const DATA = new Set([
  6, // CANNOT_PARSE_TEXT
  25, // CANNOT_PARSE_ESCAPE_SEQUENCE
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  32, // ATTEMPT_TO_READ_AFTER_EOF (truncated row)
  33, // CANNOT_READ_ALL_DATA
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  53, // TYPE_MISMATCH
  62, // SYNTAX_ERROR (row formats that parse expressions)
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  131, // TOO_LARGE_STRING_SIZE
  190, // SIZES_OF_ARRAYS_DOESNT_MATCH
  321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  349, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
  376, // CANNOT_PARSE_UUID
  377, // ILLEGAL_SYNTAX_FOR_DATA_TYPE
  407, // DECIMAL_OVERFLOW
  457, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE (newer numbering)
  691, // UNKNOWN_ELEMENT_OF_ENUM
]);
const SCHEMA = new Set([16, 47, 60, 81]); // NO_SUCH_COLUMN_IN_TABLE, UNKNOWN_IDENTIFIER, UNKNOWN_TABLE, UNKNOWN_DATABASE
const TIMEOUT = new Set([159, 160, 209]); // TIMEOUT_EXCEEDED, TOO_SLOW, SOCKET_TIMEOUT
const UNAVAILABLE = new Set([
  3, // UNEXPECTED_END_OF_FILE
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  203, // NO_FREE_CONNECTION
  210, // NETWORK_ERROR
  225, // NO_ZOOKEEPER (a replicated table started while ZooKeeper was away)
  236, // ABORTED
  241, // MEMORY_LIMIT_EXCEEDED
  242, // TABLE_IS_READ_ONLY
  252, // TOO_MANY_PARTS
  279, // ALL_CONNECTION_TRIES_FAILED (a Distributed insert found no replica of a shard up)
  319, // UNKNOWN_STATUS_OF_INSERT
  394, // QUERY_WAS_CANCELLED
  425, // SYSTEM_ERROR
  473, // DEADLOCK_AVOIDED
  999, // KEEPER_EXCEPTION
]);
// 242, 999 and 225 are what replicated tables answer while ZooKeeper is away (session expired,
// connection loss): the rows are fine and the insert succeeds once it is back, so never dead-letter.
// test/cluster/zookeeper-restart.cluster-test.ts restarts ZooKeeper under ingest.

// Beyond core's transient codes: a host name that does not resolve (yet: a container starting)
// and a response cut off mid-stream.
const NETWORK_CODES = new Set([...TRANSIENT_NODE_CODES, 'ENOTFOUND', 'ERR_STREAM_PREMATURE_CLOSE']);

export interface ClassifyContext {
  /** What we were doing, for the message: `insert into events`, `query`, `migration 001_events`. */
  operation?: string;
}

/** The ClickHouse exception code in an error or its message, when there is one. */
export function clickhouseCode(err: unknown): number | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e.code === 'string' && /^\d+$/.test(e.code)) return Number(e.code);
  if (typeof e.code === 'number') return e.code;
  if (typeof e.message === 'string') {
    const m = /(?:^|\s)Code: (\d+)[.,]/.exec(e.message);
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** `(while read the value of key <col>)` / `(in column <col>)`: the column at fault, never its value. */
function columnAtFault(message: string): string | undefined {
  const m = /value of key ([A-Za-z_][A-Za-z0-9_.]*)/.exec(message) ?? /column ['`"]?([A-Za-z_][A-Za-z0-9_.]*)/.exec(message);
  return m?.[1];
}

export function classifyClickHouseError(err: unknown, ctx: ClassifyContext = {}): AuditstreamError {
  if (err instanceof AuditstreamError) return err;
  const op = ctx.operation ?? 'request';
  const message = err instanceof Error ? err.message : String(err);
  const code = clickhouseCode(err);

  if (code !== undefined) {
    const details = { clickhouse_code: code };
    if (AUTH.has(code)) return new AuditstreamError('CLICKHOUSE_AUTH', `ClickHouse rejected the credentials (code ${code}) during ${op}`, { details });
    if (DENIED.has(code))
      return new AuditstreamError('CLICKHOUSE_DENIED', `ClickHouse denied ${op} for this account (code ${code}): ${firstClause(message)}`, {
        cause: err,
        details,
      });
    // 18.16 reports an unknown Enum element as LOGICAL_ERROR (49). A syntax error (62) is about the
    // rows only while inserting them; in any other statement it is a bug in our SQL.
    const inserting = /^insert/i.test(op);
    if ((DATA.has(code) && (code !== 62 || inserting)) || (code === 49 && /Unknown element/.test(message))) {
      const field = columnAtFault(message);
      return new AuditstreamError('CLICKHOUSE_DATA', `ClickHouse could not parse a row (code ${code}${field ? `, column ${field}` : ''}) during ${op}`, {
        details,
        ...(field ? { field } : {}),
      });
    }
    if (SCHEMA.has(code))
      return new AuditstreamError(
        'CLICKHOUSE_SCHEMA',
        `ClickHouse schema mismatch during ${op} (code ${code}): ${firstClause(message)}; run \`auditstream migrate\``,
        {
          cause: err,
          details,
        },
      );
    if (TIMEOUT.has(code))
      return new AuditstreamError('CLICKHOUSE_TIMEOUT', `ClickHouse timed out during ${op} (code ${code})`, { retriable: true, cause: err, details });
    if (UNAVAILABLE.has(code))
      return new AuditstreamError('CLICKHOUSE_UNAVAILABLE', `ClickHouse is unavailable or overloaded during ${op} (code ${code})`, {
        retriable: true,
        cause: err,
        details,
      });
    return new AuditstreamError('CLICKHOUSE_QUERY', `ClickHouse rejected ${op} (code ${code}): ${firstClause(message)}`, { cause: err, details });
  }

  const nodeCode = err && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  if (typeof nodeCode === 'string' && NETWORK_CODES.has(nodeCode))
    return new AuditstreamError('CLICKHOUSE_UNAVAILABLE', `ClickHouse is unreachable (${nodeCode}) during ${op}`, { retriable: true, cause: err });
  if (/^Timeout error/i.test(message) || /timed? ?out/i.test(message))
    return new AuditstreamError('CLICKHOUSE_TIMEOUT', `ClickHouse request timed out during ${op}`, { retriable: true, cause: err });
  if (/aborted a request|AbortError|The operation was aborted/i.test(message) || (err as Error)?.name === 'AbortError')
    return new AuditstreamError('CLICKHOUSE_ABORTED', `ClickHouse ${op} was aborted`, { cause: err });
  if (/socket hang up|ECONNRESET|other side closed|premature close|Service Unavailable|Bad Gateway|Gateway Time-?out|\b50[0234]\b/i.test(message))
    return new AuditstreamError('CLICKHOUSE_UNAVAILABLE', `ClickHouse connection failed during ${op}`, { retriable: true, cause: err });
  if (/Unexpected token|is not valid JSON|Unexpected end of JSON/i.test(message))
    // A response body that is not the format asked for: an exception written mid-stream by a server
    // that had already sent 200 (only without wait_end_of_query), or a proxy's error page.
    return new AuditstreamError('CLICKHOUSE_UNAVAILABLE', `ClickHouse returned an unreadable response during ${op}`, { retriable: true, cause: err });
  return new AuditstreamError('CLICKHOUSE_QUERY', `ClickHouse ${op} failed`, { cause: err });
}

/** The server message up to its first `:` detail, without the e.what()/stack noise of old servers. */
function firstClause(message: string): string {
  const m = /DB::Exception: ([^\n]*?)(?:, e\.what\(\)|\s\(version|\. \(|$)/.exec(message);
  const text = (m?.[1] ?? message).split('\n')[0] ?? '';
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
