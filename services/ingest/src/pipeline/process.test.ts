import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import type { AuditEvent } from '@auditstream/schemas';
import { Registry } from 'prom-client';
import { createIngestMetrics } from '../metrics.js';
import type { Outcome, SourceMessage } from '../types.js';
import { FatalIngestError, type ProcessDeps, processMessage } from './process.js';

const msg = (value: Buffer | null): SourceMessage => ({
  topic: 't',
  partition: 0,
  offset: '7',
  timestamp: '1700000000000',
  key: null,
  value,
  headers: {},
  size: value?.length ?? 0,
});
const event = { event_id: 'e', action: 'a.b' } as unknown as AuditEvent;

function deps(over: Partial<ProcessDeps> = {}): ProcessDeps {
  return {
    decoder: {
      decodeSync: (b) => {
        const s = Buffer.from(b).toString();
        if (s === 'ok' || s === 'bad') return { ...event, action: s } as AuditEvent;
        if (s === 'fp') throw new AuditstreamError('CODEC_UNKNOWN_FINGERPRINT', 'unknown writer fingerprint');
        if (s === 'registry') throw new AuditstreamError('CODEC_SCHEMA_NOT_LOADED', 'id 3 not loaded');
        throw new AuditstreamError('CODEC_NOT_AVRO', 'payload starts with 7B');
      },
      decode: async () => ({ ...event }) as AuditEvent,
    },
    validate: (e, receivedAtMs) => {
      assert.equal(receivedAtMs, 1_700_000_000_000, 'validation judges time against the Kafka timestamp');
      if (e.action === 'bad') throw new AuditstreamError('EVENT_INVALID', 'action must be dotted lowercase words', { field: 'action' });
    },
    enrich: () => ({ geo_country: 'GB', geo_city: '', ua_browser: '', ua_os: '', ua_device: '' }),
    maxMessageBytes: 10,
    metrics: createIngestMetrics(new Registry()),
    retry: { initial_delay_ms: 1, max_delay_ms: 2 },
    signal: new AbortController().signal,
    ...over,
  };
}

const cls = (o: Outcome) => (o.kind === 'dead' ? o.dead.errorClass : 'record');

test('each message becomes a record or a dead letter of the right class', async () => {
  const d = deps();
  assert.equal(cls(processMessage(d, msg(Buffer.from('ok'))) as Outcome), 'record');
  assert.equal(cls(processMessage(d, msg(null)) as Outcome), 'not_avro');
  assert.equal(cls(processMessage(d, msg(Buffer.alloc(11))) as Outcome), 'oversize');
  assert.equal(cls(processMessage(d, msg(Buffer.from('{}'))) as Outcome), 'not_avro');
  assert.equal(cls(processMessage(d, msg(Buffer.from('fp'))) as Outcome), 'unknown_schema');
  const invalid = processMessage(d, msg(Buffer.from('bad'))) as Outcome;
  assert.equal(cls(invalid), 'invalid');
  assert.equal(invalid.kind === 'dead' && invalid.dead.reason, 'EVENT_INVALID (action): action must be dotted lowercase words');
  // A Confluent id not seen yet: decoded asynchronously (registry fetch).
  const later = processMessage(d, msg(Buffer.from('registry')));
  assert.ok(later instanceof Promise);
  assert.equal(cls(await later), 'record');
  const rec = processMessage(d, msg(Buffer.from('ok'))) as Outcome;
  assert.equal(rec.kind === 'record' && rec.record.receivedAtMs, 1_700_000_000_000);
});

test('an unreachable registry is retried, never dead-lettered; bad registry credentials are fatal', async () => {
  let calls = 0;
  const flaky = deps({
    decoder: {
      decodeSync: () => {
        throw new AuditstreamError('CODEC_SCHEMA_NOT_LOADED', 'x');
      },
      decode: async () => {
        if (++calls < 3) throw new AuditstreamError('CODEC_REGISTRY_UNREACHABLE', 'down', { retriable: true });
        return { ...event } as AuditEvent;
      },
    },
  });
  assert.equal(cls(await processMessage(flaky, msg(Buffer.from('x')))), 'record');
  assert.equal(calls, 3);
  const denied = deps({
    decoder: {
      decodeSync: () => {
        throw new AuditstreamError('CODEC_SCHEMA_NOT_LOADED', 'x');
      },
      decode: async () => {
        throw new AuditstreamError('CODEC_REGISTRY_UNAUTHORIZED', '401');
      },
    },
  });
  await assert.rejects(Promise.resolve(processMessage(denied, msg(Buffer.from('x')))), (e) => e instanceof FatalIngestError);
});
