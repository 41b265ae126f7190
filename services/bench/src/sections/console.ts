// Time to first results in the web console (issue 17): Debian's chromium, driven by playwright-core as
// test/integration/console-browser.test.ts drives it, signs in to the console the API child serves and
// loads the search page for a one-day range `loads` times (after one unmeasured load). The figure is the
// Performance API's clock in the page: performance.now() (ms since that navigation started) when the
// first result row enters the DOM, noted by a MutationObserver installed before the page's own scripts;
// beside it, the resource timing of the page's GET /v1/events.
import { AuditstreamError } from '@auditstream/core';
import { launchChromium } from '@auditstream/test';
import { percentile } from '../stats.js';

export interface ConsoleResult {
  console_first_results_p50_ms: number;
  console_first_results_p90_ms: number;
  console_events_request_p50_ms: number;
}

const FIRST_ROW = '[data-testid=results] tbody tr';

export async function runConsoleFirstResults(o: {
  base: string;
  adminKey: string;
  tenant: string;
  fromMs: number;
  toMs: number;
  loads: number;
  timeoutMs: number;
}): Promise<ConsoleResult> {
  const browser = await launchChromium();
  try {
    const context = await browser.newContext();
    // Page-side code as text: this package compiles without the DOM library.
    await context.addInitScript(`{
      const seen = () => {
        if (window.__firstResultsMs === undefined && document.querySelector(${JSON.stringify(FIRST_ROW)})) window.__firstResultsMs = performance.now();
      };
      new MutationObserver(seen).observe(document, { childList: true, subtree: true });
    }`);
    const page = await context.newPage();
    page.setDefaultTimeout(o.timeoutMs);
    const res = await fetch(`${o.base}/v1/console/signin-codes`, { method: 'POST', headers: { authorization: `Bearer ${o.adminKey}` } });
    if (res.status !== 200) throw new AuditstreamError('BENCH_QUERY', `POST /v1/console/signin-codes answered ${res.status}`, {});
    const { code } = (await res.json()) as { code: string };
    await page.goto(`${o.base}/console/signin#code=${code}`);
    await page.waitForURL(/\/console\/search/);
    const search = `${o.base}/console/search?${new URLSearchParams({ tenant: o.tenant, from: new Date(o.fromMs).toISOString(), to: new Date(o.toMs).toISOString() })}`;
    const first: number[] = [];
    const request: number[] = [];
    for (let i = 0; i <= o.loads; i++) {
      await page.goto(search);
      await page.locator(FIRST_ROW).first().waitFor();
      const t = (await page.evaluate(`(() => {
        const events = performance.getEntriesByType('resource').find((e) => new URL(e.name).pathname === '/v1/events');
        return { first: window.__firstResultsMs, events: events ? events.responseEnd - events.startTime : undefined };
      })()`)) as { first?: number; events?: number };
      if (t.first === undefined) throw new AuditstreamError('BENCH_QUERY', 'the console showed result rows but the page did not note when', {});
      if (i === 0) continue; // warm-up: the API child's first queries, the browser's first asset fetches
      first.push(t.first);
      if (t.events !== undefined) request.push(t.events);
    }
    return {
      console_first_results_p50_ms: percentile(first, 50),
      console_first_results_p90_ms: percentile(first, 90),
      console_events_request_p50_ms: request.length > 0 ? percentile(request, 50) : Number.NaN,
    };
  } finally {
    await browser.close();
  }
}
