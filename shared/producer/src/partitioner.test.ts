import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { type PartitionerArgs, Partitioners } from 'kafkajs';
import { murmur2, pinningPartitioner } from './partitioner.js';

const kafkajsMurmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2') as (key: string | Buffer) => number;

function keys(): Array<string | Buffer> {
  const out: Array<string | Buffer> = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'tenant-1:user-42', 'ü', 'tenant:ünïcode ✓', '😀:emoji', '\u007f\u0080'];
  for (let i = 0; i < 2000; i++) {
    const len = i % 41;
    out.push(randomBytes(len).toString('base64').slice(0, len));
    out.push(randomBytes(len)); // arbitrary bytes, high bit set
    out.push(`tenant-${i % 20}:user-${i}`);
    out.push(String.fromCharCode(...Array.from({ length: len % 9 }, (_, j) => (i * 31 + j * 977) % 0xd7ff)));
  }
  return out;
}

test('murmur2 equals kafkajs (the Java client) on ASCII, UTF-8 and binary keys', () => {
  for (const k of keys()) assert.equal(murmur2(k), kafkajsMurmur2(k), `key ${JSON.stringify(String(k))}`);
});

test('pinningPartitioner picks the partition kafkajs DefaultPartitioner picks, and pins it on the message', () => {
  for (const n of [1, 2, 3, 6, 7, 12, 64]) {
    const partitionMetadata = Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }));
    const ours = pinningPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    for (const key of keys().slice(0, 3000)) {
      const message = { key, value: null } as PartitionerArgs['message'];
      const p = ours({ topic: 't', partitionMetadata, message });
      assert.equal(p, theirs({ topic: 't', partitionMetadata, message: { key, value: null } }));
      assert.equal(message.partition, p);
      assert.equal(ours({ topic: 't', partitionMetadata, message }), p, 'pinned');
    }
    // Keyless messages are spread (round-robin) and pinned too.
    const keyless = { value: null } as PartitionerArgs['message'];
    const p = ours({ topic: 't', partitionMetadata, message: keyless });
    assert.ok(p >= 0 && p < n);
    assert.equal(keyless.partition, p);
  }
});
