// The web console in a real browser (Debian's chromium via playwright-core) against the real
// stack: events published through the SDK, stored by the real `auditstream ingest`, served by the
// real `auditstream api` child process. Counts are checked against ClickHouse directly.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApiKey } from '@auditstream/api';
import { repoRoot, uniqueName } from '@auditstream/core';
import { type ExportManifest, generateKeyFiles, MANIFEST_TYPE } from '@auditstream/integrity';
import { deleteTopics } from '@auditstream/kafka';
import { createAuditProducer } from '@auditstream/producer';
import {
  type Child,
  createTestEnv,
  type IngestChild,
  launchChromium,
  publishEvents,
  publishPoison,
  runCli,
  sampleInput,
  scrape,
  seriousA11yViolations,
  spawnCli,
  spawnIngest,
  type TestEnv,
  waitFor,
  waitForStored,
} from '@auditstream/test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestIssuer, type TestIssuer } from './oidc-issuer.test-helper.js';

const ARTIFACTS = join(repoRoot(), 'test', 'artifacts', 'console');
// README's screenshot is only rewritten on request (`npm run screenshot`), so a test run leaves the tree clean.
const README_SHOT = process.env.AUDITSTREAM_TEST_UPDATE_SCREENSHOT === '1' ? join(repoRoot(), 'docs', 'img', 'console.png') : join(ARTIFACTS, 'readme.png');
const N_A = 240;
const N_B = 60;
const POISON = 3;
/** Failed logins of one actor in a third tenant: the default rules' brute_force fires at 6 within 60 s. */
const BURST = 8;

let env: TestEnv;
let ingest: IngestChild;
let alerting: Child;
let api: Child;
let tenantC: string;
let burstIds: string[];
/** The burst's events of session sess-1 (two sessions, alternating). */
let sessionIds: string[];
let alertsTopic: string;
let issuer: TestIssuer;
const OIDC_CLIENT = 'auditstream-console';
const OIDC_AUDIENCE = 'auditstream-api';
let url: string;
let browser: Browser;
let adminKey: string;
let tenantB: string;
let keyDir: string;
let manifestKey: { publicKeyFile: string; privateKeyFile: string };
// Whole seconds: the same bounds in the URL and in the independent ClickHouse count.
const from = new Date(Math.floor(Date.now() / 1000) * 1000 - 86_400_000).toISOString();
const to = new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000).toISOString();

async function chCount(where: string): Promise<number> {
  const [r] = await env.ch.queryRows<{ n: string }>(
    `SELECT uniqExact(event_id) AS n FROM ${env.database}.events WHERE ${where}
       AND occurred_at >= toDateTime('${from.slice(0, 19).replace('T', ' ')}', 'UTC') AND occurred_at < toDateTime('${to.slice(0, 19).replace('T', ' ')}', 'UTC')`,
  );
  return Number(r?.n ?? -1);
}

/** A page that records CSP violations and every /v1/ answer body. */
async function openPage(context: BrowserContext): Promise<{ page: Page; csp: string[]; bodies: string[] }> {
  const page = await context.newPage();
  const csp: string[] = [];
  const bodies: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
  });
  page.on('response', async (r) => {
    if (new URL(r.url()).pathname.startsWith('/v1/')) bodies.push(await r.text().catch(() => ''));
  });
  return { page, csp, bodies };
}

async function signIn(page: Page, key: string): Promise<void> {
  const res = await fetch(`${url}/v1/console/signin-codes`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
  assert.equal(res.status, 200);
  const { code } = (await res.json()) as { code: string };
  await page.goto(`${url}/console/signin#code=${code}`);
  await page.waitForURL(/\/console\/search/);
}

async function checkPage(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const violations = await seriousA11yViolations(page);
  assert.deepEqual(violations, [], `${name}: serious or critical accessibility violations`);
}

const rowIds = (page: Page) => page.locator('[data-testid=results] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event-id') ?? ''));
const totalOf = async (page: Page) => Number((await page.getByTestId('total').textContent())?.replace(/,/g, ''));

describe('the web console in chromium', { timeout: 240_000 }, () => {
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    keyDir = mkdtempSync(join(tmpdir(), 'console-browser-'));
    manifestKey = generateKeyFiles(join(keyDir, 'api-key'));
    env = await createTestEnv({ partitions: 2 });
    tenantB = uniqueName('tenant_b');
    // A signed checkpoint a second after new rows: the detail page's verified mark has one to check against.
    ingest = spawnIngest({ ...env.env, AUDITSTREAM_INTEGRITY__CHECKPOINT_INTERVAL_MS: '1000' });
    await publishEvents(env.kafka, env.topic, env.tenant, N_A);
    await publishEvents(env.kafka, env.topic, tenantB, N_B);
    await publishPoison(env.kafka, env.topic, POISON, 2); // dead letters for the pipeline health page
    // The real alerting service on this test's topics, storing its alerts in this test's database
    // (the ClickHouse sink), evaluating a brute-force burst that the real ingest stores too.
    tenantC = uniqueName('tenant_c');
    alertsTopic = `${env.topic}.alerts`;
    const admin = env.kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: alertsTopic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    alerting = spawnCli('alerting', ['alerting'], {
      ...env.env,
      AUDITSTREAM_TOPICS__ALERTS: alertsTopic,
      AUDITSTREAM_ALERTING__CONSUMER_GROUP: uniqueName('console_alerting'),
      AUDITSTREAM_ALERTING__START_FROM: 'earliest',
      AUDITSTREAM_ALERTING__METRICS_PORT: '0',
      AUDITSTREAM_ALERTING__WATCH_RULES: 'false',
      AUDITSTREAM_ALERTING__SINKS__CLICKHOUSE__ENABLED: 'true',
      AUDITSTREAM_LOG__LEVEL: 'info',
    });
    const burst = Array.from({ length: BURST }, (_, i) => ({
      ...sampleInput(tenantC, i * 10),
      actor: { id: 'mallory', type: 'user' as const, name: 'Mallory', ip: '203.0.113.66', user_agent: 'curl/8', session_id: `sess-${i % 2}` },
    }));
    burstIds = burst.map((e) => e.event_id);
    sessionIds = burst.filter((e) => e.actor.session_id === 'sess-1').map((e) => e.event_id);
    const producer = createAuditProducer({ kafka: env.kafka, topic: env.topic, linger_ms: 5 });
    await producer.connect();
    await producer.publishMany(burst);
    await producer.close();
    await waitForStored(env, N_A, { timeoutMs: 90_000 });
    await waitForStored({ ch: env.ch, tenant: tenantB }, N_B, { timeoutMs: 90_000 });
    await waitForStored({ ch: env.ch, tenant: tenantC }, BURST, { timeoutMs: 90_000 });
    const ingestMetrics = await ingest.metricsUrl();
    await waitFor(
      'the poison messages dead-lettered',
      () => scrape(ingestMetrics, 'auditstream_ingest_dead_lettered_events_total'),
      (n) => n >= POISON,
      60_000,
    );
    // A local OIDC issuer (no network): an auditor of tenant B signs in through it.
    issuer = await startTestIssuer({
      clientId: OIDC_CLIENT,
      audience: OIDC_AUDIENCE,
      claims: { sub: 'oidc-auditor', auditstream_role: 'auditor', auditstream_tenants: [tenantB] },
    });
    api = spawnCli('api', ['api'], {
      AUDITSTREAM_API__OIDC_JWKS_URL: issuer.jwksUrl,
      AUDITSTREAM_API__OIDC_ISSUER: issuer.url,
      AUDITSTREAM_API__OIDC_AUDIENCE: OIDC_AUDIENCE,
      AUDITSTREAM_API__CONSOLE_OIDC_CLIENT_ID: OIDC_CLIENT,
      ...env.env,
      AUDITSTREAM_API__PIPELINE_INGEST_METRICS_URL: `${ingestMetrics}/metrics`,
      // The alerting service's metrics are pointed nowhere: the page must say so rather than fail.
      AUDITSTREAM_API__PIPELINE_ALERTING_METRICS_URL: 'http://127.0.0.1:9/metrics',
      AUDITSTREAM_API__PORT: '0',
      AUDITSTREAM_LOG__LEVEL: 'info',
      AUDITSTREAM_INTEGRITY__PUBLIC_KEY_FILES: env.signingKey.publicKeyFile,
      // The console offers each export's signed manifest: the API needs its key to sign one.
      AUDITSTREAM_API__EXPORT_MANIFEST_SIGNING_KEY_FILE: manifestKey.privateKeyFile,
    });
    url = (await api.waitFor(/"url":"(http:\/\/[^"]+)"[^\n]*query API listening/, 60_000))[1] as string;
    adminKey = (await createApiKey(env.ch, { role: 'admin', tenants: [] })).key;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await api?.stop();
    await issuer?.close();
    await alerting?.stop();
    await ingest?.stop();
    try {
      if (alertsTopic) await deleteTopics(env.kafka, [alertsTopic]);
    } finally {
      await env?.cleanup();
      if (keyDir) rmSync(keyDir, { recursive: true, force: true });
    }
  });

  test('the console is served with a strict CSP and no inline script', async () => {
    const res = await fetch(`${url}/console/search`);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]/);
    const embed = await fetch(`${url}/console/embed`);
    assert.match(embed.headers.get('content-security-policy') ?? '', /frame-ancestors 'self'/); // the default of api.console_frame_ancestors
  });

  test('sign-in, search counts, paging, pivot, detail, export (admin key)', async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
    const { page, csp } = await openPage(context);

    // A sign-in link's code works once.
    const res = await fetch(`${url}/v1/console/signin-codes`, { method: 'POST', headers: { authorization: `Bearer ${adminKey}` } });
    const { code } = (await res.json()) as { code: string };
    await page.goto(`${url}/console/signin`);
    await checkPage(page, 'signin');
    await page.goto(`${url}/console/signin#code=${code}`);
    await page.waitForURL(/\/console\/search/);
    assert.equal(page.url().includes(code), false, 'the code is not kept in the URL');
    const again = await fetch(`${url}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
    assert.equal(again.status, 400, 'a used code is refused');

    // A search's count against ClickHouse.
    const q = new URLSearchParams({ tenant: env.tenant, action: 'auth.login', from, to });
    await page.goto(`${url}/console/search?${q}`);
    await page.getByTestId('total').waitFor();
    const logins = await chCount(`tenant_id = '${env.tenant}' AND action = 'auth.login'`);
    assert.equal(logins, N_A / 10);
    assert.equal(await totalOf(page), logins);
    await page.locator('[data-testid=results] tbody tr').first().waitFor();
    assert.equal((await rowIds(page)).length, logins);
    await checkPage(page, 'search');

    // Paging: 50 a page over the tenant's sample events, every one exactly once.
    const all = new URLSearchParams({ tenant: env.tenant, service: 'bench', from, to, limit: '50' });
    await page.goto(`${url}/console/search?${all}`);
    await page.getByTestId('total').waitFor();
    assert.equal(await totalOf(page), await chCount(`tenant_id = '${env.tenant}' AND service = 'bench'`));
    await page.screenshot({ path: README_SHOT });
    const seen: string[] = [];
    let first: string[] = [];
    for (let n = 0; ; n++) {
      await page.locator('[data-testid=results] tbody tr').first().waitFor();
      const ids = await rowIds(page);
      if (n === 0) first = ids;
      seen.push(...ids);
      const next = page.getByTestId('next');
      if ((await next.count()) === 0) break;
      const before = page.url();
      await next.click();
      await page.waitForURL((u) => u.toString() !== before);
    }
    assert.equal(new Set(seen).size, N_A);
    assert.equal(seen.length, N_A);
    // Back to the first page through the browser's history.
    for (let i = 0; i < Math.ceil(N_A / 50) - 1; i++) await page.goBack();
    await page.waitForFunction(() => !(globalThis as unknown as { location: URL }).location.search.includes('cursor='));
    await page.locator('[data-testid=results] tbody tr').first().waitFor();
    assert.deepEqual(await rowIds(page), first);

    // A pivot: click an actor.
    const actor = (await page.locator('[data-testid=results] tbody tr').first().locator('td').nth(2).textContent()) as string;
    await page.locator('[data-testid=results] tbody tr').first().locator('td').nth(2).locator('a').click();
    await page.waitForURL(/actor_id=/);
    await page.getByTestId('total').waitFor();
    await page.locator('[data-testid=results] tbody tr').first().waitFor();
    assert.equal(await totalOf(page), await chCount(`tenant_id = '${env.tenant}' AND service = 'bench' AND actor_id = '${actor}'`));
    const actors = await page.locator('[data-testid=results] tbody tr td:nth-child(3)').allTextContents();
    assert.ok(actors.length > 0 && actors.every((a) => a === actor));
    await checkPage(page, 'pivot');

    // Export of the current search.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export NDJSON' }).click()]);
    const exportFile = (await download.path()) as string;
    const lines = readFileSync(exportFile, 'utf8').trim().split('\n');
    assert.equal(lines.length, await totalOf(page));
    assert.ok(lines.every((l) => (JSON.parse(l) as { actor: { id: string } }).actor.id === actor));
    // Its signed manifest, offered once the export is complete, and the CLI's verdict on the pair.
    const manifestLink = page.getByRole('link', { name: 'Download signed manifest' });
    await manifestLink.waitFor();
    assert.match((await page.getByTestId('manifest').textContent()) ?? '', /auditstream export verify <file> <manifest>/);
    await checkPage(page, 'export-manifest');
    const [manifestDownload] = await Promise.all([page.waitForEvent('download'), manifestLink.click()]);
    assert.equal(manifestDownload.suggestedFilename(), 'auditstream-export.manifest.json');
    const manifestFile = (await manifestDownload.path()) as string;
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as ExportManifest;
    assert.equal(manifest.type, MANIFEST_TYPE);
    assert.equal(typeof manifest.signature, 'string');
    assert.equal(manifest.row_count, lines.length);
    const verified = await runCli(
      'export-verify',
      ['export', 'verify', exportFile, manifestFile, '--public-key', manifestKey.publicKeyFile, '--checkpoint-key', env.signingKey.publicKeyFile],
      {},
    );
    assert.equal(verified.code, 0, verified.output);

    // Detail of an event: every field and its chain place.
    const id = (await page.locator('[data-testid=results] tbody tr').first().getAttribute('data-event-id')) as string;
    await page.locator('[data-testid=results] tbody tr').first().locator('a.time').click();
    await page.waitForURL(/\/console\/events\//);
    await page.getByRole('heading', { name: /Chain place/ }).waitFor();
    assert.match((await page.locator('main').textContent()) ?? '', new RegExp(id));
    assert.match((await page.locator('main').textContent()) ?? '', /chain_seq/);
    await checkPage(page, 'detail');

    // The actor page, alerts and integrity render and are accessible.
    await page.goto(`${url}/console/actors/${encodeURIComponent(actor)}?tenant=${env.tenant}`);
    await page.getByTestId('top-actions').locator('tbody tr').first().waitFor();
    await checkPage(page, 'actor');
    // An alert links to its sample events and to the search that reproduces it: the alert the
    // real alerting service raised for the burst, stored by its ClickHouse sink, once.
    const stored = await waitFor(
      'the brute-force alert stored by the alerting service',
      () =>
        env.ch.queryRows<{ id: string; samples: string[] }>(
          `SELECT alert_id AS id, event_ids AS samples FROM ${env.database}.alerts FINAL WHERE tenant_id = '${tenantC}' AND rule_id = 'brute_force'`,
        ),
      (rows) => rows.length > 0,
      90_000,
    );
    assert.equal(stored.length, 1, 'one row per incident');
    const samples = stored[0]?.samples ?? [];
    assert.ok(samples.length >= 6, `the alert names the events that triggered it (${samples.length})`);
    for (const id of samples) assert.ok(burstIds.includes(id), `sample ${id} is one of the burst's events`);
    await page.goto(`${url}/console/alerts`);
    const alertRow = page.locator('[data-testid=alerts] tbody tr').filter({ hasText: tenantC });
    await alertRow.first().waitFor();
    assert.equal(await alertRow.count(), 1);
    assert.equal(await alertRow.getAttribute('data-alert-id'), stored[0]?.id);
    assert.match((await alertRow.textContent()) ?? '', /high.*brute_force.*actor\.id=mallory/);
    await checkPage(page, 'alerts');
    await alertRow.locator('a.sample').first().click();
    await page.waitForURL(new RegExp(`/console/events/${samples[0]}`));
    await page.getByRole('heading', { name: /Chain place/ }).waitFor();
    await page.goBack();
    await alertRow.locator('a.reproduce').click();
    await page.waitForURL(/\/console\/search\?.*actor_id=mallory/);
    await page.locator('[data-testid=results] tbody tr').first().waitFor();
    const reproduced = await rowIds(page);
    for (const id of samples) assert.ok(reproduced.includes(id), `the reproducing search shows sample event ${id}`);
    assert.equal(await totalOf(page), BURST, 'the reproducing search finds the burst');
    // Session pivot: a session id in the results filters on it (the API's session_id).
    await page.locator('[data-testid=results] a.pivot', { hasText: 'sess-1' }).first().click();
    await page.waitForURL(/\/console\/search\?.*session_id=sess-1/);
    await waitFor(
      'the session search',
      () => totalOf(page),
      (n) => n === BURST / 2,
      10_000,
    );
    assert.equal(await chCount(`tenant_id = '${tenantC}' AND actor_session_id = 'sess-1'`), BURST / 2);
    assert.deepEqual(
      await waitFor(
        'the session\u2019s rows',
        async () => (await rowIds(page)).sort(),
        (ids) => ids.length === BURST / 2,
        10_000,
      ),
      [...sessionIds].sort(),
    );

    // A saved search survives a reload (it is stored server-side).
    const savedName = `logins ${uniqueName('s')}`;
    await page.goto(`${url}/console/search?${new URLSearchParams({ tenant: env.tenant, action: 'auth.login', range: '24h' })}`);
    await page.getByLabel('Save this search as').fill(savedName);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page
      .getByTestId('save-state')
      .getByText(/Saved as/)
      .waitFor();
    await page.goto(`${url}/console/saved`);
    await page.reload();
    await page.getByRole('link', { name: savedName }).waitFor();
    await checkPage(page, 'saved');
    await page.getByRole('link', { name: savedName }).click();
    await page.waitForURL(/\/console\/search\?/);
    const restored = new URL(page.url()).searchParams;
    assert.equal(restored.get('tenant'), env.tenant);
    assert.equal(restored.get('action'), 'auth.login');
    assert.equal(restored.get('range'), '24h');
    await page.getByTestId('total').waitFor();
    assert.equal(await totalOf(page), logins);
    // The latest checkpoint of each partition, checked against the checkpoints table (which only grows meanwhile).
    const maxCheckpoint = async () =>
      new Map(
        (
          await env.ch.queryRows<{ p: number; o: string }>(
            `SELECT partition AS p, toString(max(last_offset)) AS o FROM ${env.database}.checkpoints WHERE topic = '${env.topic}' GROUP BY partition`,
          )
        ).map((r) => [Number(r.p), Number(r.o)]),
      );
    const cpBefore = await maxCheckpoint();
    await page.goto(`${url}/console/integrity`);
    await page.locator(`[data-testid=checkpoints] tbody tr[data-topic="${env.topic}"]`).first().waitFor();
    const shown = await page
      .locator(`[data-testid=checkpoints] tbody tr[data-topic="${env.topic}"]`)
      .evaluateAll((rows) => rows.map((r) => [Number(r.getAttribute('data-partition')), Number(r.querySelector('.offset')?.textContent)]));
    const afterCp = await maxCheckpoint();
    assert.equal(shown.length, 2, 'one row per partition');
    for (const [part, off] of shown as [number, number][]) {
      assert.ok(off >= (cpBefore.get(part) ?? Number.POSITIVE_INFINITY) && off <= (afterCp.get(part) ?? -1), `partition ${part}: ${off}`);
    }
    await page.getByRole('button', { name: 'Verify this range' }).click();
    await page
      .getByTestId('verify-report')
      .getByText(/events checked/)
      .waitFor({ timeout: 60_000 });
    await checkPage(page, 'integrity');

    // Pipeline health: dead letters by class from ingest's own metrics; alerting reported unreachable.
    await page.goto(`${url}/console/health`);
    await page.getByTestId('dlq-total').waitFor();
    assert.equal(await page.getByTestId('dlq-total').textContent(), String(POISON));
    assert.match((await page.getByTestId('dlq-classes').textContent()) ?? '', new RegExp(`${POISON}`));
    await page.getByTestId('unreachable').filter({ hasText: 'Alerting' }).waitFor();
    assert.notEqual(await page.getByTestId('lag-total').textContent(), '–');
    await checkPage(page, 'health');

    // The verified mark, then "tampered" once the row is changed in ClickHouse (a mutation, 18.16).
    const verifyStatus = async () =>
      ((await (await fetch(`${url}/v1/events/${id}/verify`, { headers: { authorization: `Bearer ${adminKey}` } })).json()) as { status: string }).status;
    await waitFor('a signed checkpoint covering the event', verifyStatus, (st) => st === 'verified', 60_000);
    await page.goto(`${url}/console/events/${id}?tenant=${env.tenant}`);
    await page.locator('[data-testid=integrity-mark][data-status=verified]').waitFor();
    assert.match((await page.getByTestId('integrity-mark').textContent()) ?? '', /verified/);
    await page.screenshot({ path: join(ARTIFACTS, 'detail-verified.png'), fullPage: true });
    await env.ch.command(`ALTER TABLE ${env.database}.events UPDATE reason = 'nothing to see' WHERE event_id = toUUID('${id}')`);
    await waitFor(
      'the mutation to finish',
      async () =>
        Number(
          (await env.ch.queryRows<{ n: string }>(`SELECT count() AS n FROM system.mutations WHERE database = '${env.database}' AND is_done = 0`))[0]?.n ?? 1,
        ),
      (n) => n === 0,
      60_000,
    );
    await page.reload();
    await page.locator('[data-testid=integrity-mark][data-status=tampered]').waitFor();
    assert.match((await page.getByTestId('integrity-mark').textContent()) ?? '', /tampered/);
    await checkPage(page, 'detail-tampered');

    assert.deepEqual(csp, [], 'no CSP violations');
    await context.close();
  });

  test('an embed token shows its tenant and fixed filters only; an expired one is refused', async () => {
    const mint = async (body: unknown) => {
      const r = await fetch(`${url}/v1/viewer-tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(r.status, 201);
      return ((await r.json()) as { token: string }).token;
    };
    const viewer = await mint({ tenant: env.tenant, ttl_s: 600, filters: { action: 'auth.login' } });
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    const { page, bodies, csp } = await openPage(context);
    const embedRes = await page.goto(`${url}/console/embed?${new URLSearchParams({ token: viewer, from, to })}`);
    assert.match(embedRes?.headers()['content-security-policy'] ?? '', /frame-ancestors 'self'/);
    await page.getByTestId('total').waitFor();
    assert.equal(page.url().includes('token='), false, 'the token leaves the URL at once');
    assert.equal(await totalOf(page), await chCount(`tenant_id = '${env.tenant}' AND action = 'auth.login'`));
    await page.locator('[data-testid=results] tbody tr').first().waitFor();
    const actions = await page.locator('[data-testid=results] tbody tr td:nth-child(3)').allTextContents();
    assert.ok(actions.length > 0 && actions.every((a) => a === 'auth.login'));
    await checkPage(page, 'embed');
    await page.locator('[data-testid=results] tbody tr').first().locator('a.time').click();
    await page.waitForURL(/\/console\/embed\/events\//);
    await page.getByTestId('integrity-mark').waitFor();
    await checkPage(page, 'embed-detail');
    // Another tenant, asked for by name, is refused and never shown.
    await page.goto(`${url}/console/embed?${new URLSearchParams({ tenant: tenantB, from, to })}`);
    await page.getByRole('alert').waitFor();
    assert.equal(await page.locator('[data-testid=results] tbody tr').count(), 0);
    for (const b of bodies) assert.equal(b.includes(tenantB), false, 'no answer names the other tenant');
    assert.deepEqual(csp, []);

    // An expired token: the API answers 401 and the viewer says so.
    const short = await mint({ tenant: env.tenant, ttl_s: 1 });
    await waitFor(
      'the one-second token to expire',
      async () => (await fetch(`${url}/v1/events?${new URLSearchParams({ from, to })}`, { headers: { authorization: `Bearer ${short}` } })).status,
      (st) => st === 401,
      10_000,
    );
    const refused: number[] = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/v1/events') refused.push(r.status());
    });
    await page.goto(`${url}/console/embed?${new URLSearchParams({ token: short, from, to })}`);
    await page.getByTestId('expired').waitFor();
    assert.deepEqual(refused, [401]);
    assert.equal(await page.locator('[data-testid=results] tbody tr').count(), 0);
    await checkPage(page, 'embed-expired');
    await context.close();
  });

  test('a tenant-scoped key sees nothing of another tenant, in the UI and on the wire', async () => {
    const scoped = (await createApiKey(env.ch, { role: 'auditor', tenants: [env.tenant] })).key;
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const { page, bodies } = await openPage(context);
    await page.goto(`${url}/console/search`);
    await page.getByLabel('API key').fill(scoped);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.goto(`${url}/console/search?${new URLSearchParams({ service: 'bench', from, to })}`);
    await page.getByTestId('total').waitFor();
    await page.locator('[data-testid=results] tbody tr').first().waitFor();
    assert.equal(await totalOf(page), N_A);
    const tenants = await page.locator('[data-testid=results] tbody tr td:nth-child(2)').allTextContents();
    assert.ok(tenants.every((t) => t === env.tenant));
    // Naming the other tenant is refused; its events are not found.
    await page.goto(`${url}/console/search?${new URLSearchParams({ tenant: tenantB, from, to })}`);
    await page.getByRole('alert').waitFor();
    assert.ok(bodies.length > 0);
    for (const b of bodies) assert.equal(b.includes(tenantB), false, 'no answer names the other tenant');
    assert.equal(
      (await page.locator('main').textContent())?.includes(`${tenantB}`) && (await page.locator('[data-testid=results] tbody tr').count()) > 0,
      false,
    );
    await context.close();
  });

  test('OIDC sign-in: authorization code + PKCE at a local issuer, the token\u2019s role and tenant apply', async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const { page, csp, bodies } = await openPage(context);
    await page.goto(`${url}/console/search?${new URLSearchParams({ service: 'bench', from, to })}`);
    await page.getByRole('button', { name: 'Sign in with your identity provider' }).click();
    // The issuer approves at once and sends the browser back with a code; the console trades it.
    await page.waitForURL(/\/console\/search\?/);
    const asked = issuer.authorizeRequests.at(-1);
    assert.equal(asked?.get('code_challenge_method'), 'S256');
    assert.equal(asked?.get('redirect_uri'), `${url}/console/signin/oidc`);
    assert.equal(new URL(page.url()).searchParams.get('service'), 'bench', 'back where the sign-in started');
    assert.ok(!page.url().includes('code='), 'the code is not kept in the URL');
    await page.getByTestId('total').waitFor();
    await page.locator('[data-testid=results] tbody tr').first().waitFor();
    assert.equal(await totalOf(page), N_B, 'the token\u2019s tenant (claim auditstream_tenants) only');
    const tenants = await page.locator('[data-testid=results] tbody tr td:nth-child(2)').allTextContents();
    assert.ok(tenants.every((t) => t === tenantB));
    for (const b of bodies) assert.equal(b.includes(env.tenant), false, 'no answer names another tenant');
    // An auditor: the admin-only alert list is refused.
    const token = await page.evaluate(() =>
      (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('auditstream.token'),
    );
    assert.equal((await fetch(`${url}/v1/alerts?${new URLSearchParams({ from, to })}`, { headers: { authorization: `Bearer ${token}` } })).status, 403);
    // The code worked once: the issuer refuses it again, and so does the console's exchange.
    const again = await fetch(`${url}/console/oidc/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: issuer.codes.at(-1), code_verifier: 'x'.repeat(43), redirect_uri: `${url}/console/signin/oidc` }),
    });
    assert.equal(again.status, 400);
    assert.deepEqual(csp, []);
    await context.close();
  });

  test('time to first results of a one-day search (Performance API)', async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    await signIn(page, adminKey);
    await page.goto(`${url}/console/search?range=24h&tenant=${env.tenant}`);
    // A function, not a string: a string is eval()ed in the page, which its CSP forbids.
    const ms = await page.waitForFunction(() => performance.getEntriesByName('auditstream:first-results')[0]?.startTime);
    const value = Number(await ms.jsonValue());
    console.log(`console: time to first results of a one-day search (navigation start to results table): ${value.toFixed(0)} ms`);
    assert.ok(value > 0);
    await context.close();
  });
});
