// The anchor: ClickHouse's own Kafka table engine with a materialized view, ingesting the same
// events (the rows ingest stored, one JSONEachRow message each, on a second topic) into an
// identically migrated database. Pre-produced like ours; timed from CREATE of the view (the
// engine starts consuming then) until uniqExact(event_id) = N.
//
// ClickHouse 18.16's Kafka engine reads from the group's committed offsets and otherwise from
// the end of the topic (librdkafka's default auto.offset.reset=largest; 18.16 has no setting for
// it): the benchmark commits offset 0 for its group first, so the backlog is read from the start.
// Avro input needs ClickHouse ≥ 20.x; on 18.16 the anchor uses JSONEachRow (recorded as anchor_format).
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { AuditstreamError } from '@auditstream/core';
import type { AppConfig, RunEnv } from '../env.js';
import { perSecond } from '../stats.js';
import { waitStored } from './stored.js';

export interface AnchorResult {
  anchor_events_per_s: number;
  anchor_seconds: number;
  anchor_format: string;
}

async function produceLines(env: RunEnv, file: string): Promise<number> {
  const producer = env.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  let n = 0;
  try {
    let batch: { value: string }[] = [];
    const pending: Promise<unknown>[] = [];
    for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })) {
      if (!line) continue;
      batch.push({ value: line });
      n++;
      if (batch.length === 1000) {
        pending.push(producer.send({ topic: env.topics.anchor, acks: -1, messages: batch }));
        batch = [];
        if (pending.length >= 5) await Promise.all(pending.splice(0));
      }
    }
    if (batch.length) pending.push(producer.send({ topic: env.topics.anchor, acks: -1, messages: batch }));
    await Promise.all(pending);
  } finally {
    await producer.disconnect();
  }
  return n;
}

export async function runAnchor(
  env: RunEnv,
  config: AppConfig,
  opts: { rowsFile: string; events: number; partitions: number; pollMs: number; timeoutMs: number },
): Promise<AnchorResult> {
  const produced = await produceLines(env, opts.rowsFile);
  if (produced !== opts.events) throw new AuditstreamError('BENCH_ANCHOR', `the rows file holds ${produced} rows, expected ${opts.events}`, {});
  const admin = env.kafka.admin();
  await admin.connect();
  try {
    await admin.setOffsets({
      groupId: env.groups.anchor,
      topic: env.topics.anchor,
      partitions: Array.from({ length: opts.partitions }, (_, partition) => ({ partition, offset: '0' })),
    });
  } finally {
    await admin.disconnect();
  }
  const db = env.anchorDatabase;
  const brokers = config.kafka.brokers.join(',');
  await env.ch.command(
    `CREATE TABLE ${db}.anchor_queue AS ${db}.events ENGINE = Kafka SETTINGS kafka_broker_list = '${brokers}', kafka_topic_list = '${env.topics.anchor}', kafka_group_name = '${env.groups.anchor}', kafka_format = 'JSONEachRow'`,
  );
  const t0 = Date.now();
  await env.ch.command(`CREATE MATERIALIZED VIEW ${db}.anchor_mv TO ${db}.events AS SELECT * FROM ${db}.anchor_queue`);
  const t = await waitStored({
    ch: env.ch,
    database: db,
    n: opts.events,
    exact: async () => {
      const [r] = await env.ch.queryRows<{ n: string }>(`SELECT uniqExact(event_id) AS n FROM ${db}.events`);
      return Number(r?.n ?? 0);
    },
    pollMs: opts.pollMs,
    deadline: t0 + opts.timeoutMs,
    what: 'the Kafka engine',
  });
  const ms = t.at - t0;
  // Stop consuming before the topic goes away.
  await env.ch.command(`DROP TABLE ${db}.anchor_mv`);
  await env.ch.command(`DROP TABLE ${db}.anchor_queue`);
  return { anchor_events_per_s: perSecond(opts.events, ms), anchor_seconds: ms / 1000, anchor_format: 'JSONEachRow' };
}
