// Attributes an ingest CPU profile to pipeline stages: each sample goes to the stage of the
// nearest frame on its stack that belongs to one (so JSON.stringify, zlib or the GC count for the
// code that ran them), else to the leaf's package.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type CpuProfileSummary, type ProfileFrame, profilePackage, readCpuProfile, summarizeCpuProfile } from '@auditstream/observability';

const STAGES: Array<[RegExp, string]> = [
  [/\/services\/ingest\/src\/pipeline\/source\.ts|\/kafkajs\//, 'kafka fetch (kafkajs: fetch, record batch decode)'],
  [/\/services\/ingest\/src\/pipeline\/decode\.ts|\/shared\/codec\/|\/avsc\//, 'decode (Avro)'],
  [/\/services\/ingest\/src\/pipeline\/validate\.ts|\/shared\/schemas\//, 'validate'],
  [/\/pipeline\/enrich\/geo(-file)?\.ts|\/geoip-lite\//, 'enrich: geo'],
  [/\/pipeline\/enrich\/useragent\.ts|\/ua-parser-js\//, 'enrich: user agent'],
  [/\/pipeline\/enrich\/redact\.ts/, 'enrich: redact'],
  [/\/pipeline\/enrich\//, 'enrich: other'],
  [/\/services\/ingest\/src\/integrity\.ts|\/shared\/integrity\//, 'hash chain + checkpoints'],
  [/\/services\/ingest\/src\/pipeline\/reuse\.ts|\/shared\/clickhouse\/src\/identity\.ts/, 'event_id reuse tracking'],
  [/\/services\/ingest\/src\/pipeline\/sink\.ts|\/shared\/clickhouse\/|\/@clickhouse\/client/, 'insert (row mapping, body encoding, gzip, HTTP)'],
  [/\/services\/ingest\/src\/pipeline\/(dlq|offsets)\.ts/, 'dlq + offsets'],
  [/\/services\/ingest\/src\/pipeline\/(batcher|process|pipeline)\.ts/, 'batching + pipeline control'],
  [/\/pino\/|\/shared\/observability\/|\/prom-client\//, 'logging + metrics'],
  [/\/tsx\/|\/esbuild\//, 'start-up (tsx transpile)'],
];

export function ingestStage(stack: readonly ProfileFrame[]): string {
  for (const f of stack) {
    if (!f.url) continue;
    for (const [re, stage] of STAGES) if (re.test(f.url)) return stage;
  }
  const leaf = stack[0];
  if (leaf?.functionName === '(garbage collector)') return 'gc (unattributed)';
  return `other: ${profilePackage(leaf?.url ?? '')}`;
}

/**
 * The main-thread profile of the newest ingest child in dir, summarised by stage, function and
 * package. Node writes one file per thread (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; tsx's
 * module loader runs in thread 1): the main thread is thread 0.
 */
export function summarizeIngestProfile(dir: string, top = 20): { file: string; summary: CpuProfileSummary } | undefined {
  const files = readdirSync(dir)
    .filter((f) => /^CPU\..*\.\d+\.0\.\d+\.cpuprofile$/.test(f))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  const file = files[0];
  if (!file) return undefined;
  return { file, summary: summarizeCpuProfile(readCpuProfile(file), { top, classify: ingestStage }) };
}
