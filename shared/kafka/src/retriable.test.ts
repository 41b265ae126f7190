import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import kafkajs from 'kafkajs';
import { isRetriableKafkaError } from './retriable.js';

// kafkajs is CommonJS: its error classes are not named ESM exports.
const { KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;

/** A protocol error as kafkajs builds it from a broker's error code (its typings name only the Error argument). */
const protocolError = (type: string, code: number, retriable: boolean) =>
  new KafkaJSProtocolError({ type, code, retriable, message: type } as unknown as Error);

test('kafkajs errors: retriable protocol errors, and exhausted kafkajs retries of them, are retriable', () => {
  const unknownTopic = protocolError('UNKNOWN_TOPIC_OR_PARTITION', 3, true);
  assert.equal(isRetriableKafkaError(unknownTopic), true);
  assert.equal(isRetriableKafkaError(new KafkaJSNumberOfRetriesExceeded(unknownTopic, { retryCount: 5, retryTime: 1000 })), true);
  const denied = protocolError('TOPIC_AUTHORIZATION_FAILED', 29, false);
  assert.equal(isRetriableKafkaError(denied), false);
  assert.equal(isRetriableKafkaError(new KafkaJSNonRetriableError('bad')), false);
});

test('data errors and plain errors are not retriable; a retriable AuditstreamError is', () => {
  assert.equal(isRetriableKafkaError(new AuditstreamError('KAFKA_CORRUPT_BATCH', 'corrupt', { retriable: false })), false);
  assert.equal(isRetriableKafkaError(new TypeError('x is undefined')), false);
  assert.equal(isRetriableKafkaError(new AuditstreamError('KAFKA_READ_TIMEOUT', 'slow', { retriable: true })), true);
});
