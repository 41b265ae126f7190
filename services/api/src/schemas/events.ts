import { MASK_REASONS } from '@auditstream/schemas';
import { ACTOR_TYPE_VALUES, CATEGORY_VALUES, eventFilterParams, OUTCOME_VALUES, SEVERITY_VALUES } from './common.js';
import { named } from './registry.js';

export const maskedFieldSchema = named('MaskedField', {
  type: 'object',
  description: 'One value withheld from this answer.',
  required: ['path', 'reason'],
  additionalProperties: false,
  properties: {
    path: { type: 'string', description: 'Dotted path of the value in the event: actor.ip, actor.name, reason, attributes.<key>, …' },
    reason: {
      type: 'string',
      enum: [...MASK_REASONS],
      description:
        'no_pii_permission: encrypted personal data, the credential lacks the PII permission (shown as the mask); ' +
        'no_master_key: encrypted, and this API has no master key, so no one sees it (the mask); ' +
        "erased: the subject's key was destroyed (the erased marker); unreadable: the ciphertext does not authenticate for this row (the unreadable marker).",
    },
  },
});

const nstr = (description: string) => ({ type: ['string', 'null'], description });
const str = (description: string) => ({ type: 'string', description });

export const eventSchema = named('Event', {
  type: 'object',
  description: 'One audit event as stored: the event contract (shared/schemas/audit_event.avsc) plus what ingest derived.',
  required: [
    'event_id',
    'tenant_id',
    'occurred_at',
    'actor',
    'action',
    'category',
    'outcome',
    'reason',
    'service',
    'host',
    'region',
    'resource',
    'request_id',
    'trace_id',
    'severity',
    'attributes',
    'enrichment',
    'masked',
  ],
  properties: {
    event_id: { type: 'string', format: 'uuid', description: 'UUIDv7 of the event; re-delivered copies share it and are answered once.' },
    tenant_id: str('Tenant the event belongs to.'),
    occurred_at: { type: 'string', format: 'date-time', description: 'When it happened, UTC, microsecond precision.' },
    actor: {
      type: 'object',
      required: ['id', 'type', 'name', 'session_id', 'ip', 'user_agent'],
      properties: {
        id: str('Actor id.'),
        type: { type: 'string', enum: [...ACTOR_TYPE_VALUES] },
        name: nstr('Display name.'),
        session_id: nstr('Session or token id.'),
        ip: nstr('Source IP as sent.'),
        user_agent: nstr('User agent as sent.'),
      },
    },
    action: str('Dotted action, e.g. auth.login.'),
    category: { type: 'string', enum: [...CATEGORY_VALUES] },
    outcome: { type: 'string', enum: [...OUTCOME_VALUES] },
    reason: nstr('Why the outcome happened.'),
    service: str('Emitting service.'),
    host: nstr('Host of the emitting service.'),
    region: nstr('Region of the emitting service.'),
    resource: {
      type: ['object', 'null'],
      required: ['type', 'id', 'name'],
      properties: { type: str('Resource type.'), id: str('Resource id.'), name: nstr('Resource name.') },
    },
    request_id: nstr('Request id.'),
    trace_id: nstr('W3C trace id.'),
    severity: { type: 'string', enum: [...SEVERITY_VALUES] },
    attributes: { type: 'object', additionalProperties: { type: 'string' }, description: 'Free-form string attributes.' },
    enrichment: {
      type: 'object',
      description: "Added by ingest ('' when unknown).",
      required: ['geo_country', 'geo_city', 'ua_browser', 'ua_os', 'ua_device'],
      properties: {
        geo_country: str('ISO country of actor.ip.'),
        geo_city: str('City of actor.ip.'),
        ua_browser: str('Browser from actor.user_agent.'),
        ua_os: str('OS from actor.user_agent.'),
        ua_device: str('Device type from actor.user_agent.'),
      },
    },
    masked: {
      type: 'array',
      description:
        'The values of this answer that are not the stored value in clear, and why (docs/field-encryption.md). Empty when every value is shown as stored. ' +
        'A listed value reads as the mask, the erased or the unreadable marker: never filter on it. Ingest redaction is not listed (it changed the stored event itself).',
      items: maskedFieldSchema,
    },
  },
});

export const integritySchema = named('EventIntegrity', {
  type: 'object',
  description: 'Where the event came from and its place in the per-partition hash chain (see docs/integrity.md).',
  required: ['chain_seq', 'prev_hash', 'hash', 'kafka_topic', 'kafka_partition', 'kafka_offset', 'received_at', 'ingested_at'],
  properties: {
    chain_seq: { type: 'string', pattern: '^\\d+$', description: 'Position in the hash chain of its Kafka partition (decimal UInt64).' },
    prev_hash: str('Hex SHA-256 of the previous chain entry.'),
    hash: str('Hex SHA-256 of this chain entry.'),
    kafka_topic: str('Source topic.'),
    kafka_partition: { type: 'integer', minimum: 0 },
    kafka_offset: { type: 'string', pattern: '^\\d+$', description: 'Source offset (decimal int64).' },
    received_at: { type: 'string', format: 'date-time', description: 'Kafka message timestamp.' },
    ingested_at: { type: 'string', format: 'date-time', description: 'When ingest stored the row.' },
  },
});

export const eventWithIntegritySchema = named('EventWithIntegrity', {
  type: 'object',
  description: 'An event with its integrity fields.',
  required: [...(eventSchema.required as string[]), 'integrity'],
  properties: { ...eventSchema.properties, integrity: integritySchema },
});

export const searchQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to'],
  properties: {
    ...eventFilterParams,
    sort: { type: 'string', enum: ['asc', 'desc'], default: 'desc', description: 'Order by occurred_at (then event_id).' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'Page size, 1..1000 (default api.default_limit).' },
    cursor: {
      type: 'string',
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z0-9_.-]+$',
      description: 'next_cursor of the previous page, with the same other parameters.',
    },
  },
} as const;

export const searchResponseSchema = named('EventPage', {
  type: 'object',
  required: ['data', 'next_cursor'],
  properties: {
    data: { type: 'array', items: eventSchema },
    next_cursor: {
      type: ['string', 'null'],
      description: 'Pass as cursor for the next page; null on the last page. Stable while events keep arriving (keyset on occurred_at, event_id).',
    },
  },
});

export const eventIdParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['event_id'],
  properties: {
    event_id: { type: 'string', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$', description: 'Event id (UUID).' },
  },
} as const;

export const getEventQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { tenant: eventFilterParams.tenant },
} as const;
