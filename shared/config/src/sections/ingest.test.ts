import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fetchWaitMs, ingestSection } from './ingest.js';

test('a fetch waits fetch_max_wait_ms (default 250) on the broker, never longer than batch_max_age_ms', () => {
  const defaults = ingestSection.parse({});
  assert.equal(defaults.fetch_max_wait_ms, 250);
  assert.equal(defaults.batch_max_age_ms, 1000);
  assert.equal(fetchWaitMs(defaults), 250);
  assert.equal(fetchWaitMs(ingestSection.parse({ batch_max_age_ms: 100 })), 100);
  assert.equal(fetchWaitMs(ingestSection.parse({ fetch_max_wait_ms: 1000 })), 1000);
});
