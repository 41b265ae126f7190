import assert from 'node:assert/strict';
import { uuidv7 } from '@auditstream/core';
import type { ClickHouse } from './client.js';
import { getEvent } from './queries.js';
import { type AuditEventInput, insertEvents } from './rows.js';

/**
 * "Stored as sent", on whichever layout `ch` has: every value the contract's validator lets
 * through reads back exactly as sent. Optional strings are null or non-empty (the validator
 * rejects "" there), and the columns keep absent as '' — so the one thing they cannot hold,
 * an optional "", is pinned here as reading back null: that is why the validator rejects it.
 * Attribute values are map<string>, where "" is a value, and is kept.
 */
export async function assertStoredAsSent(ch: ClickHouse, tenant: string): Promise<void> {
  const at = Date.now() - 60_000;
  const base = (i: number): AuditEventInput => ({
    event_id: uuidv7(at + i),
    tenant_id: tenant,
    occurred_at: (at + i) * 1000 + 123,
    actor: { id: `actor-${i}`, type: 'user' },
    action: 'auth.login',
    category: 'authentication',
    outcome: 'failure',
    service: 'stored-as-sent',
  });
  const bare = base(0);
  const allNull: AuditEventInput = {
    ...base(1),
    actor: { id: 'actor-1', type: 'user', name: null, session_id: null, ip: null, user_agent: null },
    reason: null,
    host: null,
    region: null,
    producer_id: null,
    producer_seq: null,
    resource: null,
    request_id: null,
    trace_id: null,
    attributes: {},
  };
  const full: AuditEventInput = {
    ...base(2),
    actor: { id: 'actor-2', type: 'service', name: "O'Brien \u00e9\u{1F600}", session_id: 's', ip: '2001:db8::1', user_agent: 'ua "quoted"\\' },
    reason: ' ',
    host: 'h',
    region: 'eu',
    resource: { type: 'document', id: 'd-1', name: 'n' },
    request_id: 'r',
    trace_id: 't',
    attributes: { empty: '', ' ': 'space key', multi: 'a\nb' },
    producer_id: uuidv7(at),
    producer_seq: 2 ** 53 - 2,
  };
  const resourceNoName: AuditEventInput = { ...base(3), resource: { type: 'document', id: 'd-2', name: null } };
  const emptyOptional: AuditEventInput = { ...base(4), reason: '', host: '', actor: { id: 'actor-4', type: 'user', user_agent: '' } };
  const all = [bare, allNull, full, resourceNoName, emptyOptional];
  await insertEvents(
    ch,
    all.map((event, i) => ({ event, meta: { received_at: at, kafka_topic: 'audit.events', kafka_partition: 0, kafka_offset: 900 + i } })),
  );

  const read = async (e: AuditEventInput) => {
    const got = await getEvent(ch, tenant, e.event_id);
    assert.ok(got, `event ${e.event_id} stored`);
    return got.event;
  };
  const nulls = { name: null, session_id: null, ip: null, user_agent: null };
  const absent = {
    reason: null,
    host: null,
    region: null,
    resource: null,
    request_id: null,
    trace_id: null,
    severity: 'info',
    attributes: {},
    producer_id: null,
    producer_seq: null,
  };
  assert.deepEqual(await read(bare), { ...bare, ...absent, actor: { ...bare.actor, ...nulls } }, 'absent optionals read back null');
  assert.deepEqual(await read(allNull), { ...allNull, severity: 'info' }, 'null stays null');
  assert.deepEqual(await read(full), { ...full, severity: 'info' }, 'values (and "" attribute values, and the producer numbering) stay as sent');
  assert.deepEqual((await read(resourceNoName)).resource, { type: 'document', id: 'd-2', name: null });
  const e = await read(emptyOptional);
  assert.deepEqual([e.reason, e.host, e.actor.user_agent], [null, null, null], 'an optional "" cannot be stored as such: the validator rejects it');
}
