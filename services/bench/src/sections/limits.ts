// The machine's limits for the same work, measured in the same run:
// - Kafka read: raw kafkajs consume-and-discard of the events topic (fresh group, ingest's fetch settings);
// - ClickHouse write: the rows ingest stored, exported in the format ingest inserts with
//   (clickhouse.insert_format) and inserted from the file by clickhouse-client into an identically
//   migrated, empty database.
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { fetchWaitMs } from '@auditstream/config';
import { AuditstreamError, uniqueName, withTimeout } from '@auditstream/core';
import type { AppConfig, RunEnv } from '../env.js';
import { perSecond } from '../stats.js';

export interface KafkaReadLimit {
  /** Steady read rate: messages after the first batch / (N-th message − first batch); group join excluded (the cold rate when that window is under 100 ms). */
  kafka_read_events_per_s: number;
  /** N / (consumer created → N-th message): connect and group join included, like the pipeline figure. */
  kafka_read_cold_events_per_s: number;
  kafka_read_seconds: number;
}

export async function kafkaReadLimit(env: RunEnv, config: AppConfig, events: number, timeoutMs: number): Promise<KafkaReadLimit> {
  const groupId = uniqueName('bench_read');
  const ing = config.ingest;
  const t0 = Date.now();
  const consumer = env.kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    minBytes: ing.fetch_min_bytes,
    maxBytes: ing.fetch_max_bytes,
    maxBytesPerPartition: ing.fetch_max_partition_bytes,
    maxWaitTimeInMs: fetchWaitMs(ing),
  });
  let seen = 0;
  let tFirst = 0;
  let nFirst = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => {
    done = r;
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [env.topics.events], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: ing.partitions_consumed_concurrently,
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        if (tFirst === 0) {
          tFirst = Date.now();
          nFirst = seen;
        }
        if (seen >= events) done();
      },
    });
    await withTimeout(finished, timeoutMs, () => {
      throw new AuditstreamError('BENCH_TIMEOUT', `raw consumer read ${seen} of ${events} within ${timeoutMs} ms`, {});
    });
    const tEnd = Date.now();
    const ms = tEnd - t0;
    return {
      // A small N can arrive in one or two fetches: too short a window for a steady rate; then the cold one.
      kafka_read_events_per_s: nFirst < events && tEnd - tFirst >= 100 ? perSecond(seen - nFirst, tEnd - tFirst) : perSecond(events, ms),
      kafka_read_cold_events_per_s: perSecond(events, ms),
      kafka_read_seconds: ms / 1000,
    };
  } finally {
    await consumer.disconnect().catch(() => {});
    const admin = env.kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect();
  }
}

/** clickhouse-client arguments for the configured server (native port from stack.clickhouse_tcp_port). */
export function clickhouseClientArgs(config: AppConfig): string[] {
  const host = new URL(config.clickhouse.url).hostname;
  const args = ['--host', host, '--port', String(config.stack.clickhouse_tcp_port), '--user', config.clickhouse.username];
  if (config.clickhouse.password) args.push('--password', config.clickhouse.password);
  return args;
}

function runClient(config: AppConfig, query: string, io: { stdin?: string; stdout?: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('clickhouse-client', [...clickhouseClientArgs(config), '--query', query], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => {
      err += String(d);
    });
    if (io.stdout) p.stdout.pipe(createWriteStream(io.stdout));
    else p.stdout.resume();
    if (io.stdin) createReadStream(io.stdin).pipe(p.stdin);
    else p.stdin.end();
    p.once('error', (cause) =>
      reject(new AuditstreamError('BENCH_CLICKHOUSE_CLIENT', 'cannot run clickhouse-client (is it on PATH?)', { cause, field: 'clickhouse-client' })),
    );
    p.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new AuditstreamError('BENCH_CLICKHOUSE_CLIENT', `clickhouse-client exited ${code}: ${err.slice(0, 500)}`, {}));
    });
  });
}

export interface ClickHouseWriteLimit {
  clickhouse_write_events_per_s: number;
  clickhouse_write_seconds: number;
  rows_file_bytes: number;
}

/** Exports the stored rows of the run's tenant to <dir>/rows.<ext> (JSONEachRow by default); returns the path. */
export async function exportRows(env: RunEnv, config: AppConfig, format: 'JSONEachRow' | 'RowBinary' = 'JSONEachRow'): Promise<string> {
  const file = join(env.dir, format === 'RowBinary' ? 'rows.bin' : 'rows.ndjson');
  // One row per event_id (ReplacingMergeTree may still hold a redelivered copy), in storage order.
  await runClient(config, `SELECT * FROM ${env.database}.events FINAL WHERE tenant_id = '${env.tenant}' FORMAT ${format}`, { stdout: file });
  return file;
}

/** `jsonRowsFile`: exportRows' JSONEachRow file, used as is when ingest inserts JSONEachRow. */
export async function clickhouseWriteLimit(env: RunEnv, config: AppConfig, jsonRowsFile: string, events: number): Promise<ClickHouseWriteLimit> {
  const format = config.clickhouse.insert_format === 'row_binary' ? 'RowBinary' : 'JSONEachRow';
  const rowsFile = format === 'RowBinary' ? await exportRows(env, config, format) : jsonRowsFile;
  const t0 = Date.now();
  await runClient(config, `INSERT INTO ${env.limitDatabase}.events FORMAT ${format}`, { stdin: rowsFile });
  const ms = Date.now() - t0;
  const [r] = await env.ch.queryRows<{ n: string }>(`SELECT count() AS n FROM ${env.limitDatabase}.events`);
  if (Number(r?.n) !== events) throw new AuditstreamError('BENCH_LIMIT', `clickhouse-client inserted ${r?.n} rows, expected ${events}`, {});
  return { clickhouse_write_events_per_s: perSecond(events, ms), clickhouse_write_seconds: ms / 1000, rows_file_bytes: statSync(rowsFile).size };
}
