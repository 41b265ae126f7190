import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort, waitFor } from '@auditstream/test';
import { Registry } from 'prom-client';
import { testAlert } from './alert.test-helper.js';
import { createAlertmanagerSink } from './alertmanager.js';
import { createDispatcher, createDispatcherMetrics } from './dispatcher.js';

// A real Alertmanager (Debian's prometheus-alertmanager) on loopback with a temp storage path.
const BIN = process.env.ALERTMANAGER_BIN ?? '/usr/bin/prometheus-alertmanager';
let proc: ChildProcess | undefined;
const dir = mkdtempSync(join(tmpdir(), 'alertmanager-'));

after(async () => {
  if (proc && proc.exitCode === null) {
    const p = proc;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  }
  rmSync(dir, { recursive: true, force: true });
});

test('alerts posted through the sink show up in Alertmanager’s API v2 with their labels', async () => {
  // Never skipped: .ci/run installs Debian's prometheus-alertmanager.
  assert.ok(existsSync(BIN), `${BIN} is not installed (apt-get install prometheus-alertmanager)`);
  const port = await freePort();
  writeFileSync(join(dir, 'alertmanager.yml'), 'route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n');
  let log = '';
  proc = spawn(
    BIN,
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  proc.stderr?.on('data', (d) => {
    log += String(d);
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    'alertmanager to be ready',
    async () => {
      if (proc?.exitCode !== null) throw new Error(`alertmanager exited: ${log}`);
      return fetch(`${base}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
    },
    30_000,
    { everyMs: 100 },
  );

  const now = Date.now();
  const alert = testAlert({
    alert_id: '3f1c2a9e-7b4d-8e5f-a1b2-c3d4e5f60718',
    window_start: now - 50_000,
    window_end: now,
    first_event_at: now - 50_000,
    last_event_at: now,
    sample_event_ids: ['e1'],
    summary: '6 failed logins for actor alice within 60 s',
    fired_at: now,
    updated_at: now,
  });
  const dispatcher = createDispatcher({
    sinks: [
      {
        sink: createAlertmanagerSink({ url: base, timeout_ms: 3000, send_updates: true, resolve_after_s: 600 }),
        queue: { queue_size: 10, max_attempts: 3, initial_delay_ms: 100, max_delay_ms: 500 },
      },
    ],
    metrics: createDispatcherMetrics(new Registry()),
  });
  dispatcher.dispatch({ kind: 'fired', alert });
  dispatcher.dispatch({ kind: 'updated', alert: { ...alert, count: 7, version: 1 } });
  assert.equal(await dispatcher.drain(10_000), true);
  await dispatcher.close(100);

  type Am = { labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string; status: { state: string } };
  let got: Am[] = [];
  await waitFor(
    'the alert in Alertmanager',
    async () => {
      got = (await (await fetch(`${base}/api/v2/alerts`)).json()) as Am[];
      return got.length > 0;
    },
    10_000,
    { everyMs: 100 },
  );
  assert.equal(got.length, 1, 'the update re-posted the same label set: one alert');
  const a = got[0] as Am;
  assert.deepEqual(a.labels, {
    alertname: 'Brute-force login attempts',
    severity: 'high',
    rule_id: 'brute_force',
    alert_id: alert.alert_id,
    tenant_id: 'acme',
    source: 'auditstream',
  });
  assert.equal(a.annotations.summary, alert.summary);
  assert.equal(a.annotations.count, '7');
  assert.equal(a.status.state, 'active');
  assert.ok(Date.parse(a.endsAt) > now + 500_000);
});
