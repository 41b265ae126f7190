import { eventFilterParams } from './common.js';
import { named } from './registry.js';

export const freshnessQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to'],
  properties: {
    ...eventFilterParams,
    producers: { type: 'integer', minimum: 1, maximum: 1000, default: 100, description: 'At most this many producers, the most recently heard from first.' },
  },
} as const;

const time = (description: string) => ({ type: 'string', format: 'date-time', description });

export const freshnessResponseSchema = named('Freshness', {
  type: 'object',
  required: ['as_of', 'from', 'to', 'partitions', 'producers'],
  properties: {
    as_of: time('When the API answered: compare the newest times with it.'),
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    partitions: {
      type: 'array',
      description: 'Per Kafka partition with stored events in the range (and scope), by partition.',
      items: {
        type: 'object',
        required: ['partition', 'newest_event_at', 'newest_stored_at', 'events'],
        properties: {
          partition: { type: 'integer' },
          newest_event_at: time('occurred_at of the newest stored event (whole seconds on ClickHouse 18.16).'),
          newest_stored_at: time('When ingest stored the most recently stored row.'),
          events: { type: 'integer', description: 'Distinct events in the range.' },
        },
      },
    },
    producers: {
      type: 'array',
      description: 'Per producer_id (events that carry one), the most recently heard from first.',
      items: {
        type: 'object',
        required: ['producer_id', 'service', 'newest_event_at', 'max_seq', 'events'],
        properties: {
          producer_id: { type: 'string' },
          service: { type: 'string', description: 'The service of one of its events.' },
          newest_event_at: time('occurred_at of its newest stored event.'),
          max_seq: {
            type: 'integer',
            description: 'Highest producer_seq stored: with events, a first hint of gaps (max_seq + 1 > events means numbers are missing from the range).',
          },
          events: { type: 'integer', description: 'Distinct events in the range.' },
        },
      },
    },
  },
});
