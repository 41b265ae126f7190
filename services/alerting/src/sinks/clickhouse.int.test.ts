import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ClickHouse, createClickHouse, migrate } from '@auditstream/clickhouse';
import { loadConfig } from '@auditstream/config';
import { uniqueName } from '@auditstream/core';
import { createLogger } from '@auditstream/observability';
import { mergeFully } from '@auditstream/test';
import { alertingConfigSchema } from '../config.js';
import { T, testAlert } from './alert.test-helper.js';
import { createClickHouseSink } from './clickhouse.js';
import { buildSinks } from './registry.js';

// The ClickHouse alert sink against the real ClickHouse (a database of its own, migrated): each
// alert is one row of `alerts` as the API reads it (FINAL), however often it is delivered.
const database = uniqueName('alert_sink_db');
const cfg = loadConfig(alertingConfigSchema, {
  env: {
    ...process.env,
    AUDITSTREAM_CLICKHOUSE__DATABASE: database,
    AUDITSTREAM_ALERTING__SINKS__KAFKA__ENABLED: 'false',
    AUDITSTREAM_ALERTING__SINKS__CLICKHOUSE__ENABLED: 'true',
  },
});
let ch: ClickHouse;
const signal = new AbortController().signal;
const DAY = 86_400_000;

before(async () => {
  ch = createClickHouse(cfg.clickhouse, { logger: createLogger({ service: 'alert-sink-test', level: 'silent' }) });
  await migrate(ch, { database });
});
after(async () => {
  await ch.command(`DROP DATABASE IF EXISTS ${database}`).catch(() => undefined);
  await ch.close();
});

interface Row {
  alert_id: string;
  tenant_id: string;
  rule_id: string;
  severity: string;
  status: string;
  title: string;
  details: string;
  event_ids: string[];
  fired: string;
  updated: string;
}
const rows = (alertId: string) =>
  ch.queryRows<Row>(
    `SELECT alert_id, tenant_id, rule_id, toString(severity) AS severity, toString(status) AS status, title, details, event_ids,
            toString(fired_at) AS fired, toString(updated_at) AS updated
     FROM ${database}.alerts FINAL WHERE alert_id = '${alertId}'`,
  );
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

test('clickhouse sink: enabled by config, it stores an alert as the row the API and the console read', async () => {
  const built = await buildSinks(cfg.alerting.sinks, {
    topics: { alerts: 'not-used' },
    encodeAlert: () => Buffer.alloc(0),
    producer: () => Promise.reject(new Error('the clickhouse sink needs no producer')),
    clickhouse: () => ch,
  });
  assert.deepEqual(
    built.map((b) => b.sink.name),
    ['clickhouse'],
  );
  const alert = testAlert({ alert_id: uniqueName('a'), group: { tenant_id: 'acme', 'actor.id': 'alice', 'actor.ip': '10.0.0.9' }, details: { window: '60s' } });
  await built[0]?.sink.send({ kind: 'fired', alert }, signal);
  const [row, ...more] = await rows(alert.alert_id);
  assert.equal(more.length, 0);
  assert.ok(row);
  assert.deepEqual(
    { ...row, details: JSON.parse(row.details) },
    {
      alert_id: alert.alert_id,
      tenant_id: 'acme',
      rule_id: 'brute_force',
      severity: 'high',
      status: 'firing',
      title: 'Brute-force login attempts',
      details: {
        window: '60s',
        group_key: 'tenant_id=acme&actor.id=alice',
        rule_name: 'Brute-force login attempts',
        rule_type: 'threshold',
        summary: '6 failed logins for alice <script>',
        count: 6,
        version: 0,
        window_start: new Date(T).toISOString(),
        window_end: new Date(T + 50_000).toISOString(),
        actor_id: 'alice',
        source_ip: '10.0.0.9',
      },
      event_ids: ['e1', 'e2'],
      fired: iso(T + 51_000),
      updated: iso(T + 51_000),
    },
  );
});

test('clickhouse sink: redelivery, a re-fire after a restart (new wall clock, another day) and updates leave one row per alert', async () => {
  const alert = testAlert({ alert_id: uniqueName('a') });
  const first = createClickHouseSink({ ch, send_updates: true });
  await first.send({ kind: 'fired', alert }, signal);
  await first.send({ kind: 'fired', alert }, signal);
  // A new process (nothing in memory) fires the same incident again two days later, as the replay
  // does when the crash came between this sink's write and the alerts topic's.
  const restarted = createClickHouseSink({ ch, send_updates: true });
  await restarted.send({ kind: 'fired', alert: { ...alert, fired_at: T + 2 * DAY, updated_at: T + 2 * DAY } }, signal);
  let got = await rows(alert.alert_id);
  assert.equal(got.length, 1);
  assert.equal(got[0]?.fired, iso(T + 51_000), 'the first firing time stays');
  assert.equal(got[0]?.updated, iso(T + 2 * DAY));

  await restarted.send(
    { kind: 'updated', alert: { ...alert, count: 9, version: 1, sample_event_ids: ['e1', 'e2', 'e3'], updated_at: T + 2 * DAY + 5000 } },
    signal,
  );
  got = await rows(alert.alert_id);
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]?.event_ids, ['e1', 'e2', 'e3']);
  assert.equal(JSON.parse(got[0]?.details ?? '{}').count, 9);
  assert.equal(got[0]?.updated, iso(T + 2 * DAY + 5000));
  // Unmerged parts hold every write; FINAL (what GET /v1/alerts uses) shows one, and so does a merge.
  await mergeFully(ch, database, 'alerts');
  const [n] = await ch.queryRows<{ n: string }>(`SELECT count() AS n FROM ${database}.alerts WHERE alert_id = '${alert.alert_id}'`);
  assert.equal(Number(n?.n), 1);
});

test('clickhouse sink: enabled without a ClickHouse client, the service refuses to start', async () => {
  await assert.rejects(
    buildSinks(cfg.alerting.sinks, { topics: { alerts: 'x' }, encodeAlert: () => Buffer.alloc(0), producer: () => Promise.reject(new Error('unused')) }),
    (e: Error & { code?: string }) => e.code === 'CONFIG_INVALID',
  );
});
