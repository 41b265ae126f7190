import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '@auditstream/config';
import { alertingConfigSchema } from '../config.js';
import { buildSinks, SINK_MODULES } from './registry.js';

const load = (env: Record<string, string>) => loadConfig(alertingConfigSchema, { env });
const rejects = (env: Record<string, string>, field: string) =>
  assert.throws(
    () => load(env),
    (err: { code?: string; field?: string }) => err.code === 'CONFIG_INVALID' && err.field === field,
    field,
  );

test('sink registry: each module names its section of alerting.sinks, with its defaults', () => {
  const names = SINK_MODULES.map((m) => m.name);
  assert.equal(new Set(names).size, names.length, 'names are unique');
  assert.deepEqual(
    names,
    ['alertmanager', 'clickhouse', 'json', 'kafka', 'slack', 'webhook'],
    'every module of sinks/ that calls defineSink, and nothing else',
  );
  const sinks = load({}).alerting.sinks as Record<string, { enabled: boolean; queue_size: number }>;
  assert.deepEqual(Object.keys(sinks), names);
  assert.equal(sinks.kafka?.enabled, true);
  assert.equal(sinks.json?.enabled, false);
  assert.equal(sinks.clickhouse?.enabled, false, 'off unless asked for: auditstream up asks for it');
  assert.equal(sinks.webhook?.queue_size, 1000);
  rejects({ AUDITSTREAM_ALERTING__SINKS__NOPE__ENABLED: 'true' }, 'alerting.sinks.nope.enabled');
});

test('an enabled sink needs its destination, checked when the config is parsed', () => {
  rejects({ AUDITSTREAM_ALERTING__SINKS__WEBHOOK__ENABLED: 'true', AUDITSTREAM_ALERTING__SINKS__WEBHOOK__SECRET: 's' }, 'alerting.sinks.webhook.url');
  rejects(
    { AUDITSTREAM_ALERTING__SINKS__WEBHOOK__ENABLED: 'true', AUDITSTREAM_ALERTING__SINKS__WEBHOOK__URL: 'http://h.test/' },
    'alerting.sinks.webhook.secret',
  );
  rejects({ AUDITSTREAM_ALERTING__SINKS__SLACK__ENABLED: 'true' }, 'alerting.sinks.slack.url');
  rejects({ AUDITSTREAM_ALERTING__SINKS__ALERTMANAGER__ENABLED: 'true' }, 'alerting.sinks.alertmanager.url');
  rejects({ AUDITSTREAM_ALERTING__SINKS__JSON__ENABLED: 'true' }, 'alerting.sinks.json.topic');
  load({ AUDITSTREAM_ALERTING__SINKS__SLACK__ENABLED: 'true', AUDITSTREAM_ALERTING__SINKS__SLACK__URL_FILE: '/run/secrets/slack' });
  load({ AUDITSTREAM_ALERTING__SINKS__ALERTMANAGER__ENABLED: 'false' });
});

test('buildSinks starts the enabled sinks in SINK_MODULES order (file names), with their queue options', async () => {
  const cfg = load({
    AUDITSTREAM_ALERTING__SINKS__KAFKA__ENABLED: 'false',
    AUDITSTREAM_ALERTING__SINKS__ALERTMANAGER__ENABLED: 'true',
    AUDITSTREAM_ALERTING__SINKS__ALERTMANAGER__URL: 'http://127.0.0.1:9093',
    AUDITSTREAM_ALERTING__SINKS__ALERTMANAGER__QUEUE_SIZE: '7',
    AUDITSTREAM_ALERTING__SINKS__WEBHOOK__ENABLED: 'true',
    AUDITSTREAM_ALERTING__SINKS__WEBHOOK__URL: 'http://127.0.0.1:1/hook',
    AUDITSTREAM_ALERTING__SINKS__WEBHOOK__SECRET: 's',
  });
  const built = await buildSinks(cfg.alerting.sinks, {
    topics: { alerts: 'unused' },
    encodeAlert: () => Buffer.alloc(0),
    producer: () => Promise.reject(new Error('no Kafka sink is enabled')),
  });
  assert.deepEqual(
    built.map((b) => [b.sink.name, b.queue.queue_size]),
    [
      ['alertmanager', 7],
      ['webhook', 1000],
    ],
  );
});
