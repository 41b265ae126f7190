import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot, uniqueName } from '@auditstream/core';
import { freePort, testKafka, waitFor, webhookReceiver } from '@auditstream/test';
import { createTopics, login, produce, readAlerts } from './int.test-helper.js';

// kill -9 / restart of the real service process (main.ts) against the real Kafka: an incident
// straddling the restart fires exactly once, and an alert delivered before a crash is not
// delivered again after it.
const kafka = testKafka('alerting-restart');
const secret = 'restart-secret';
let topics: Awaited<ReturnType<typeof createTopics>>;
let hook: Awaited<ReturnType<typeof webhookReceiver>>;
let child: ChildProcess | undefined;
let port = 0;
const group = uniqueName('alerting_restart');
let stderr = '';

async function startService(): Promise<void> {
  port = await freePort();
  child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot(), 'services/alerting/src/main.ts')], {
    cwd: repoRoot(),
    env: {
      ...process.env,
      AUDITSTREAM_LOG__LEVEL: 'warn',
      AUDITSTREAM_TOPICS__EVENTS: topics.events,
      AUDITSTREAM_TOPICS__ALERTS: topics.alerts,
      AUDITSTREAM_ALERTING__CONSUMER_GROUP: group,
      AUDITSTREAM_ALERTING__METRICS_PORT: String(port),
      AUDITSTREAM_ALERTING__TICK_INTERVAL_MS: '200',
      AUDITSTREAM_ALERTING__SESSION_TIMEOUT_MS: '6000',
      AUDITSTREAM_ALERTING__SINKS__WEBHOOK__ENABLED: 'true',
      AUDITSTREAM_ALERTING__SINKS__WEBHOOK__URL: hook.url,
      AUDITSTREAM_ALERTING__SINKS__WEBHOOK__SECRET: secret,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const c = child;
  await waitFor(
    'the alerting service to be ready',
    async () => {
      if (c.exitCode !== null) throw new Error(`alerting exited with ${c.exitCode}: ${stderr}`);
      return fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
    },
    60_000,
    { everyMs: 100 },
  );
}

async function metric(re: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(re.exec(text)?.[1] ?? 0);
}
const evaluated = () => metric(/^auditstream_alerting_evaluated_events_total\{[^}]*\} (\d+)/m);
const replayedEvents = () => metric(/^auditstream_alerting_replayed_records_total\{topic="events"[^}]*\} (\d+)/m);

function kill9(): Promise<void> {
  const c = child as ChildProcess;
  return new Promise((resolve) => {
    c.once('exit', () => resolve());
    c.kill('SIGKILL');
  });
}

before(async () => {
  topics = await createTopics(kafka, 'alerting_restart');
  hook = await webhookReceiver(secret);
});

after(async () => {
  if (child && child.exitCode === null && child.signalCode === null) await kill9();
  await hook?.close();
  await topics?.drop();
});

test('kill -9 mid-burst and after firing: exactly one alert on the topic and at the webhook', async () => {
  await startService();
  const t = Date.now();
  // 3 failed logins, evaluated (and their offsets committed), then the process dies.
  await produce(
    kafka,
    topics.events,
    [0, 1, 2].map((i) => login('straddle', '192.0.2.1', 'failure', t + i * 200)),
  );
  await waitFor('3 events evaluated', async () => (await evaluated()) >= 3, 20_000, { everyMs: 100 });
  await new Promise((r) => setTimeout(r, 1000)); // let the group commit
  await kill9();

  // Two more while it is down, one after it is back: the incident straddles the restart.
  await produce(
    kafka,
    topics.events,
    [3, 4].map((i) => login('straddle', '192.0.2.1', 'failure', t + i * 200)),
  );
  await startService();
  assert.equal(await replayedEvents(), 3, 'the 3 evaluated, committed events were replayed to rebuild the window');
  assert.equal(hook.hits.length, 0, 'nothing fired on 5 failures');
  await produce(kafka, topics.events, [login('straddle', '192.0.2.1', 'failure', t + 5 * 200)]);
  await waitFor('the brute_force alert', () => hook.hits.some((h) => h.kind === 'fired'), 20_000, { everyMs: 100 });
  const fired = hook.hits.filter((h) => h.kind === 'fired');
  assert.equal(fired.length, 1);
  assert.equal(fired[0]?.alert.rule_id, 'brute_force');
  assert.equal(fired[0]?.alert.count, 6, 'events from before the crash were counted');

  // Crash again right after the alert; more failures inside the window must not re-fire it.
  await new Promise((r) => setTimeout(r, 1000));
  await kill9();
  await startService();
  await produce(
    kafka,
    topics.events,
    [6, 7].map((i) => login('straddle', '192.0.2.1', 'failure', t + i * 200)),
  );
  await waitFor('the new events evaluated', async () => (await evaluated()) >= 2, 20_000, { everyMs: 100 });
  await new Promise((r) => setTimeout(r, 2000));

  assert.equal(hook.hits.filter((h) => h.kind === 'fired').length, 1, 'the webhook got one fired alert');
  const onTopic = (await readAlerts(kafka, topics.alerts, 3000)).filter((d) => d.alert.rule_id === 'brute_force');
  assert.equal(new Set(onTopic.map((d) => d.alert.alert_id)).size, 1, 'one alert id on the topic');
  assert.equal(onTopic.filter((d) => d.kind === 'fired').length, 1, 'fired once on the topic');
  assert.equal(onTopic.at(-1)?.alert.alert_id, fired[0]?.alert.alert_id);
  assert.ok((onTopic.at(-1)?.alert.count ?? 0) >= 6);
});
