import { named } from './registry.js';

/** The answer of POST /v1/events: one result per event, in input order. */
export const collectorResultSchema = named('CollectorResult', {
  type: 'object',
  required: ['index', 'status'],
  description:
    'The outcome of one event. accepted: Kafka acknowledged it (event_id, partition, offset are its receipt). rejected: not published; ' +
    'code EVENT_INVALID or EVENT_TOO_LARGE with the field and reason (fix the event), or a PRODUCER_* code with retriable=true (send it again with the same event_id).',
  properties: {
    index: { type: 'integer', minimum: 0, description: 'Position of the event in the request (JSON array index, or n-th non-blank NDJSON line from 0).' },
    status: { type: 'string', enum: ['accepted', 'rejected'] },
    event_id: { type: 'string', description: 'The event id (generated when the event had none: re-send the event with it to retry).' },
    occurred_at: {
      type: 'string',
      format: 'date-time',
      description: 'Present when the event had no occurred_at: the time the collector gave it (re-send the event with it to retry).',
    },
    partition: { type: 'integer', minimum: 0, description: 'Kafka partition (accepted).' },
    offset: { type: 'string', description: 'Kafka offset, int64 as a decimal string (accepted).' },
    code: {
      type: 'string',
      description: 'EVENT_INVALID, EVENT_TOO_LARGE, PRODUCER_BUFFER_FULL, PRODUCER_DELIVERY_TIMEOUT, PRODUCER_SEND_FAILED, PRODUCER_CLOSED or other.',
    },
    field: { type: 'string', description: 'Dotted path of the field at fault (EVENT_INVALID, EVENT_TOO_LARGE), e.g. actor.ip.' },
    reason: { type: 'string', description: 'Why, naming the field; never echoes the value.' },
    retriable: { type: 'boolean', description: 'Sending the same event again (same event_id) may succeed.' },
  },
});

export const collectorAnswerSchema = named('CollectorAnswer', {
  type: 'object',
  required: ['accepted', 'rejected', 'results'],
  properties: {
    accepted: { type: 'integer', minimum: 0, description: 'Events Kafka acknowledged.' },
    rejected: { type: 'integer', minimum: 0, description: 'Events not published (see their results).' },
    results: { type: 'array', items: collectorResultSchema },
  },
});

/** The request body as documented (the route parses and validates it itself, event by event). */
export const collectorRequestBody = {
  required: true,
  description:
    'Audit events (docs/producers.md: the AuditEvent contract; event_id and occurred_at may be left out). ' +
    'At most api.collector_max_events events and api.collector_max_body_bytes bytes, UTF-8.',
  content: {
    'application/json': { schema: { type: 'array', minItems: 1, items: { type: 'object', description: 'An AuditEvent.' } } },
    'application/x-ndjson': { schema: { type: 'string', description: 'One AuditEvent JSON object per line.' } },
  },
};
