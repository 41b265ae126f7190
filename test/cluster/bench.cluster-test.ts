import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '@auditstream/test';
import { startTestCluster, type TestCluster } from './fixture.js';

// Smoke run of `auditstream bench --cluster` through the real CLI on the test cluster (reused, so left
// running): every side completes with its exactly-once check, the table has every figure, the ratios
// are finite, and the workload fired incidents that 1 and 3 alerting instances agree on. N is the
// smallest the bench takes: the figures themselves are not asserted (start-up dominates them).

let cluster: TestCluster;

before(async () => {
  cluster = await startTestCluster();
});

after(async () => {
  await cluster?.stop();
});

test('bench --cluster --events 1000 --runs 1: ingest 1 vs 2 and alerting 1 vs 3, each side checked, the cluster left running', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cluster-smoke-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'bench.json');
  const args = ['bench', '--cluster', '--cluster-home', cluster.stateDir, '--events', '1000', '--runs', '1', '--out', out];
  const { code, output } = await runCli('bench', args, {}, 1_200_000);
  assert.equal(code, 0, output.slice(-3000));

  const report = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(report.only, 'cluster');
  assert.deepEqual(report.errors, []);
  const m = report.median as Record<string, number | null>;
  for (const k of [
    'cluster_ingest_1_events_per_s',
    'cluster_ingest_2_events_per_s',
    'cluster_alerting_1_events_per_s',
    'cluster_alerting_3_events_per_s',
    'cluster_ingest_2_over_1',
    'cluster_alerting_3_over_1',
    'cluster_ingest_1_load1',
    'cluster_alerting_3_load1',
  ]) {
    assert.ok(typeof m[k] === 'number' && (m[k] as number) > 0, `${k} = ${m[k]}`);
  }
  assert.ok((m.cluster_alert_incidents as number) > 0, 'the backlog fired incidents, the same with 1 and 3 instances');
  assert.match(output, /ingest +2 \/ 1 +\d+\.\d\d×/);
  assert.match(output, /alerting +3 \/ 1 +\d+\.\d\d×/);
  assert.match(report.notes.cluster, /reused \(left running\)/);
  assert.ok(
    (await cluster.stack.status()).every((c) => c.healthy),
    'the reused cluster is still up',
  );
});
