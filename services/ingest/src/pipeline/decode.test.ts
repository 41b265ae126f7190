import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { classifyDecodeError } from './decode.js';

test('decode failures: the message is dead, the registry is retried, bad registry credentials are fatal', () => {
  assert.deepEqual(classifyDecodeError(new AuditstreamError('CODEC_NOT_AVRO', 'payload starts with 7B')), {
    action: 'dead',
    errorClass: 'not_avro',
    reason: 'CODEC_NOT_AVRO: payload starts with 7B',
  });
  assert.equal((classifyDecodeError(new AuditstreamError('CODEC_TRUNCATED', 'short')) as { errorClass: string }).errorClass, 'not_avro');
  assert.equal((classifyDecodeError(new AuditstreamError('CODEC_CORRUPT', 'bad body')) as { errorClass: string }).errorClass, 'not_avro');
  assert.equal((classifyDecodeError(new AuditstreamError('CODEC_UNKNOWN_FINGERPRINT', 'fp')) as { errorClass: string }).errorClass, 'unknown_schema');
  assert.equal((classifyDecodeError(new AuditstreamError('CODEC_UNKNOWN_SCHEMA_ID', 'id 9')) as { errorClass: string }).errorClass, 'unknown_schema');
  assert.equal(classifyDecodeError(new AuditstreamError('CODEC_REGISTRY_UNREACHABLE', 'down', { retriable: true })).action, 'retry');
  assert.equal(classifyDecodeError(new AuditstreamError('CODEC_REGISTRY_UNAUTHORIZED', '401')).action, 'fatal');
  assert.equal((classifyDecodeError(new Error('avsc: invalid')) as { errorClass: string }).errorClass, 'not_avro');
});
