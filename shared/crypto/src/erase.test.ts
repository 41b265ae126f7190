import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AuditEventInput, type ClickHouse, capabilitiesFor, render, type SqlFragment } from '@auditstream/clickhouse';
import type { AuditstreamError } from '@auditstream/core';
import { blockingHold, eraseSubject } from './erase.js';

// Unit tests with a fake ClickHouse (the real flow is test/integration/field-encryption.test.ts).

function fakeCh(answer: (q: string) => unknown[]) {
  const log: string[] = [];
  const ch = {
    database: 'audit',
    async queryRows(q: SqlFragment | string) {
      const text = typeof q === 'string' ? q : render(q, capabilitiesFor('18.16.1')).query;
      log.push(text);
      return answer(text) as never[];
    },
    async command(q: SqlFragment | string) {
      log.push(`COMMAND ${typeof q === 'string' ? q : render(q, capabilitiesFor('18.16.1')).query}`);
    },
    async insertJson(t: string) {
      log.push(`INSERT ${t}`);
    },
  } as unknown as ClickHouse;
  return { ch, log };
}

const hold = (tenant_id: string) => ({ tenant_id, hold_id: 'h1', reason: 'litigation', created_at: '2026-01-01 00:00:00' });

test('blockingHold: a hold on an affected tenant or on * blocks; others do not', () => {
  assert.equal(blockingHold([hold('other')], ['acme']), undefined);
  assert.equal(blockingHold([hold('other'), hold('acme')], ['acme'])?.tenant, 'acme');
  assert.equal(blockingHold([hold('*')], ['acme'])?.hold.hold_id, 'h1');
});

test('a legal hold refuses before anything is written, records a denied event, and names the tenant', async () => {
  const { ch, log } = fakeCh((q) => {
    if (q.includes('legal_holds')) return [hold('acme')];
    if (q.includes('subject_keys')) return [{ tenant_id: 'acme', key_id: 'k1' }];
    return [];
  });
  const events: AuditEventInput[] = [];
  await assert.rejects(
    eraseSubject({ ch, subject: 'alice', reason: 'gdpr', recordEvent: async (e) => void events.push(e), actorId: 'ops', keyCacheTtlMs: 1000 }),
    (err: AuditstreamError) => err.code === 'LEGAL_HOLD' && /tenant acme is under legal hold h1/.test(err.message) && err.field === 'tenant',
  );
  assert.equal(events.length, 1);
  assert.equal(events[0]?.outcome, 'denied');
  assert.equal(events[0]?.action, 'subject.erase');
  assert.ok(!log.some((l) => l.startsWith('INSERT') || l.startsWith('COMMAND')), 'no tombstone, no delete');
});

test('erase: tombstone, then ALTER DELETE until no key is left, then the success event', async () => {
  let deleted = false;
  const { ch, log } = fakeCh((q) => {
    if (q.includes('legal_holds')) return [];
    if (q.includes('system.mutations')) return [{ pending: '0', failed: '0' }];
    if (q.includes('count()')) return [{ n: deleted ? '0' : '1' }];
    if (q.includes('subject_keys')) return [{ tenant_id: 'acme', key_id: 'k1' }];
    return [];
  });
  const realCommand = ch.command.bind(ch);
  ch.command = async (q) => {
    deleted = true;
    return realCommand(q);
  };
  const events: AuditEventInput[] = [];
  const res = await eraseSubject({ ch, subject: 'alice', reason: 'gdpr', recordEvent: async (e) => void events.push(e), actorId: 'ops', keyCacheTtlMs: 1234 });
  assert.deepEqual(res.keyIds, ['k1']);
  assert.deepEqual(res.tenants, ['acme']);
  assert.match(res.message, /1234 ms/);
  const tomb = log.indexOf('INSERT subject_erasures');
  const del = log.findIndex((l) => l.startsWith('COMMAND ALTER TABLE `audit`.`subject_keys` DELETE'));
  assert.ok(tomb >= 0 && del > tomb, 'the tombstone is written before the delete');
  assert.equal(events.length, 1);
  assert.equal(events[0]?.outcome, 'success');
  assert.equal(events[0]?.attributes?.keys_destroyed, '1');
});

test('bad input is a USAGE error naming the option', async () => {
  const { ch } = fakeCh(() => []);
  const base = { ch, reason: 'r', recordEvent: async () => {}, actorId: 'ops', keyCacheTtlMs: 1 };
  await assert.rejects(eraseSubject({ ...base, subject: '' }), (e: AuditstreamError) => e.field === 'subject');
  await assert.rejects(eraseSubject({ ...base, subject: 'a', tenant: 'x\u0000' }), (e: AuditstreamError) => e.field === 'tenant');
  await assert.rejects(eraseSubject({ ...base, subject: 'a', reason: '' }), (e: AuditstreamError) => e.field === 'reason');
});
