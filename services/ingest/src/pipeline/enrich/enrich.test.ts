import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuditEvent } from '@auditstream/schemas';
import { Registry } from 'prom-client';
import { createIngestMetrics } from '../../metrics.js';
import { cachedGeo, type GeoResult, lookupGeo } from './geo.js';
import { geoFileLookup } from './geo-file.js';
import { createEnricher, type EnrichConfig } from './index.js';
import { compileSeverityRules } from './severity.js';
import { parseUserAgent } from './useragent.js';

const CHROME_WIN = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';

export function sampleEvent(over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    event_id: '0190f5e2-7c1a-7b3e-8f00-000000000001',
    tenant_id: 't1',
    occurred_at: 1_700_000_000_000_000,
    actor: { id: 'u1', type: 'user', name: null, session_id: null, ip: '81.2.69.142', user_agent: CHROME_WIN },
    action: 'auth.login',
    category: 'authentication',
    outcome: 'success',
    reason: null,
    service: 'svc',
    host: null,
    region: null,
    resource: null,
    request_id: null,
    trace_id: null,
    severity: 'info',
    attributes: {},
    producer_id: null,
    producer_seq: null,
    ...over,
  };
}

const baseCfg: EnrichConfig = {
  geo_enabled: true,
  user_agent_enabled: true,
  severity_enabled: true,
  severity_rules: [{ category: 'authentication', outcome: 'failure', severity: 'low' }],
  redact_enabled: true,
  redact_emails: true,
  redact_bearer_tokens: true,
  redact_card_numbers: true,
  redact_patterns: [],
  redact_fields: ['reason', 'attributes', 'actor.name', 'resource.name'],
  redact_drop_attribute_keys: [],
  redact_mask_attribute_keys: ['password'],
};

test('geo: the offline database shipped in the npm package resolves public IPv4 and IPv6, without network', () => {
  const lookup = geoFileLookup();
  const gb = lookupGeo(lookup, '81.2.69.142');
  assert.equal(gb.ok, true);
  assert.equal(gb.ok && gb.geo.country, 'GB');
  assert.ok(gb.ok && gb.geo.city.length > 0, 'a city for a well-known GB address');
  const v6 = lookupGeo(lookup, '2a02:8070::1');
  assert.equal(v6.ok && v6.geo.country, 'DE');
  const mapped = lookupGeo(lookup, '::ffff:81.2.69.142');
  assert.equal(mapped.ok && mapped.geo.country, 'GB');
});

test('geo: an address is looked up once while kept, the kept outcomes are bounded, and a failed lookup is tried again', () => {
  const asked: string[] = [];
  let broken = true;
  const geo = cachedGeo((ip): GeoResult | undefined => {
    asked.push(ip);
    if (ip === '8.8.4.4' && broken) {
      broken = false;
      throw new Error('db read failed');
    }
    return ip === '10.0.0.1' ? undefined : { country: 'US', city: ip };
  }, 3);
  assert.deepEqual(geo('8.8.8.8'), { ok: true, geo: { country: 'US', city: '8.8.8.8' } });
  assert.deepEqual(geo('8.8.8.8'), { ok: true, geo: { country: 'US', city: '8.8.8.8' } });
  assert.deepEqual(geo('10.0.0.1'), { ok: false, why: 'not_found' });
  assert.deepEqual(geo('10.0.0.1'), { ok: false, why: 'not_found' });
  assert.deepEqual(geo('not-an-ip'), { ok: false, why: 'not_an_ip' });
  assert.deepEqual(asked, ['8.8.8.8', '10.0.0.1'], 'kept outcomes (found, not found) are not looked up again; a non-address is never looked up');
  assert.deepEqual(geo('8.8.4.4'), { ok: false, why: 'error' });
  assert.deepEqual(geo('8.8.4.4'), { ok: true, geo: { country: 'US', city: '8.8.4.4' } }, 'a failed lookup is not kept');
  // Three kept (8.8.8.8, 10.0.0.1, not-an-ip): 8.8.4.4 cleared them, so 8.8.8.8 is looked up again.
  asked.length = 0;
  geo('8.8.8.8');
  assert.deepEqual(asked, ['8.8.8.8'], 'the kept outcomes are bounded by the size');
});

test('geo: private, loopback and malformed addresses fail softly', () => {
  const lookup = geoFileLookup();
  assert.deepEqual(lookupGeo(lookup, '10.1.2.3'), { ok: false, why: 'not_found' });
  assert.deepEqual(lookupGeo(lookup, '127.0.0.1'), { ok: false, why: 'not_found' });
  assert.deepEqual(lookupGeo(lookup, 'not-an-ip'), { ok: false, why: 'not_an_ip' });
  assert.deepEqual(
    lookupGeo(() => {
      throw new Error('db broken');
    }, '8.8.8.8'),
    { ok: false, why: 'error' },
  );
});

test('user agent: browser, OS and device type', () => {
  assert.deepEqual(parseUserAgent(CHROME_WIN), { browser: 'Chrome 120', os: 'Windows 10', device: 'desktop' });
  assert.deepEqual(parseUserAgent(IPHONE), { browser: 'Mobile Safari 17', os: 'iOS 17.0', device: 'mobile' });
  assert.equal(parseUserAgent('curl-ish garbage'), undefined);
});

test('severity: rules raise, never lower, highest match wins; action prefix and suffix patterns', () => {
  const sev = compileSeverityRules([
    { category: 'authentication', outcome: 'failure', severity: 'low' },
    { action: 'user.role.*', severity: 'medium' },
    { action: '*.delete', outcome: 'success', severity: 'high' },
    { category: 'admin', severity: 'critical' },
  ]);
  const e = (o: Partial<AuditEvent>) => ({ category: 'resource_access', outcome: 'success', action: 'doc.read', severity: 'info', ...o }) as AuditEvent;
  assert.equal(sev(e({})), 'info');
  assert.equal(sev(e({ category: 'authentication', outcome: 'failure' })), 'low');
  assert.equal(sev(e({ action: 'user.role.grant' })), 'medium');
  assert.equal(sev(e({ action: 'doc.delete' })), 'high');
  assert.equal(sev(e({ action: 'doc.delete', outcome: 'denied' })), 'info');
  assert.equal(sev(e({ category: 'admin', action: 'user.role.grant' })), 'critical');
  assert.equal(sev(e({ severity: 'high', category: 'authentication', outcome: 'failure' })), 'high');
});

test('enricher: fills the columns, counts failed lookups by stage, never throws', () => {
  const metrics = createIngestMetrics(new Registry());
  const enrich = createEnricher(baseCfg, metrics, {
    geo: (ip) => (ip === '81.2.69.142' ? { country: 'GB', city: 'St Albans' } : undefined),
  });
  const ev = sampleEvent({ category: 'authentication', outcome: 'failure' });
  assert.deepEqual(enrich(ev), { geo_country: 'GB', geo_city: 'St Albans', ua_browser: 'Chrome 120', ua_os: 'Windows 10', ua_device: 'desktop' });
  assert.equal(ev.severity, 'low');
  const miss = sampleEvent({ actor: { ...sampleEvent().actor, ip: '10.0.0.1', user_agent: '???' } });
  assert.deepEqual(enrich(miss), { geo_country: '', geo_city: '', ua_browser: '', ua_os: '', ua_device: '' });
  const throwing = createEnricher(baseCfg, metrics, {
    geo: () => {
      throw new Error('boom');
    },
  });
  assert.equal(throwing(sampleEvent()).geo_country, '');
  const failures = (metrics.enrichmentFailures as unknown as { hashMap: Record<string, { value: number; labels: { stage: string } }> }).hashMap;
  const byStage = Object.fromEntries(Object.values(failures).map((v) => [v.labels.stage, v.value]));
  assert.deepEqual(byStage, { geo: 2, user_agent: 1 });
});

test('enricher: every step can be switched off', () => {
  const metrics = createIngestMetrics(new Registry());
  const enrich = createEnricher({ ...baseCfg, geo_enabled: false, user_agent_enabled: false, severity_enabled: false, redact_enabled: false }, metrics, {
    geo: () => {
      throw new Error('must not be called');
    },
  });
  const ev = sampleEvent({ category: 'authentication', outcome: 'failure', reason: 'mail bob@example.com', attributes: { password: 'x' } });
  assert.deepEqual(enrich(ev), { geo_country: '', geo_city: '', ua_browser: '', ua_os: '', ua_device: '' });
  assert.equal(ev.severity, 'info');
  assert.equal(ev.reason, 'mail bob@example.com');
  assert.equal(ev.attributes.password, 'x');
});

test('enricher: the same event and config always give the same output (deterministic rows)', () => {
  const metrics = createIngestMetrics(new Registry());
  const enrich = createEnricher(baseCfg, metrics, { geo: () => ({ country: 'FR', city: 'Paris' }) });
  const a = sampleEvent({ reason: 'token Bearer abc.def', attributes: { email: 'a@b.io' } });
  const b = structuredClone(a);
  assert.deepEqual(enrich(a), enrich(b));
  assert.deepEqual(a, b);
});

test('enricher: a redaction that throws fails closed (the text is not stored) and is counted', () => {
  const metrics = createIngestMetrics(new Registry());
  const enrich = createEnricher({ ...baseCfg, geo_enabled: false, redact_patterns: [{ name: 'boom', regex: 'x' }] }, metrics);
  const ev = sampleEvent({ reason: 'x', attributes: { a: 'b' } });
  // A getter that throws while the redactor reads the attribute values.
  Object.defineProperty(ev.attributes, 'a', {
    get() {
      throw new Error('boom');
    },
    set() {},
    enumerable: true,
    configurable: true,
  });
  enrich(ev);
  assert.equal(ev.reason, '[redacted]');
  const failures = (metrics.enrichmentFailures as unknown as { hashMap: Record<string, { value: number; labels: { stage: string } }> }).hashMap;
  assert.equal(Object.values(failures).find((v) => v.labels.stage === 'redact')?.value, 1);
});
