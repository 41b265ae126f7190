// Integration: the query API against the real ClickHouse (18.16 in the local stack) and the real
// Kafka, no mocks: a database of its own seeded through the storage module (with re-delivered
// duplicates), keys in audit.api_keys, the SDK publishing self-audit events to a topic of its own.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type AuditEventInput, type ClickHouse, countEvents, rawEventRowCount, type SqlFragment, sql } from '@auditstream/clickhouse';
import { uuidv7 } from '@auditstream/core';
import { createMetricsRegistry } from '@auditstream/observability';
import type { AuditEvent } from '@auditstream/schemas';
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Registry } from 'prom-client';
import { createApiKey, revokeApiKey } from './api-keys.js';
import { type Api, createApi } from './app.js';
import { type ApiConfig, apiDefaults } from './config.js';
import {
  auditTopic,
  type Filter,
  freshDatabase,
  insert,
  isoOf,
  makeEvents,
  matches,
  qs,
  TRICKY_ACTOR,
  TRICKY_RESOURCE,
  testLogger,
} from './int.test-helper.js';
import type { ApiEvent } from './present.js';

const HOUR_US = 3_600_000_000;
const DAY_US = 24 * HOUR_US;
const BASE_US = Date.UTC(2026, 0, 10) * 1000;
const N = 3000;
const seeded = makeEvents(N, BASE_US);
const byId = new Map(seeded.map((e) => [e.event_id, e]));
const FULL: Filter = { from: BASE_US, to: BASE_US + DAY_US };
// The pagination tests insert while they page: on a day of their own, so other tests' expectations hold.
const PAGING_US = BASE_US + 3 * DAY_US;
const paging = makeEvents(1200, PAGING_US).map((e) => ({ ...e, tenant_id: 'acme' }));

let db: Awaited<ReturnType<typeof import('./int.test-helper.js').freshDatabase>>;
let audit: Awaited<ReturnType<typeof auditTopic>>;
let api: Api;
let url: string;
let metrics: Registry;
let jwks: Server;
let signingKey: CryptoKey;
const keys: Record<'admin' | 'auditor' | 'acme' | 'service' | 'revoked', string> = { admin: '', auditor: '', acme: '', service: '', revoked: '' };
const keyIds: Record<string, string> = {};

/** Requests that must have left a self-audit event: request id → what it must say. */
const expectedAudit = new Map<string, { action: string; actor: string; outcome: string; endpoint: string; filter?: Record<string, string> }>();

function config(over: Partial<ApiConfig> = {}): ApiConfig {
  return apiDefaults({
    port: 0,
    api_key_cache_ttl_ms: 0,
    rate_limit_burst: 1_000_000,
    rate_limit_per_s: 1_000_000,
    unauthenticated_rate_limit_per_s: 1_000_000,
    // Every refusal on record: the self-audit test looks for particular ones among hundreds of 400s.
    self_audit_refusals_per_s: 1_000_000,
    oidc_jwks_url: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
    oidc_issuer: 'https://issuer.test',
    oidc_audience: 'auditstream-api',
    ...over,
  } as Partial<ApiConfig> as never);
}

before(async () => {
  db = await freshDatabase('api_it');
  await insert(db.ch, seeded);
  await insert(
    db.ch,
    seeded.filter((_, i) => i % 7 === 0),
  ); // re-delivered copies, not merged yet
  await insert(db.ch, paging);
  audit = await auditTopic();
  const pair = await generateKeyPair('ES256');
  signingKey = pair.privateKey as CryptoKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'it', alg: 'ES256', use: 'sig' };
  jwks = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  for (const [name, spec] of [
    ['admin', { role: 'admin', tenants: [] }],
    ['auditor', { role: 'auditor', tenants: ['acme', 'beta'] }],
    ['acme', { role: 'auditor', tenants: ['acme'] }],
    ['service', { role: 'service', tenants: ['acme'] }],
    ['revoked', { role: 'admin', tenants: [] }],
  ] as const) {
    const k = await createApiKey(db.ch, spec);
    keys[name] = k.key;
    keyIds[name] = k.id;
  }
  await revokeApiKey(db.ch, keyIds.revoked as string);
  metrics = createMetricsRegistry({ service: 'api-int', defaultMetrics: false });
  api = createApi({ config: config(), clickhouse: db.ch, logger: testLogger, metrics, recordEvent: audit.recordEvent });
  url = (await api.start()).url;
});

after(async () => {
  await api?.stop();
  await audit?.close();
  await new Promise<void>((resolve) => (jwks ? jwks.close(() => resolve()) : resolve()));
  await db?.drop();
});

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: <T = Record<string, unknown>>() => T;
}

async function call(
  path: string,
  key: string,
  expect: { action?: string; actor?: string; outcome?: string; filter?: Record<string, string> } = {},
  init: RequestInit = {},
  base = url,
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { ...init, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(init.headers ?? {}) } });
  const text = await res.text();
  const rid = res.headers.get('x-request-id');
  const audited = (res.status < 300 || res.status === 403 || res.status === 404) && path.startsWith('/v1/') && key !== '' && base === url;
  if (audited && rid && expect.actor !== undefined) {
    expectedAudit.set(rid, {
      action: expect.action ?? (path.startsWith('/v1/export') ? 'audit.export' : 'audit.query'),
      actor: expect.actor,
      outcome: expect.outcome ?? (res.status === 403 ? 'denied' : 'success'),
      endpoint: '',
      ...(expect.filter ? { filter: expect.filter } : {}),
    });
  }
  return { status: res.status, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
}

const actor = (name: keyof typeof keys) => keyIds[name] as string;

/** Every page of a search; asserts no event repeats across pages. */
async function searchAll(f: Filter, key = keys.admin, who = actor('admin'), limit = 1000): Promise<ApiEvent[]> {
  const out: ApiEvent[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10_000; page++) {
    const r = await call(`/v1/events?${qs({ ...f, limit, ...(cursor ? { cursor } : {}) })}`, key, { actor: who });
    assert.equal(r.status, 200, r.text);
    const body = r.json<{ data: ApiEvent[]; next_cursor: string | null }>();
    out.push(...body.data);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  const ids = out.map((e) => e.event_id);
  assert.equal(new Set(ids).size, ids.length, 'no event twice');
  return out;
}

function expectedIds(f: Filter): string[] {
  return seeded
    .filter((e) => matches(e, f))
    .map((e) => e.event_id)
    .sort();
}

const micros = (iso: string) => {
  const m = /^(.*T\d{2}:\d{2}:\d{2})\.(\d{6})Z$/.exec(iso) as RegExpExecArray;
  return Date.parse(`${m[1]}Z`) * 1000 + Number(m[2]);
};

describe('search', () => {
  const filters: Filter[] = [
    FULL,
    { ...FULL, tenant: 'beta' },
    { ...FULL, actor_id: 'u3' },
    { ...FULL, actor_id: TRICKY_ACTOR },
    { ...FULL, actor_type: 'service' },
    { ...FULL, action: 'user.role.grant' },
    { ...FULL, action_prefix: 'user.role' },
    { ...FULL, action_prefix: 'auth.' },
    { ...FULL, category: 'authorization' },
    { ...FULL, outcome: 'denied' },
    { ...FULL, severity: 'critical' },
    { ...FULL, resource_type: 'setting' },
    { ...FULL, resource_id: 'r4' },
    { ...FULL, resource_id: TRICKY_RESOURCE },
    { ...FULL, service: 'svc2' },
    { ...FULL, source_ip: '10.0.3.4' },
    { ...FULL, source_ip: '2001:db8::1' },
    { ...FULL, session_id: 'sess-7' },
    { ...FULL, session_id: 'sess-7', actor_id: 'u7' },
    { ...FULL, q: 'needle' },
    { ...FULL, q: 'HAYSTACK' },
    { ...FULL, q: 'invalid_pass' },
    { ...FULL, q: 'rare_key' },
    { ...FULL, q: 'no-such-text' },
    { ...FULL, tenant: 'acme', action_prefix: 'document.', outcome: 'success' },
    { ...FULL, actor_id: 'u1', resource_type: 'document', tenant: 'gamma' },
    { ...FULL, source_ip: '10.0.1.1', actor_type: 'user' },
    // µs-exact bounds: `from` is an event's time (included), `to` another's (excluded).
    { from: Number(seeded[300]?.occurred_at), to: Number(seeded[900]?.occurred_at) },
    { from: Number(seeded[300]?.occurred_at) + 1, to: Number(seeded[900]?.occurred_at) + 1 },
  ];
  for (const f of filters) {
    const label = Object.entries(f)
      .filter(([k]) => k !== 'from' && k !== 'to')
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    test(`filter ${label || '(range only)'} returns exactly the matching events, each once`, async () => {
      const want = expectedIds(f);
      const got = await searchAll(f, keys.admin, actor('admin'), 500);
      assert.deepEqual(got.map((e) => e.event_id).sort(), want, `${got.length} returned, ${want.length} expected`);
      // Newest first, and every field as stored.
      for (let i = 1; i < got.length; i++) assert.ok(micros((got[i - 1] as ApiEvent).occurred_at) >= micros((got[i] as ApiEvent).occurred_at));
      for (const e of got.slice(0, 20)) {
        const s = byId.get(e.event_id) as AuditEventInput;
        assert.equal(micros(e.occurred_at), Number(s.occurred_at));
        assert.equal(e.tenant_id, s.tenant_id);
        assert.equal(e.actor.id, s.actor.id);
        assert.deepEqual(e.attributes, s.attributes);
        assert.deepEqual(e.resource, s.resource ? { ...s.resource, name: null } : null);
      }
      // The same set counted by the timeseries (uniqExact): re-delivered copies count once.
      const ts = await call(`/v1/stats/timeseries?${qs({ ...f, interval: '1d' })}`, keys.admin, { actor: actor('admin') });
      assert.equal(ts.status, 200, ts.text);
      const total = ts.json<{ series: { total: number }[] }>().series.reduce((s, x) => s + x.total, 0);
      assert.equal(total, want.length);
    });
  }

  test('ascending order, page by page, equals the descending set; pages never overlap', async () => {
    const desc = await searchAll({ ...FULL, tenant: 'acme' }, keys.admin, actor('admin'), 97);
    const asc = await searchAll({ ...FULL, tenant: 'acme', sort: 'asc' }, keys.admin, actor('admin'), 101);
    assert.deepEqual(
      asc.map((e) => e.event_id).reverse(),
      desc.map((e) => e.event_id),
    );
    assert.equal(asc.length, expectedIds({ ...FULL, tenant: 'acme' }).length);
  });

  test('the storage really holds duplicates, and no answer shows them', async () => {
    const raw = await rawEventRowCount(db.ch, 'beta');
    const distinct = await countEvents(db.ch, { tenant_id: 'beta', from: BASE_US - DAY_US, to: BASE_US + 2 * DAY_US });
    assert.ok(raw > distinct, `raw ${raw} > distinct ${distinct}`);
    assert.equal((await searchAll({ ...FULL, tenant: 'beta' })).length, distinct);
  });
});

describe('many copies of one event', () => {
  test('an event delivered 40 times is one row, on every page size, in both orders', async () => {
    // Far more copies than a page's slack: the key scan has to read on past them.
    const day = BASE_US + 5 * DAY_US;
    const events = makeEvents(9, day, 1_000_003).map((e) => ({ ...e, tenant_id: 'acme' }));
    await insert(db.ch, events);
    const hot = events[4] as AuditEventInput;
    for (let i = 0; i < 4; i++)
      await insert(
        db.ch,
        Array.from({ length: 10 }, () => hot),
      );
    const f: Filter = { from: day, to: day + DAY_US, tenant: 'acme' };
    const want = events.map((e) => e.event_id).sort();
    for (const sort of ['desc', 'asc'] as const) {
      for (const limit of [1, 2, 3, 1000]) {
        const got = await searchAll({ ...f, sort }, keys.admin, actor('admin'), limit);
        assert.deepEqual(got.map((e) => e.event_id).sort(), want, `sort=${sort} limit=${limit}`);
      }
    }
    const ts = await call(`/v1/stats/timeseries?${qs({ ...f, interval: '1d' })}`, keys.admin, { actor: actor('admin') });
    assert.equal(ts.json<{ series: { total: number }[] }>().series[0]?.total, 9);
    const ex = await call(`/v1/export?${qs(f)}`, keys.admin, { actor: actor('admin') });
    assert.equal(ex.text.trimEnd().split('\n').length, 9);
  });
});

describe('single event', () => {
  test('by id with its integrity fields; invisible outside the credential’s tenants', async () => {
    const target = seeded[14] as AuditEventInput; // i % 7 == 0: stored twice
    assert.equal(target.tenant_id, 'gamma');
    const r = await call(`/v1/events/${target.event_id}`, keys.admin, { actor: actor('admin') });
    assert.equal(r.status, 200, r.text);
    const e = r.json<ApiEvent & { integrity: Record<string, unknown> }>();
    assert.equal(e.event_id, target.event_id);
    assert.equal(micros(e.occurred_at), Number(target.occurred_at));
    assert.match(String(e.integrity.chain_seq), /^\d+$/);
    assert.equal(e.integrity.hash, 'b'.repeat(64));
    assert.equal(e.integrity.prev_hash, 'a'.repeat(64));
    assert.equal(e.integrity.kafka_topic, 'audit.events');
    assert.match(String(e.integrity.ingested_at), /^\d{4}-/);
    // Upper-case ids are the same id.
    assert.equal((await call(`/v1/events/${target.event_id.toUpperCase()}`, keys.admin, { actor: actor('admin') })).status, 200);
    // The auditor of acme and beta does not see gamma's event: 404, like an id that does not exist.
    const hidden = await call(`/v1/events/${target.event_id}`, keys.auditor, { actor: actor('auditor') });
    assert.equal(hidden.status, 404);
    const missing = await call(`/v1/events/${uuidv7()}`, keys.auditor, { actor: actor('auditor') });
    assert.equal(missing.status, 404);
    assert.equal(hidden.json().detail, missing.json().detail);
    assert.equal((await call(`/v1/events/${target.event_id}?tenant=gamma`, keys.auditor, { actor: actor('auditor') })).status, 403);
  });
});

describe('stats', () => {
  test('timeseries per hour and action: every bucket counts each event once', async () => {
    const f: Filter = { ...FULL, tenant: 'beta' };
    const r = await call(`/v1/stats/timeseries?${qs({ ...f, interval: '1h', group_by: 'action' })}`, keys.auditor, { actor: actor('auditor') });
    assert.equal(r.status, 200, r.text);
    const body = r.json<{ series: { group: string; total: number; points: { t: string; count: number }[] }[] }>();
    const want = new Map<string, number>();
    for (const e of seeded.filter((x) => matches(x, f))) {
      const bucket = new Date(Math.floor(Number(e.occurred_at) / HOUR_US) * 3_600_000).toISOString();
      const k = `${e.action}|${bucket}`;
      want.set(k, (want.get(k) ?? 0) + 1);
    }
    const got = new Map<string, number>();
    for (const s of body.series) for (const p of s.points) got.set(`${s.group}|${p.t}`, p.count);
    assert.deepEqual([...got.entries()].sort(), [...want.entries()].sort());
    // Largest series first.
    for (let i = 1; i < body.series.length; i++) assert.ok((body.series[i - 1]?.total ?? 0) >= (body.series[i]?.total ?? 0));
  });

  test('timeseries grouped by tenant keeps only the top groups asked for', async () => {
    const r = await call(`/v1/stats/timeseries?${qs({ ...FULL, interval: '1d', group_by: 'tenant', groups: 2 })}`, keys.admin, { actor: actor('admin') });
    const series = r.json<{ series: { group: string; total: number }[] }>().series;
    assert.equal(series.length, 2);
    for (const s of series) assert.equal(s.total, expectedIds({ ...FULL, tenant: s.group }).length);
  });

  for (const [dimension, keyOf] of [
    ['actor', (e: AuditEventInput) => (e.actor.id ? [e.tenant_id, e.actor.id] : undefined)],
    ['resource', (e: AuditEventInput) => (e.resource ? [e.tenant_id, e.resource.type, e.resource.id] : undefined)],
    ['ip', (e: AuditEventInput) => (e.actor.ip ? [e.tenant_id, e.actor.ip] : undefined)],
  ] as const) {
    test(`top ${dimension}: exact counts in order`, async () => {
      const f: Filter = { ...FULL, outcome: 'success' };
      const counts = new Map<string, number>();
      for (const e of seeded.filter((x) => matches(x, f))) {
        const k = keyOf(e);
        if (k) counts.set(JSON.stringify(k), (counts.get(JSON.stringify(k)) ?? 0) + 1);
      }
      const want = [...counts.entries()]
        .map(([k, n]) => [...(JSON.parse(k) as string[]), n] as (string | number)[])
        .sort((a, b) => (b.at(-1) as number) - (a.at(-1) as number) || JSON.stringify(a.slice(0, -1)).localeCompare(JSON.stringify(b.slice(0, -1))))
        .slice(0, 7);
      const r = await call(`/v1/stats/top?${qs({ ...f, dimension, limit: 7 })}`, keys.admin, { actor: actor('admin') });
      assert.equal(r.status, 200, r.text);
      const got = r
        .json<{ data: Record<string, string | number>[] }>()
        .data.map((d) => [
          d.tenant,
          ...(dimension === 'actor' ? [d.actor_id] : dimension === 'resource' ? [d.resource_type, d.resource_id] : [d.source_ip]),
          d.count,
        ]);
      assert.deepEqual(
        got.map((g) => g.at(-1)),
        want.map((w) => w.at(-1)),
      );
      // Equal counts may tie-break differently only among entries with the same count.
      const asSet = (rows: (string | number | undefined)[][]) => new Set(rows.filter((x) => x.at(-1) !== want.at(-1)?.at(-1)).map((x) => JSON.stringify(x)));
      assert.deepEqual(asSet(got), asSet(want));
    });
  }
});

describe('export', () => {
  test('NDJSON and CSV stream exactly the matching events, each once', async () => {
    const f: Filter = { ...FULL, action_prefix: 'auth.', tenant: 'acme' };
    const want = expectedIds(f);
    const nd = await call(`/v1/export?${qs(f)}`, keys.auditor, { actor: actor('auditor') });
    assert.equal(nd.status, 200);
    assert.match(nd.headers.get('content-type') ?? '', /^application\/x-ndjson/);
    const lines = nd.text.trimEnd().split('\n');
    const ids = lines.map((l) => (JSON.parse(l) as ApiEvent).event_id);
    assert.deepEqual([...ids].sort(), want);
    for (let i = 1; i < lines.length; i++)
      assert.ok(micros(JSON.parse(lines[i - 1] as string).occurred_at) <= micros(JSON.parse(lines[i] as string).occurred_at));
    const csv = await call(`/v1/export?${qs({ ...f, format: 'csv', sort: 'desc' })}`, keys.auditor, { actor: actor('auditor') });
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
    const rows = csv.text.trimEnd().split('\r\n');
    assert.equal(rows[0]?.split(',')[0], 'event_id');
    assert.deepEqual(
      rows
        .slice(1)
        .map((r) => r.split(',')[0])
        .sort(),
      want,
    );
    // A value that looks like SQL survives the round trip byte for byte.
    const tricky = await call(`/v1/export?${qs({ ...FULL, resource_id: TRICKY_RESOURCE })}`, keys.admin, { actor: actor('admin') });
    const one = tricky.text.trimEnd().split('\n');
    assert.equal(one.length, 1);
    assert.equal((JSON.parse(one[0] as string) as ApiEvent).resource?.id, TRICKY_RESOURCE);
  });

  test('an empty export is an empty 200 body', async () => {
    const r = await call(`/v1/export?${qs({ ...FULL, q: 'no-such-text' })}`, keys.admin, { actor: actor('admin') });
    assert.equal(r.status, 200);
    assert.equal(r.text, '');
  });
});

describe('pagination while events keep arriving', () => {
  for (const sort of ['desc', 'asc'] as const) {
    test(`${sort}: every event present at the start is seen exactly once, none twice`, async () => {
      const f: Filter = { from: PAGING_US, to: PAGING_US + DAY_US, tenant: 'acme' };
      const want = new Set(paging.map((e) => e.event_id));
      let stop = false;
      let inserted = 0;
      const writer = (async () => {
        let round = 0;
        // Bounded, so that an ascending pager (which meets the new events ahead of it) finishes.
        while (!stop && round < 60) {
          round++;
          // New events anywhere in the range (before and after the cursor), and re-deliveries of old ones.
          const fresh = makeEvents(30, PAGING_US + ((round * 7919) % 23) * HOUR_US, 97_003).map((e) => ({ ...e, tenant_id: 'acme', event_id: uuidv7() }));
          const again = paging.slice((round * 13) % 1100, ((round * 13) % 1100) + 10);
          await insert(db.ch, [...fresh, ...again]);
          inserted += fresh.length;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      const seen = new Map<string, number>();
      let cursor: string | null = null;
      let pages = 0;
      try {
        do {
          const r = await call(`/v1/events?${qs({ ...f, sort, limit: 37, ...(cursor ? { cursor } : {}) })}`, keys.admin, { actor: actor('admin') });
          assert.equal(r.status, 200, r.text);
          const body = r.json<{ data: ApiEvent[]; next_cursor: string | null }>();
          for (const e of body.data) seen.set(e.event_id, (seen.get(e.event_id) ?? 0) + 1);
          cursor = body.next_cursor;
          pages++;
        } while (cursor);
      } finally {
        stop = true;
        await writer;
      }
      assert.ok(inserted > 0 && pages > 20, `${pages} pages while ${inserted} events arrived`);
      for (const [id, n] of seen) assert.equal(n, 1, `event ${id} seen ${n} times`);
      const missing = [...want].filter((id) => !seen.has(id));
      assert.deepEqual(missing, [], `${missing.length} events missed`);
    });
  }
});

describe('tenant isolation', () => {
  test('no parameter combination shows an auditor another tenant’s rows', async () => {
    const allowed = new Set(['acme', 'beta']);
    const who = actor('auditor');
    const variants: Filter[] = [
      FULL,
      { ...FULL, q: 'gamma' },
      { ...FULL, actor_id: 'u2' },
      { ...FULL, resource_id: 'r1' },
      { ...FULL, source_ip: '10.0.1.1' },
      { ...FULL, tenant: 'acme' },
      { ...FULL, sort: 'asc' },
      { ...FULL, action_prefix: 'document.' },
    ];
    for (const v of variants) {
      for (const e of await searchAll(v, keys.auditor, who)) assert.ok(allowed.has(e.tenant_id), `search ${JSON.stringify(v)} leaked ${e.tenant_id}`);
      const ex = await call(`/v1/export?${qs(v)}`, keys.auditor, { actor: who });
      for (const line of ex.text.split('\n').filter(Boolean)) assert.ok(allowed.has((JSON.parse(line) as ApiEvent).tenant_id), 'export leaked');
      const { sort: _sort, ...unsorted } = v;
      const ts = await call(`/v1/stats/timeseries?${qs({ ...unsorted, interval: '1d', group_by: 'tenant' })}`, keys.auditor, { actor: who });
      assert.equal(ts.status, 200, ts.text);
      for (const s of ts.json<{ series: { group: string }[] }>().series) assert.ok(allowed.has(s.group), 'timeseries leaked');
      for (const dimension of ['actor', 'resource', 'ip']) {
        const top = await call(`/v1/stats/top?${qs({ ...unsorted, dimension, limit: 100 })}`, keys.auditor, { actor: who });
        assert.equal(top.status, 200, top.text);
        for (const d of top.json<{ data: { tenant: string }[] }>().data) assert.ok(allowed.has(d.tenant), 'top leaked');
      }
    }
    // The whole of acme + beta, nothing else.
    assert.equal((await searchAll(FULL, keys.auditor, who)).length, expectedIds({ ...FULL, tenants: ['acme', 'beta'] }).length);
    assert.equal((await searchAll(FULL, keys.acme, actor('acme'))).length, expectedIds({ ...FULL, tenant: 'acme' }).length);
    // Asking for another tenant, in any spelling, is refused before any query.
    for (const t of ['gamma', 'GAMMA', 'gamma ', "acme' OR tenant_id='gamma", 'acme,gamma', '*']) {
      for (const path of ['/v1/events', '/v1/export', '/v1/stats/timeseries', '/v1/stats/top']) {
        const r = await call(`${path}?${qs({ ...FULL, tenant: t, ...(path.endsWith('top') ? { dimension: 'actor' } : {}) })}`, keys.auditor, { actor: who });
        assert.equal(r.status, 403, `${path} tenant=${t}`);
      }
    }
    // A cursor of an admin's query does not carry over to a narrower credential.
    const page = await call(`/v1/events?${qs({ ...FULL, limit: 5 })}`, keys.admin, { actor: actor('admin') });
    const cursor = page.json<{ next_cursor: string }>().next_cursor;
    assert.equal((await call(`/v1/events?${qs({ ...FULL, limit: 5, cursor })}`, keys.auditor, { actor: who })).status, 400);
  });

  test('OIDC tokens from a local issuer are scoped by their tenants claim', async () => {
    const token = await new SignJWT({ auditstream_role: 'auditor', auditstream_tenants: ['beta'] })
      .setProtectedHeader({ alg: 'ES256', kid: 'it' })
      .setIssuer('https://issuer.test')
      .setAudience('auditstream-api')
      .setSubject('carol')
      .setExpirationTime('5m')
      .sign(signingKey);
    const got = await searchAll({ ...FULL, action: 'auth.login' }, token, 'carol');
    assert.deepEqual(got.map((e) => e.event_id).sort(), expectedIds({ ...FULL, action: 'auth.login', tenant: 'beta' }));
    assert.equal((await call(`/v1/events?${qs({ ...FULL, tenant: 'acme' })}`, token, { actor: 'carol' })).status, 403);
    const expired = await new SignJWT({ auditstream_role: 'admin' })
      .setProtectedHeader({ alg: 'ES256', kid: 'it' })
      .setIssuer('https://issuer.test')
      .setAudience('auditstream-api')
      .setSubject('mallory')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(signingKey);
    assert.equal((await call(`/v1/events?${qs(FULL)}`, expired)).status, 401);
  });
});

describe('errors as documented', () => {
  test('401 without or with a bad or revoked key; 403 for the wrong role; 400 for bad input', async () => {
    assert.equal((await call(`/v1/events?${qs(FULL)}`, '')).status, 401);
    assert.equal((await call(`/v1/events?${qs(FULL)}`, `${keys.admin.slice(0, -1)}${keys.admin.endsWith('A') ? 'B' : 'A'}`)).status, 401);
    const revoked = await call(`/v1/events?${qs(FULL)}`, keys.revoked);
    assert.equal(revoked.status, 401);
    assert.match(revoked.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal((await call(`/v1/events?${qs(FULL)}`, keys.service, { actor: actor('service') })).status, 403);
    assert.equal((await call(`/v1/alerts?${qs(FULL)}`, keys.auditor, { actor: actor('auditor') })).status, 403);
    const bad = await call(`/v1/events?${qs(FULL)}&limit=5000&nope=1`, keys.admin);
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad
        .json<{ errors: { parameter: string }[] }>()
        .errors.map((e) => e.parameter)
        .sort(),
      // An unknown name is never echoed.
      ['(unknown)', 'limit'],
    );
    const span = await call(`/v1/events?${qs({ from: BASE_US, to: BASE_US + 40 * DAY_US })}`, keys.admin);
    assert.equal(span.status, 400);
    assert.equal(span.json<{ errors: { parameter: string }[] }>().errors[0]?.parameter, 'to');
  });

  test('revocation takes effect (cache TTL 0 here)', async () => {
    const k = await createApiKey(db.ch, { role: 'auditor', tenants: ['acme'] });
    assert.equal((await call(`/v1/events?${qs({ ...FULL, limit: 1 })}`, k.key, { actor: k.id })).status, 200);
    await revokeApiKey(db.ch, k.id);
    assert.equal((await call(`/v1/events?${qs({ ...FULL, limit: 1 })}`, k.key)).status, 401);
  });

  test('429 with Retry-After once a key has used its bucket', async () => {
    const small = createApi({
      config: config({ rate_limit_burst: 3, rate_limit_per_s: 0.01 }),
      clickhouse: db.ch,
      logger: testLogger,
      metrics: createMetricsRegistry({ service: 'api-int-429', defaultMetrics: false }),
      recordEvent: audit.recordEvent,
    });
    const base = (await small.start()).url;
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 5; i++) {
        const r = await call(`/v1/events?${qs({ ...FULL, limit: 1 })}`, keys.acme, {}, {}, base);
        statuses.push(r.status);
        if (r.status === 429) retryAfter = r.headers.get('retry-after');
      }
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      // One token per 100 s: the wait left is 100 s minus the time the calls took (seconds on a busy machine).
      const wait = Number(retryAfter);
      assert.ok(Number.isInteger(wait) && wait > 80 && wait <= 100, `Retry-After ${retryAfter}`);
      assert.equal((await call(`/v1/events?${qs({ ...FULL, limit: 1 })}`, keys.admin, {}, {}, base)).status, 200, 'another key is not limited');
    } finally {
      await small.stop();
    }
  });

  test('504 when a query exceeds its max_execution_time (ClickHouse TIMEOUT_EXCEEDED, code 159)', async () => {
    // The real server, the real error: every query of this instance first runs a scalar subquery
    // that sleeps 0.5 s per one-row block, and query_timeout_s is 1, so ClickHouse stops it with
    // code 159 (18.16 checks the limit between blocks read from a source).
    const slow: ClickHouse = Object.create(db.ch, {
      queryRows: {
        value: (q: SqlFragment, options: Parameters<ClickHouse['queryRows']>[1]) =>
          options?.operation === 'api_key_lookup'
            ? db.ch.queryRows(q, options)
            : db.ch.queryRows(sql`SELECT * FROM (${q}) WHERE (SELECT count() FROM numbers(10) WHERE sleep(0.5) = 0) >= 0`, {
                ...options,
                settings: { ...options?.settings, max_block_size: '1' },
              }),
      },
    });
    const timed = createApi({
      config: config({ query_timeout_s: 1 }),
      clickhouse: slow,
      logger: testLogger,
      metrics: createMetricsRegistry({ service: 'api-int-504', defaultMetrics: false }),
      recordEvent: audit.recordEvent,
    });
    const base = (await timed.start()).url;
    try {
      for (const path of [`/v1/events?${qs(FULL)}`, `/v1/stats/timeseries?${qs(FULL)}`, `/v1/stats/top?${qs({ ...FULL, dimension: 'actor' })}`]) {
        const started = Date.now();
        const r = await call(path, keys.admin, {}, {}, base);
        assert.equal(r.status, 504, `${path}: ${r.text}`);
        assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
        assert.match(r.json<{ detail: string }>().detail, /time limit/);
        assert.ok(Date.now() - started < 10_000);
      }
    } finally {
      await timed.stop();
    }
  });

  test('exports: a failure before the first row is a problem answer, after it an aborted connection', async () => {
    // The real server raises the errors: the export query of this instance is wrapped so that
    // ClickHouse throws once 2,000 rows (about 2 MB, past its first flush) have been sent, or,
    // for the second instance, times out before the first row.
    const wrapped = (wrap: (query: string) => string, settings: Record<string, unknown> = {}): ClickHouse =>
      Object.create(db.ch, {
        client: {
          value: Object.create(db.ch.client, {
            query: {
              value: (params: { query: string; clickhouse_settings?: Record<string, unknown> }) =>
                db.ch.client.query({ ...params, query: wrap(params.query), clickhouse_settings: { ...params.clickhouse_settings, ...settings } } as never),
            },
          }),
        },
      });
    const midway = createApi({
      config: config(),
      // buffer_size: the server's HTTP send buffer, small so that the first rows leave before the error.
      clickhouse: wrapped((q) => `SELECT * FROM (${q}) WHERE throwIf(rowNumberInAllBlocks() >= 2000) = 0`, { buffer_size: 4096, max_block_size: '500' }),
      logger: testLogger,
      metrics: createMetricsRegistry({ service: 'api-int-abort', defaultMetrics: false }),
      recordEvent: audit.recordEvent,
    });
    const early = createApi({
      config: config({ export_timeout_s: 1 }),
      clickhouse: wrapped((q) => `SELECT * FROM (${q}) WHERE (SELECT count() FROM numbers(10) WHERE sleep(0.5) = 0) >= 0`, { max_block_size: '1' }),
      logger: testLogger,
      metrics: createMetricsRegistry({ service: 'api-int-early', defaultMetrics: false }),
      recordEvent: audit.recordEvent,
    });
    const [m, e] = [(await midway.start()).url, (await early.start()).url];
    try {
      const res = await fetch(`${m}/v1/export?${qs(FULL)}`, { headers: { authorization: `Bearer ${keys.admin}` } });
      assert.equal(res.status, 200, 'the first rows were streamed');
      let received = '';
      await assert.rejects(async () => {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) received += Buffer.from(chunk).toString();
      }, 'reading the body fails: the connection was aborted, not ended');
      const lines = received.split('\n').filter(Boolean);
      assert.ok(lines.length > 0 && lines.length < 3000, `${lines.length} lines before the abort`);
      const r = await call(`/v1/export?${qs(FULL)}`, keys.admin, {}, {}, e);
      assert.equal(r.status, 504, r.text);
      assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
    } finally {
      await midway.stop();
      await early.stop();
    }
  });

  test('injection payloads: 400 or an empty answer, never an error, never a change', async () => {
    const payloads = [
      "' OR '1'='1",
      "x'; DROP TABLE events; --",
      "x\\'; DROP TABLE events; --",
      "') UNION ALL SELECT name, name FROM system.tables --",
      "x' AND sleep(3) = 0 AND '1'='1",
      '`tenant_id`',
      '%27%20OR%201%3D1',
      '\\',
      "x' FORMAT TabSeparated --",
      '{p0:String}',
    ];
    const before = await rawEventRowCount(db.ch, 'acme');
    for (const p of payloads) {
      for (const param of [
        'actor_id',
        'resource_id',
        'resource_type',
        'service',
        'q',
        'tenant',
        'action_prefix',
        'action',
        'source_ip',
        'session_id',
        'category',
        'cursor',
      ]) {
        const r = await call(`/v1/events?${qs(FULL)}&${param}=${encodeURIComponent(p)}`, keys.admin);
        assert.ok(r.status === 200 || r.status === 400, `${param}=${p}: ${r.status} ${r.text.slice(0, 200)}`);
        if (r.status === 200) assert.deepEqual(r.json<{ data: unknown[] }>().data, [], `${param}=${p} matched rows`);
      }
      const path = `/v1/events/${encodeURIComponent(p)}`;
      assert.ok([400, 404].includes((await call(path, keys.admin)).status), path);
    }
    assert.equal(await rawEventRowCount(db.ch, 'acme'), before, 'nothing was changed');
  });
});

describe('alerts', () => {
  test('history in its latest state, filtered and paged (admin only)', async () => {
    const fired = Math.floor(BASE_US / 1_000_000) + 3600;
    const rows = Array.from({ length: 25 }, (_, i) => ({
      alert_id: `al-${String(i).padStart(3, '0')}`,
      tenant_id: i % 2 ? 'acme' : 'beta',
      rule_id: `rule-${i % 3}`,
      severity: (['low', 'medium', 'high', 'critical'] as const)[i % 4],
      status: 'firing',
      title: `Alert ${i}`,
      details: JSON.stringify({ count: i }),
      event_ids: [String(seeded[i]?.event_id)],
      fired_at: fired + i * 60,
      updated_at: fired + i * 60,
    }));
    await db.ch.insertJson('alerts', rows);
    // Later versions: resolved.
    await db.ch.insertJson(
      'alerts',
      rows.filter((_, i) => i % 5 === 0).map((r) => ({ ...r, status: 'resolved', updated_at: r.updated_at + 600 })),
    );
    const all: { alert_id: string; status: string; details: { count: number }; fired_at: string }[] = [];
    let cursor: string | null = null;
    do {
      const r = await call(`/v1/alerts?${qs({ ...FULL, limit: 10, ...(cursor ? { cursor } : {}) })}`, keys.admin, { actor: actor('admin') });
      assert.equal(r.status, 200, r.text);
      const body = r.json<{ data: typeof all; next_cursor: string | null }>();
      all.push(...body.data);
      cursor = body.next_cursor;
    } while (cursor);
    assert.equal(all.length, 25);
    assert.equal(new Set(all.map((a) => a.alert_id)).size, 25);
    assert.equal(all[0]?.alert_id, 'al-024', 'newest first');
    assert.deepEqual(
      all.filter((a) => a.status === 'resolved').map((a) => a.alert_id),
      ['al-020', 'al-015', 'al-010', 'al-005', 'al-000'],
    );
    assert.equal(all.find((a) => a.alert_id === 'al-007')?.details.count, 7);
    const critical = await call(`/v1/alerts?${qs({ ...FULL, severity: 'critical', tenant: 'acme', status: 'firing' })}`, keys.admin, { actor: actor('admin') });
    assert.deepEqual(
      critical.json<{ data: { alert_id: string }[] }>().data.map((a) => a.alert_id),
      ['al-023', 'al-019', 'al-011', 'al-007', 'al-003'].filter((id) => Number(id.slice(3)) % 5 !== 0),
    );
  });
});

describe('integrity and operations', () => {
  test('integrity verification answers 501 when no verifier is configured', async () => {
    const r = await call(
      '/v1/integrity/verify',
      keys.admin,
      { actor: actor('admin'), outcome: 'failure' },
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ from: isoOf(BASE_US), to: isoOf(BASE_US + DAY_US) }),
      },
    );
    assert.equal(r.status, 501);
    assert.match(r.json<{ detail: string }>().detail, /not configured/);
    expectedAudit.set(r.headers.get('x-request-id') as string, { action: 'audit.query', actor: actor('admin'), outcome: 'failure', endpoint: '' });
  });

  test('readyz checks ClickHouse; metrics are labelled by route pattern', async () => {
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.match(text, /auditstream_api_requests_total\{route="\/v1\/events\/:event_id",method="GET",status_class="2xx"/);
    assert.match(text, /auditstream_api_clickhouse_query_duration_seconds_count\{[^}]*query="search"/);
    assert.match(text, /auditstream_api_exported_rows_total\{format="ndjson"[^}]*\} [1-9]/);
    assert.doesNotMatch(text, /route="\/v1\/events\/[0-9a-f]{8}-/);
  });
});

describe('self-audit', () => {
  test('every call left its audit event on the topic, with the actor and the filter', async () => {
    assert.ok(expectedAudit.size > 100, `${expectedAudit.size} calls tracked`);
    // Refusals are on record too: key guessing (401) and bad input (400), published best-effort.
    const guessing = (e: AuditEvent) => e.action === 'audit.authenticate' && e.attributes.credential === 'api_key' && e.actor.type === 'anonymous';
    const badInput = (e: AuditEvent) => e.outcome === 'failure' && (e.attributes.invalid_parameters ?? '').split(',').sort().join() === '(unknown),limit';
    const events = await audit.readAll((evs) => {
      const got = new Set(evs.map((e) => e.request_id));
      return [...expectedAudit.keys()].every((id) => got.has(id)) && evs.some(guessing) && evs.some(badInput);
    }, 60_000);
    assert.ok(events.some(guessing) && events.some(badInput));
    const byRequest = new Map(events.map((e) => [e.request_id, e]));
    for (const [rid, want] of expectedAudit) {
      const e = byRequest.get(rid);
      assert.ok(e, `request ${rid} has its audit event`);
      assert.equal(e.action, want.action, rid);
      assert.equal(e.category, want.action === 'audit.export' ? 'data_export' : 'resource_access');
      assert.equal(e.actor.id, want.actor);
      assert.equal(e.outcome, want.outcome, `${rid} ${e.attributes.endpoint}`);
      assert.equal(e.service, 'auditstream-api');
      assert.match(String(e.actor.ip), /^(::ffff:)?127\.0\.0\.1$|^::1$/);
      assert.ok(e.attributes.endpoint?.startsWith('GET /v1/') || e.attributes.endpoint?.startsWith('POST /v1/'), e.attributes.endpoint);
    }
    // The filter is on record: a search by a tricky actor id names it exactly.
    const tricky = events.find((e) => e.attributes['filter.actor_id'] === TRICKY_ACTOR);
    assert.ok(tricky, 'the filter value is recorded verbatim');
    assert.equal(tricky.attributes['filter.from'] !== undefined, true);
    // Exports are audit.export / data_export; single reads name the event; JWT callers are users.
    assert.ok(events.some((e) => e.action === 'audit.export' && e.category === 'data_export' && e.attributes['filter.action_prefix'] === 'auth.'));
    assert.ok(events.some((e) => e.resource?.type === 'audit_event' && e.resource.id === seeded[14]?.event_id));
    assert.ok(events.some((e) => e.actor.id === 'carol' && e.actor.type === 'user' && e.tenant_id === 'beta'));
    assert.ok(events.some((e) => e.outcome === 'denied' && e.actor.id === actor('auditor') && e.reason === 'tenant_out_of_scope'));
    // No event ever carries a key secret.
    const text = JSON.stringify(events);
    for (const k of Object.values(keys)) assert.ok(!text.includes(k.slice(21)), 'no secret in audit events');
  });
});
