import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AlertDelivery, alertingSection, createAlerting } from '@auditstream/alerting';
import { createClickHouse } from '@auditstream/clickhouse';
import { createCodec } from '@auditstream/codec';
import { uniqueName } from '@auditstream/core';
import { clickhouseWriter, createIngest, detectLayout, integrityFromConfig } from '@auditstream/ingest';
import { deleteTopics } from '@auditstream/kafka';
import { createLogger, createMetricsRegistry } from '@auditstream/observability';
import { createTestEnv, quietLogger, type TestEnv } from '@auditstream/test';
import type { Registry } from 'prom-client';

/**
 * The real ingest and alerting in this process (their app.ts factories) over a test environment
 * of their own, alerts captured by an in-memory sink. Here rather than in test/kit: the kit is
 * what the service packages' own tests import, so it cannot import them.
 */
export interface InProcessPipeline {
  env: TestEnv;
  alertsTopic: string;
  /** Every alert delivered (fired and updates), in order. */
  delivered: AlertDelivery[];
  alertingRegistry: Registry;
  /** Stops both services, deletes the alerts topic and the rules, cleans the environment up. */
  stop(): Promise<void>;
}

export async function startPipeline(o: { name: string; partitions: number; rulesYaml: string }): Promise<InProcessPipeline> {
  const codec = createCodec();
  const env = await createTestEnv({ partitions: o.partitions });
  const alertsTopic = uniqueName(`${o.name}_alerts`);
  const delivered: AlertDelivery[] = [];
  const alertingRegistry = createMetricsRegistry({ service: `alerting-${o.name}-test` });
  const rulesDir = mkdtempSync(join(tmpdir(), `${o.name}-rules-`));
  const services: { stop(): Promise<unknown> }[] = [];
  const stop = async () => {
    for (const s of services.reverse()) await s.stop();
    try {
      await deleteTopics(env.kafka, [alertsTopic]);
    } finally {
      await env.cleanup();
      rmSync(rulesDir, { recursive: true, force: true });
    }
  };
  try {
    const admin = env.kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: alertsTopic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    writeFileSync(join(rulesDir, 'rules.yaml'), o.rulesYaml);
    const ch = createClickHouse(env.config.clickhouse, { logger: quietLogger() });
    const ingest = createIngest({
      config: env.config,
      logger: quietLogger(),
      registry: createMetricsRegistry({ service: `ingest-${o.name}-test` }),
      storage: { prepare: async () => clickhouseWriter(ch, await detectLayout(ch)), ping: () => ch.ping(), close: () => ch.close() },
      integrity: integrityFromConfig(env.config.integrity, ch),
      decoder: codec,
      observability: false,
    });
    const alerting = createAlerting({
      config: alertingSection.parse({
        rules_file: join(rulesDir, 'rules.yaml'),
        consumer_group: uniqueName(`alerting_${o.name}`),
        tick_interval_ms: 200,
        watch_rules: false,
        sinks: { kafka: { enabled: false } },
      }),
      kafka: env.kafka,
      topics: { events: env.topic, alerts: alertsTopic },
      registry: alertingRegistry,
      logger: createLogger({ service: `alerting-${o.name}-test`, level: 'warn' }),
      decodeEvent: (v) => codec.decodeSync(v) as never,
      maxMessageBytes: env.config.ingest.max_message_bytes,
      extraSinks: [
        {
          sink: { name: 'test', sendUpdates: true, send: async (d) => void delivered.push(d) },
          queue: { queue_size: 1000, max_attempts: 1, initial_delay_ms: 10, max_delay_ms: 10 },
        },
      ],
      observability: false,
    });
    await ingest.start();
    services.push(ingest);
    await alerting.start();
    services.push(alerting);
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  return { env, alertsTopic, delivered, alertingRegistry, stop };
}
