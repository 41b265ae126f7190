/**
 * Every code `auditstream bench` raises as an AuditstreamError: the closed list (codes are metrics labels
 * and are named by tests and docs, so they are never renamed). Codes every package may raise
 * (`CORE_ERROR_CODES`) and codes of the packages this one builds on are not repeated here;
 * test/deploy/error-codes.test.ts checks that each code raised here is listed.
 */
export const BENCH_ERROR_CODES = [
  'BENCH_INVALID',
  'BENCH_LIMIT',
  'BENCH_STACK',
  'BENCH_CHILD',
  'BENCH_COLLECTOR',
  'BENCH_QUERY',
  'BENCH_CLICKHOUSE_CLIENT',
  'BENCH_ANCHOR',
  'BENCH_TIMEOUT',
  'BENCH_ABORTED',
  'BENCH_FAILED',
  /** `--cluster`: a side failed its exactly-once check (stored count, duplicate alert, differing incidents). */
  'BENCH_CHECK',
] as const;
export type BenchErrorCode = (typeof BENCH_ERROR_CODES)[number];
