import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ClickHouse, createClickHouse, migrate } from '@auditstream/clickhouse';
import { configSchema, loadConfig } from '@auditstream/config';
import { uniqueName } from '@auditstream/core';
import { quietLogger } from '@auditstream/test';
import { listAlerts } from './alerts.js';

// Two alerting instances that store the same alert at once both miss the stored fired_at and
// write their own (each its wall clock): two row keys, on different days or in different
// partitions when the clocks straddle midnight, which FINAL never merges. The history still shows
// the alert once: first fired at the earliest, in its latest state. Against the real ClickHouse.

const database = uniqueName('api_alerts_db');
let ch: ClickHouse;

before(async () => {
  ch = createClickHouse({ ...loadConfig(configSchema, {}).clickhouse, database }, { logger: quietLogger() });
  await migrate(ch, { database });
});
after(async () => {
  await ch.command(`DROP DATABASE IF EXISTS ${database}`).catch(() => undefined);
  await ch.close();
});

const s = (iso: string) => Date.parse(iso) / 1000;
const row = (alertId: string, firedAt: number, updatedAt: number, extra: Record<string, unknown> = {}) => ({
  alert_id: alertId,
  tenant_id: 'acme',
  rule_id: 'rule-race',
  severity: 'high',
  status: 'firing',
  title: 'Race',
  details: JSON.stringify({ writer: firedAt }),
  event_ids: [`ev-${firedAt}`],
  fired_at: firedAt,
  updated_at: updatedAt,
  ...extra,
});

test('an alert written by two instances at once, with fired_at on either side of a month boundary, is listed once', async () => {
  const early = s('2026-01-31T23:59:59Z');
  const late = s('2026-02-01T00:00:01Z');
  // Concurrently, as the two instances do; an equal update time (the same re-fire), then a later update from one of them.
  await Promise.all([ch.insertJson('alerts', [row('al-race', early, late)]), ch.insertJson('alerts', [row('al-race', late, late)])]);
  await ch.insertJson('alerts', [row('al-other', late, late)]);
  const [raw] = await ch.queryRows<{ n: string }>(`SELECT count() AS n FROM ${database}.alerts FINAL WHERE alert_id = 'al-race'`);
  assert.equal(Number(raw?.n), 2, 'FINAL keeps both keys (the case this guards)');

  const query = { scope: { all: true } as const, from: BigInt(s('2026-01-01T00:00:00Z')) * 1_000_000n, to: BigInt(s('2026-03-01T00:00:00Z')) * 1_000_000n };
  const first = await listAlerts(ch, query, { limit: 10 });
  assert.deepEqual(
    first.alerts.map((a) => [a.alert_id, a.fired_at]),
    [
      ['al-other', BigInt(late) * 1_000_000n],
      ['al-race', BigInt(early) * 1_000_000n],
    ],
  );
  // On an equal update time, the state of the earliest firing's row: the same answer every time.
  assert.deepEqual(first.alerts[1]?.details, { writer: early });

  // A later update through the other key: the alert shows it, still first fired at the earliest.
  await ch.insertJson('alerts', [row('al-race', late, late + 60, { status: 'resolved' })]);
  const after1 = await listAlerts(ch, query, { limit: 10 });
  const race = after1.alerts.find((a) => a.alert_id === 'al-race');
  assert.deepEqual([race?.status, race?.fired_at, race?.updated_at], ['resolved', BigInt(early) * 1_000_000n, BigInt(late + 60) * 1_000_000n]);
  assert.equal(after1.alerts.length, 2);
  // Filters see the latest state; pages do not repeat the alert.
  assert.deepEqual(
    (await listAlerts(ch, { ...query, status: 'firing' }, { limit: 10 })).alerts.map((a) => a.alert_id),
    ['al-other'],
  );
  const page1 = await listAlerts(ch, query, { limit: 1 });
  const last = page1.alerts[0];
  assert.ok(last && page1.more);
  const page2 = await listAlerts(ch, query, { limit: 1, after: { t: last.fired_at, id: last.alert_id } });
  assert.deepEqual([last.alert_id, ...page2.alerts.map((a) => a.alert_id)], ['al-other', 'al-race']);
  assert.equal(page2.more, false);
});
