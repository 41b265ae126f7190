import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CAPABILITY_THRESHOLDS, capabilitiesFor, detectCapabilities, layoutFor, parseVersion } from './capabilities.js';

test('18.16 has none of the switches, 26.x has all of them', () => {
  const old = capabilitiesFor('18.16.1');
  const modern = capabilitiesFor('26.7.2.1');
  for (const k of Object.keys(CAPABILITY_THRESHOLDS) as (keyof typeof CAPABILITY_THRESHOLDS)[]) {
    assert.equal(old[k], false, `18.16 ${k}`);
    assert.equal(modern[k], true, `26.7 ${k}`);
  }
  assert.equal(layoutFor(old), 'legacy');
  assert.equal(layoutFor(modern), 'modern');
});

test('in-between versions get exactly the switches they have', () => {
  const c = capabilitiesFor('20.3.8.53');
  assert.deepEqual([c.datetime64, c.ttl, c.skipIndexes, c.queryParams, c.sqlUsers, c.map], [true, true, true, true, false, false]);
  assert.equal(layoutFor(c), 'legacy', 'no Map yet: legacy layout, but TTL and skip indexes');
  assert.equal(capabilitiesFor('22.1.1').map, true);
  assert.deepEqual(parseVersion(' 23.8.2.7 '), { major: 23, minor: 8 });
  assert.throws(() => parseVersion('garbage'), /version/);
});

test('detectCapabilities reads SELECT version()', async () => {
  const caps = await detectCapabilities({ queryRows: async <T>() => [{ v: '18.16.1' }] as T[] });
  assert.equal(caps.version, '18.16.1');
  assert.equal(caps.queryParams, false);
  await assert.rejects(detectCapabilities({ queryRows: async <T>() => [] as T[] }), /version/);
});
