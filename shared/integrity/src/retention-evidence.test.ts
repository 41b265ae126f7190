import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Checkpoint } from './checkpoint.js';
import { explainRemovedEntries, type RetentionRun } from './retention-evidence.js';

const head = { last_offset: '41', chain_seq: '42', created_at_s: 1_700_000_000 } as Checkpoint;
const run = (id: string, cutoff_us: bigint, run_at_us: bigint): RetentionRun => ({ event_id: id, topic: 't', partition: 0, offset: '0', cutoff_us, run_at_us });
// Signed within second 1_700_000_000, so stored before 1_700_000_001; occurred at most 300 s after that.
const NEWEST = 1_700_000_301_000_000n;

test('a cut-off at or after the signing time + 1 s + the future skew explains the entries; the earliest such run is named', () => {
  const v = explainRemovedEntries([head], 42n, [run('late', NEWEST + 5n, 3n), run('first', NEWEST, 2n), run('short', NEWEST - 1n, 1n)]);
  assert.ok('run' in v);
  assert.equal(v.run.event_id, 'first');
  assert.equal(v.checkpoint, head);
  assert.equal(v.newest_us, NEWEST);
});

test('a cut-off one microsecond short, or no run at all, does not, and says why', () => {
  const short = explainRemovedEntries([head], 42n, [run('short', NEWEST - 1n, 1n)]);
  assert.ok('why' in short);
  assert.match(short.why, /run short: 2023-11-14T22:18:20\.999999Z\) is before 2023-11-14T22:18:21\.000000Z, the signing time of the checkpoint at offset 41/);
  const none = explainRemovedEntries([head], 42n, []);
  assert.ok('why' in none);
  assert.match(none.why, /no retention run/);
  assert.ok('run' in explainRemovedEntries([head], 42n, [run('a', NEWEST - 1n, 1n)], 0), 'the window is a parameter');
});

test('the bound is the earliest checkpoint at or after the last removed entry; none there, nothing explains them', () => {
  const before = { last_offset: '20', chain_seq: '21', created_at_s: 1_600_000_000 } as Checkpoint;
  const later = { last_offset: '90', chain_seq: '91', created_at_s: 1_800_000_000 } as Checkpoint;
  const cps = [before, head, later];
  const v = explainRemovedEntries(cps, 30n, [run('first', NEWEST, 2n)]);
  assert.ok('run' in v);
  assert.equal(v.checkpoint, head, 'not the one before the removed entries, not a later one');
  assert.ok('why' in explainRemovedEntries(cps, 43n, [run('first', NEWEST, 2n)]), 'only the later checkpoint bounds entry 43');
  const uncovered = explainRemovedEntries(cps, 92n, [run('any', 9n ** 30n, 2n)]);
  assert.ok('why' in uncovered);
  assert.match(uncovered.why, /no valid signed checkpoint covers chain_seq 92/);
});
