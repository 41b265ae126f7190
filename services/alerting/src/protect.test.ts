import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { dataKey, type ResolvedKey, type SubjectKeyStore, subjectKey } from '@auditstream/crypto';
import { type Alert, alertId, encodeGroupKey } from './alert.js';
import { createAlertProtector } from './protect.js';

const FIELDS = ['actor.ip', 'attributes.*'];
const key = dataKey('kAlice', randomBytes(32));
let erased = false;
let down = false;
const store: SubjectKeyStore = {
  async keysFor(subjects) {
    if (down) throw Object.assign(new Error('ClickHouse down'), { code: 'CLICKHOUSE_UNAVAILABLE' });
    return new Map(subjects.filter((s) => s.subject === 'alice').map((s) => [subjectKey(s.tenant, s.subject), key]));
  },
  async resolve(ids) {
    return new Map(
      ids.map((id): [string, ResolvedKey] => [
        id,
        id === key.keyId && !erased ? { status: 'live', key, tenant: 'acme', subject: 'alice' } : { status: 'erased' },
      ]),
    );
  },
  clear() {},
};
const protector = createAlertProtector({ store, fields: FIELDS, mask: '***' });

function alert(group: Record<string, string>, details: Record<string, string>, summary: string): Alert {
  const groupKey = encodeGroupKey(Object.entries(group));
  return {
    alert_id: alertId('r', groupKey, 1000),
    rule_id: 'r',
    rule_name: 'R',
    rule_type: 'threshold',
    severity: 'high',
    tenant_id: 'acme',
    group_key: groupKey,
    group,
    window_start: 1000,
    window_end: 2000,
    count: 6,
    first_event_at: 1000,
    last_event_at: 2000,
    sample_event_ids: ['e1'],
    summary,
    details,
    fired_at: 3000,
    updated_at: 3000,
    version: 0,
  };
}

test('group values, summary placeholders and new values of encrypted fields become envelopes; the rest stays', async () => {
  const a = alert(
    { tenant_id: 'acme', 'actor.ip': '198.51.100.7', action: 'auth.login' },
    { subject: 'alice', 'pii.attributes.email': 'alice@example.com', field: 'attributes.country', value: 'NZ', distinct_count: '3' },
    '6 logins from 198.51.100.7 by alice@example.com (NZ)',
  );
  const p = await protector.protect(a);
  const text = JSON.stringify(p);
  for (const clear of ['198.51.100.7', 'alice@example.com', '"NZ"', '(NZ)']) assert.ok(!text.includes(clear), `${clear} left in ${text}`);
  assert.match(p.group['actor.ip'] as string, /^enc:v1:kAlice:/);
  assert.match(p.details['pii.attributes.email'] as string, /^enc:v1:kAlice:/);
  assert.match(p.details.value as string, /^enc:v1:kAlice:/);
  assert.equal(p.group.action, 'auth.login');
  assert.equal(p.details.distinct_count, '3');
  assert.equal(p.group_key, 'tenant_id=acme&actor.ip=%5Bactor.ip%5D&action=auth.login');
  assert.equal(p.summary, '6 logins from [actor.ip] by [attributes.email] ([attributes.country])');
  assert.equal(p.alert_id, a.alert_id, 'the id (dedupe) is unchanged');
  assert.deepEqual(await protector.protect(a), p, 'deterministic: a redelivery stores the same bytes');

  // Read back from the alerts topic: the engine's state gets the clear values again.
  const r = await protector.restore(p);
  assert.deepEqual({ ...r, summary: a.summary }, a);
  erased = true;
  const gone = await protector.restore(p);
  erased = false;
  assert.equal(gone.group['actor.ip'], p.group['actor.ip'], 'an erased value stays protected');
  assert.equal(gone.group_key, p.group_key);
});

test('without a subject the value is masked; alerts without personal values pass unchanged; a key store outage is a retriable error', async () => {
  const noSubject = await protector.protect(alert({ tenant_id: 'acme', 'actor.ip': '198.51.100.7' }, {}, 'from 198.51.100.7'));
  assert.equal(noSubject.group['actor.ip'], '***');
  assert.equal(noSubject.summary, 'from [actor.ip]');
  const plain = alert({ tenant_id: 'acme', 'actor.id': 'bob' }, { subject: 'bob' }, '6 for bob');
  assert.equal(await protector.protect(plain), plain);
  down = true;
  await assert.rejects(
    protector.protect(alert({ tenant_id: 'acme', 'actor.ip': '1.2.3.4' }, { subject: 'alice' }, 'x')),
    (err: Error & { code?: string; retriable?: boolean }) => {
      assert.equal(err.code, 'ALERT_PROTECT_FAILED');
      assert.equal(err.retriable, true);
      return true;
    },
  );
  down = false;
});
