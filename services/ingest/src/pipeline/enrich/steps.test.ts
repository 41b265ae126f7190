import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventColumns } from '@auditstream/clickhouse';
import { ENRICH_STEPS, ENRICHMENT_COLUMNS } from './index.js';

test('enrichment steps: unique stages, and every column a step declares is a stored column on both layouts', () => {
  const stages = ENRICH_STEPS.map((s) => s.stage);
  // Not the exact list: a new step is its module plus one line in ENRICH_STEPS, nothing here.
  assert.equal(new Set(stages).size, stages.length, 'each step has its own stage label');
  assert.equal(stages.at(-1), 'redact', 'redaction runs last');
  assert.equal(new Set(ENRICHMENT_COLUMNS).size, ENRICHMENT_COLUMNS.length, 'no column is filled by two steps');
  for (const layout of ['legacy', 'modern'] as const) {
    const stored = new Set(eventColumns(layout));
    for (const c of ENRICHMENT_COLUMNS) assert.ok(stored.has(c), `${c} is a ${layout} column`);
  }
});
