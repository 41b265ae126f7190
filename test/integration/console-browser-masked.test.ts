// Withheld values in the web console (Debian's chromium via playwright-core) against the real
// stack: events published through the SDK, their IP and name encrypted by the real
// `auditstream ingest`, served by the real `auditstream api` with the master key. Without the
// PII permission the IP shows as a "masked" badge saying why, with no pivot link (a filter on the
// mask would match every masked event); the session id, not encrypted, stays a pivot; with the
// PII permission the clear IP is a pivot again. The strict CSP holds and axe finds nothing serious.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApiKey } from '@auditstream/api';
import { repoRoot } from '@auditstream/core';
import { createAuditProducer } from '@auditstream/producer';
import {
  type Child,
  createTestEnv,
  type IngestChild,
  launchChromium,
  sampleInput,
  seriousA11yViolations,
  spawnCli,
  spawnIngest,
  type TestEnv,
  waitForStored,
} from '@auditstream/test';
import type { Browser, Page } from 'playwright-core';

const ARTIFACTS = join(repoRoot(), 'test', 'artifacts', 'console');
const IP = '203.0.113.77';
const SESSION = 'sess-masked-1';
const from = new Date(Date.now() - 3_600_000).toISOString();
const to = new Date(Date.now() + 3_600_000).toISOString();

let env: TestEnv;
let ingest: IngestChild;
let api: Child;
let browser: Browser;
let url: string;
let keyDir: string;
const keys = { plain: '', pii: '' };
let eventId: string;

async function signedIn(key: string): Promise<{ page: Page; csp: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const csp: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
  });
  const res = await fetch(`${url}/v1/console/signin-codes`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
  assert.equal(res.status, 200);
  const { code } = (await res.json()) as { code: string };
  await page.goto(`${url}/console/signin#code=${code}`);
  await page.waitForURL(/\/console\/search/);
  return { page, csp };
}

async function searchPage(page: Page): Promise<void> {
  await page.goto(`${url}/console/search?${new URLSearchParams({ tenant: env.tenant, from, to })}`);
  await page.locator(`[data-testid=results] tbody tr[data-event-id="${eventId}"]`).waitFor();
}

const row = (page: Page) => page.locator(`[data-testid=results] tbody tr[data-event-id="${eventId}"]`);

describe('masked values in the console', { timeout: 180_000 }, () => {
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    keyDir = mkdtempSync(join(tmpdir(), 'console-masked-'));
    const masterKeyFile = join(keyDir, 'master.key');
    writeFileSync(masterKeyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    env = await createTestEnv({
      partitions: 1,
      extraEnv: {
        AUDITSTREAM_ENCRYPTION__ENABLED: 'true',
        AUDITSTREAM_ENCRYPTION__MASTER_KEY_FILE: masterKeyFile,
        AUDITSTREAM_ENCRYPTION__FIELDS: 'actor.name,actor.ip',
        AUDITSTREAM_INGEST__BATCH_MAX_AGE_MS: '100',
      },
    });
    ingest = spawnIngest(env.env);
    const event = { ...sampleInput(env.tenant, 0), actor: { id: 'alice', type: 'user' as const, name: 'Alice Liddell', ip: IP, session_id: SESSION } };
    eventId = event.event_id;
    const producer = createAuditProducer({ kafka: env.kafka, topic: env.topic, linger_ms: 5 });
    await producer.connect();
    await producer.publish(event);
    await producer.close();
    await waitForStored(env, 1, { timeoutMs: 60_000 });
    api = spawnCli('api', ['api'], { ...env.env, AUDITSTREAM_API__PORT: '0', AUDITSTREAM_LOG__LEVEL: 'info' });
    url = (await api.waitFor(/"url":"(http:\/\/[^"]+)"[^\n]*query API listening/, 60_000))[1] as string;
    keys.plain = (await createApiKey(env.ch, { role: 'auditor', tenants: [env.tenant] })).key;
    keys.pii = (await createApiKey(env.ch, { role: 'auditor', tenants: [env.tenant], pii: true })).key;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await api?.stop();
    await ingest?.stop();
    await env?.cleanup();
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });

  test('without the PII permission: the IP is a masked badge saying why, with no pivot; the session stays a pivot', async () => {
    const { page, csp } = await signedIn(keys.plain);
    await searchPage(page);
    const ip = row(page).locator('td').nth(7);
    const badge = ip.locator('.masked[data-path="actor.ip"]');
    assert.equal(await badge.getAttribute('data-masked'), 'no_pii_permission');
    assert.match((await badge.getAttribute('title')) ?? '', /PII permission/);
    assert.match((await badge.textContent()) ?? '', /^masked: hidden from you/, 'the reason is in the text read out too');
    assert.equal(await ip.locator('a').count(), 0, 'no pivot on a masked value');
    assert.doesNotMatch((await ip.textContent()) ?? '', /\*\*\*/, 'the mask text is not offered as a value');
    const session = row(page).locator('td').nth(8).locator('a.pivot');
    assert.equal(await session.textContent(), SESSION);
    assert.match((await session.getAttribute('href')) ?? '', new RegExp(`session_id=${SESSION}`));
    await page.screenshot({ path: join(ARTIFACTS, 'masked-search.png'), fullPage: true });
    assert.deepEqual(await seriousA11yViolations(page), []);

    // The detail page: the badge in the actor's fields, no "IP" search link, the session link kept.
    await row(page).locator('a.time').click();
    await page.waitForURL(/\/console\/events\//);
    await page.getByRole('heading', { name: 'Actor' }).waitFor();
    assert.equal(await page.locator('.fields-list .masked[data-path="actor.ip"]').count(), 1);
    assert.equal(await page.locator('.fields-list .masked[data-path="actor.name"]').count(), 1);
    const pivots = page.locator('p.pivots');
    assert.equal(await pivots.getByRole('link', { name: 'IP', exact: true }).count(), 0);
    assert.equal(await pivots.getByRole('link', { name: 'session', exact: true }).count(), 1);
    await page.screenshot({ path: join(ARTIFACTS, 'masked-detail.png'), fullPage: true });
    assert.deepEqual(await seriousA11yViolations(page), []);
    assert.deepEqual(csp, [], 'no CSP violations');
  });

  test('with the PII permission: the clear IP is a pivot and nothing is marked masked', async () => {
    const { page, csp } = await signedIn(keys.pii);
    await searchPage(page);
    const ip = row(page).locator('td').nth(7);
    assert.equal(await ip.locator('.masked').count(), 0);
    const pivot = ip.locator('a.pivot');
    assert.equal(await pivot.textContent(), IP);
    assert.match((await pivot.getAttribute('href')) ?? '', new RegExp(`source_ip=${IP.replace(/\./g, '\\.')}`));
    assert.deepEqual(csp, []);
  });
});
