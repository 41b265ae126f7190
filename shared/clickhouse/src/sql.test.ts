import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ident, joinSql, p, quoteString, render, sql, table, unsafeRaw } from './sql.js';

test('values become server-side parameters when the server has them', () => {
  const q = sql`SELECT count() FROM ${table('audit', 'events')} WHERE tenant_id = ${"t'1"} AND kafka_offset > ${5} AND action IN ${['a', 'b']} AND event_id = ${p.uuid('018C1234-5678-7ABC-8DEF-0123456789AB')}`;
  const r = render(q, { queryParams: true });
  assert.equal(
    r.query,
    'SELECT count() FROM `audit`.`events` WHERE tenant_id = {p0:String} AND kafka_offset > {p1:UInt64} AND action IN {p2:Array(String)} AND event_id = {p3:UUID}',
  );
  assert.deepEqual(r.query_params, { p0: "t'1", p1: 5, p2: ['a', 'b'], p3: '018c1234-5678-7abc-8def-0123456789ab' });
});

test('values become escaped literals on servers without parameters', () => {
  const q = sql`SELECT 1 WHERE a = ${"t'1\\"} AND b = ${-3} AND c >= ${new Date('2024-01-02T03:04:05.678Z')} AND d IN ${['x', "y'"]}`;
  assert.equal(
    render(q, { queryParams: false }).query,
    "SELECT 1 WHERE a = 't\\'1\\\\' AND b = toInt64(-3) AND c >= toDateTime(1704164645, 'UTC') AND d IN ['x', 'y\\'']",
  );
  assert.equal(render(q, { queryParams: false }).query_params, undefined);
  const nested = sql`SELECT ${joinSql([sql`${ident('action')}`, sql`${ident('actor_id')}`], ', ')} ${unsafeRaw('ORDER BY 1')}`;
  assert.equal(render(nested, { queryParams: true }).query, 'SELECT `action`, `actor_id` ORDER BY 1');
  assert.equal(render(sql`x = ${p.dateTime64(1_704_164_645_678_901n)}`, { queryParams: true }).query_params?.p0, '2024-01-02 03:04:05.678901');
  assert.throws(() => render(sql`x = ${p.dateTime64(1n)}`, { queryParams: false }), /DateTime64/);
});

test('quoteString escapes quotes, backslashes and control characters, passes Unicode through', () => {
  assert.equal(quoteString(''), "''");
  assert.equal(quoteString("O'Brien"), "'O\\'Brien'");
  assert.equal(quoteString('a\\b'), "'a\\\\b'");
  assert.equal(quoteString('\0\n\r\t\b\f\x01\x7f'), "'\\0\\n\\r\\t\\b\\f\\x01\\x7f'");
  assert.equal(quoteString('ünï 🙂 中文'), "'ünï 🙂 中文'");
  assert.equal(quoteString("'; DROP TABLE audit.events; --"), "'\\'; DROP TABLE audit.events; --'");
  assert.throws(() => quoteString('\ud800'), /well-formed/);
});

test('identifiers only from the allow-list, numbers only when safe', () => {
  assert.equal(ident('events').text, '`events`');
  assert.throws(() => ident('events; DROP'), /allow-list/);
  assert.throws(() => ident('nope'), /allow-list/);
  assert.throws(() => table('bad-db', 'events'), /plain identifier/);
  assert.throws(() => render(sql`${1.5e300 * 1e10}`, { queryParams: false }), /finite/);
  assert.throws(() => render(sql`${2 ** 60}`, { queryParams: false }), /range/);
  assert.throws(() => p.uuid("x' OR 1"), /UUID/);
  assert.throws(() => render(sql`${{} as never}`, { queryParams: true }), /cannot interpolate/);
});
