import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '@auditstream/config';
import type { z } from 'zod';
import { PRODUCER_DEFAULTS } from './producer.js';

// The `producer` config section (shared/config/src/sections/producer.ts) is spread into
// createAuditProducer: its keys must be SDK options and its defaults the SDK's.
const section = (configSchema.shape as Record<string, z.ZodType | undefined>).producer;

test('the producer config section parses to exactly the SDK defaults', () => {
  assert.ok(section, 'the producer section is part of configSchema');
  const parsed = (section as z.ZodType).parse(undefined) as Record<string, unknown>;
  assert.deepEqual(parsed, { ...PRODUCER_DEFAULTS });
  const withRegistry = (section as z.ZodType).parse({ registry_url: 'http://127.0.0.1:8081/apis/ccompat/v7' }) as Record<string, unknown>;
  assert.equal(withRegistry.registry_url, 'http://127.0.0.1:8081/apis/ccompat/v7');
  assert.equal((section as z.ZodType).safeParse({ max_past_skew_ms: 1 }).success, false, 'unknown keys are refused');
});
