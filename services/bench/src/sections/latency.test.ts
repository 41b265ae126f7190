import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricsUrlFromLog } from './latency.js';

test("an ingest child's /metrics base URL comes from its start-up log line, and is absent before it", () => {
  const before = '{"level":30,"time":1,"component":"ingest","msg":"joining the group"}\n';
  assert.equal(metricsUrlFromLog(before), undefined);
  const line = '{"level":30,"time":2,"service":"ingest","url":"http://127.0.0.1:40123","msg":"serving /metrics, /healthz and /readyz"}\n';
  assert.equal(metricsUrlFromLog(before + line), 'http://127.0.0.1:40123');
});
