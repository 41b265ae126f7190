import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ev } from '../testing.js';
import { compileFilter } from './filters.js';
import { SpecError } from './spec-error.js';

const ctx = { timezone: 'UTC' };
const f = (spec: unknown) => compileFilter(spec, 'filter', ctx);

test('equality, in-list, prefix/suffix/contains, exists on top-level, nested and attribute fields', () => {
  const e = ev({ actor: { id: 'bob' }, attributes: { 'retention.days': '30', role: 'Admin' }, resource: { type: 'doc', id: 'd1' } });
  assert.equal(f({ field: 'action', eq: 'auth.login' })(e), true);
  assert.equal(f({ field: 'action', ne: 'auth.login' })(e), false);
  assert.equal(f({ field: 'actor.id', in: ['x', 'bob'] })(e), true);
  assert.equal(f({ field: 'actor.id', not_in: ['x', 'bob'] })(e), false);
  assert.equal(f({ field: 'action', prefix: 'auth.' })(e), true);
  assert.equal(f({ field: 'action', prefix: ['x.', 'y.'] })(e), false);
  assert.equal(f({ field: 'action', suffix: '.login' })(e), true);
  assert.equal(f({ field: 'action', contains: 'th.lo' })(e), true);
  assert.equal(f({ field: 'attributes.retention.days', eq: 30 })(e), true, 'attribute keys may contain dots; numbers compare as strings');
  assert.equal(f({ field: 'attributes.role', eq: 'admin' })(e), false);
  assert.equal(f({ field: 'attributes.role', eq: 'admin', ignore_case: true })(e), true);
  assert.equal(f({ field: 'resource.name', exists: false })(e), true);
  assert.equal(f({ field: 'resource.id', exists: true })(e), true);
  assert.equal(f({ field: 'nope.deeper', eq: 'x' })(e), false);
});

test('regex and numeric comparisons; non-numbers never match a comparison', () => {
  const e = ev({ attributes: { record_count: '25000', bytes: 'lots' } });
  assert.equal(f({ field: 'action', regex: '^auth\\.(login|logout)$' })(e), true);
  assert.equal(f({ field: 'attributes.record_count', gte: 25000 })(e), true);
  assert.equal(f({ field: 'attributes.record_count', gt: 25000 })(e), false);
  assert.equal(f({ field: 'attributes.record_count', gt: 100, lt: 30000 })(e), true, 'operators on one field combine with and');
  assert.equal(f({ field: 'attributes.record_count', lte: 100 })(e), false);
  assert.equal(f({ field: 'attributes.bytes', gt: 0 })(e), false);
  assert.equal(f({ field: 'attributes.missing', lt: 10 })(e), false);
});

test('all / any / not and list shorthand', () => {
  const e = ev({ outcome: 'denied' });
  const spec = {
    all: [
      { field: 'action', eq: 'auth.login' },
      {
        any: [
          { field: 'outcome', eq: 'failure' },
          { field: 'outcome', eq: 'denied' },
        ],
      },
    ],
  };
  assert.equal(f(spec)(e), true);
  assert.equal(f({ not: spec })(e), false);
  assert.equal(
    f([
      { field: 'action', eq: 'auth.login' },
      { field: 'outcome', eq: 'success' },
    ])(e),
    false,
  );
});

test('time_of_day uses the zone, days and wraps midnight', () => {
  const biz = { time_of_day: { start: '08:00', end: '19:00', days: ['mon', 'tue', 'wed', 'thu', 'fri'], timezone: 'Europe/Berlin' } };
  // 2026-03-02 is a Monday. 06:30Z = 07:30 in Berlin (CET, +1).
  assert.equal(f(biz)(ev({}, Date.parse('2026-03-02T06:30:00Z'))), false);
  assert.equal(f(biz)(ev({}, Date.parse('2026-03-02T07:30:00Z'))), true);
  assert.equal(f(biz)(ev({}, Date.parse('2026-03-02T18:30:00Z'))), false, '19:30 Berlin');
  assert.equal(f(biz)(ev({}, Date.parse('2026-03-07T10:00:00Z'))), false, 'Saturday');
  // Summer time: 2026-07-01 07:30Z = 09:30 CEST.
  assert.equal(f(biz)(ev({}, Date.parse('2026-07-01T06:30:00Z'))), true);
  const night = f({ time_of_day: { start: '22:00', end: '06:00' } });
  assert.equal(night(ev({}, Date.parse('2026-03-02T23:00:00Z'))), true);
  assert.equal(night(ev({}, Date.parse('2026-03-02T05:59:00Z'))), true);
  assert.equal(night(ev({}, Date.parse('2026-03-02T12:00:00Z'))), false);
});

test('bad filters are rejected naming the path', () => {
  const bad: Array<[unknown, RegExp]> = [
    [{ field: 'action', regex: '(' }, /^filter\.regex is not a valid regular expression/],
    [{ field: 'action' }, /^filter needs an operator/],
    [{ field: 'action', eqq: 'x' }, /^filter\.eqq is not a known key/],
    [
      {
        all: [
          { field: 'a', eq: 'x' },
          { field: 'b', gt: 'ten' },
        ],
      },
      /^filter\.all\[1\]\.gt must be a number/,
    ],
    [{ any: [] }, /^filter\.any must be a non-empty list/],
    [{ field: 'Bad Field', eq: 1 }, /^filter\.field must be a field path/],
    [{ time_of_day: { start: '8am', end: '19:00' } }, /^filter\.time_of_day\.start must be a time HH:MM/],
    [{ time_of_day: { start: '08:00', end: '19:00', timezone: 'Mars/Base' } }, /^filter\.time_of_day\.timezone must be an IANA time zone/],
    [{ time_of_day: { start: '08:00', end: '19:00', days: ['funday'] } }, /^filter\.time_of_day\.days\[0\] must be a day name/],
    [{ all: [], any: [] }, /exactly one of all, any or not/],
  ];
  for (const [spec, re] of bad) {
    assert.throws(
      () => f(spec),
      (err: unknown) => err instanceof SpecError && re.test(err.message),
      JSON.stringify(spec),
    );
  }
});

test('regexes are compiled once, not per event', () => {
  const orig = globalThis.RegExp;
  let compiled = 0;
  const Spy = function (this: unknown, ...args: ConstructorParameters<typeof RegExp>) {
    compiled++;
    return new orig(...args);
  } as unknown as RegExpConstructor;
  Object.defineProperty(Spy, 'prototype', { value: orig.prototype });
  globalThis.RegExp = Spy;
  try {
    const filter = f({ field: 'action', regex: '^auth\\.' });
    const before = compiled;
    for (let i = 0; i < 100; i++) filter(ev());
    assert.equal(compiled - before, 0);
  } finally {
    globalThis.RegExp = orig;
  }
});
