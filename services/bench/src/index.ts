// @auditstream/bench: `auditstream bench` — throughput, latency and resources against the
// machine's limits and the ClickHouse Kafka engine, side by side.
export { type Bench, type BenchDeps, type BenchOptions, createBench } from './app.js';
export { BENCH_ERROR_CODES, type BenchErrorCode } from './error-codes.js';
export { ingestStage, summarizeIngestProfile } from './profile.js';
export { type BenchReport, formatTable, type MachineInfo, medians, type RunFigures, tableRows, withRatios } from './report.js';
