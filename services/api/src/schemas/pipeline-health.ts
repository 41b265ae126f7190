import { named } from './registry.js';

const counts = { type: 'object', additionalProperties: { type: 'number' } } as const;
const num = (description: string) => ({ type: ['number', 'null'], description }) as const;
const source = {
  reachable: { type: 'boolean', description: 'false: this source could not be read (error says why); its numbers are null.' },
  error: { type: ['string', 'null'] },
} as const;

export const pipelineHealthSchema = named('PipelineHealth', {
  type: 'object',
  required: ['checked_at', 'ingest_lag', 'ingest', 'alerting'],
  properties: {
    checked_at: { type: 'string', format: 'date-time' },
    ingest_lag: {
      type: 'object',
      description: 'From Kafka: the events topic\u2019s high watermarks minus the ingest group\u2019s committed offsets (all ingest instances).',
      required: ['source', 'reachable', 'error', 'topic', 'group', 'total', 'partitions'],
      properties: {
        source: { type: 'string', enum: ['kafka'] },
        ...source,
        topic: { type: 'string' },
        group: { type: 'string' },
        total: num('Messages not yet committed by ingest, all partitions.'),
        partitions: {
          type: 'array',
          items: { type: 'object', required: ['partition', 'lag'], properties: { partition: { type: 'integer' }, lag: { type: 'number' } } },
        },
      },
    },
    ingest: {
      type: 'object',
      description: 'From the ingest service\u2019s /metrics (counters since that process started).',
      required: ['url', 'reachable', 'error', 'received_events_total', 'inserted_events_total', 'dead_lettered_total', 'dead_lettered_by_class'],
      properties: {
        url: { type: 'string' },
        ...source,
        received_events_total: num('auditstream_ingest_received_events_total'),
        inserted_events_total: num('auditstream_ingest_inserted_events_total'),
        dead_lettered_total: num('auditstream_ingest_dead_lettered_events_total'),
        dead_lettered_by_class: { ...counts, description: 'Dead-lettered messages by error class (error_type label).' },
      },
    },
    alerting: {
      type: 'object',
      description: 'From the alerting service\u2019s /metrics (counters since that process started).',
      required: ['url', 'reachable', 'error', 'delivery_failures_total', 'delivery_failures_by_sink', 'deliveries_by_result', 'queue_depth'],
      properties: {
        url: { type: 'string' },
        ...source,
        delivery_failures_total: num('auditstream_alerting_sink_failures_total: failed delivery attempts (each retry counts).'),
        delivery_failures_by_sink: { ...counts, description: 'Failed delivery attempts by sink.' },
        deliveries_by_result: { ...counts, description: 'Deliveries by result: delivered, failed (gave up), dropped.' },
        queue_depth: num('Deliveries waiting in the sink queues.'),
      },
    },
  },
});
