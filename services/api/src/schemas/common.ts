import { ISO_PATTERN } from '../time.js';
import { type JsonSchema, named } from './registry.js';

/** Printable text: no control characters (they have no business in an id or a search). */
export const TEXT_PATTERN = '^[^\\u0000-\\u001F\\u007F]+$';
/** A dotted action, as the SDK accepts them (ACTION_RE of @auditstream/producer). */
export const ACTION_PATTERN = '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$';
/** A prefix of a dotted action: `user.`, `user.role`, `auth`. */
export const ACTION_PREFIX_PATTERN = '^[a-z][a-z0-9_.]*$';

export const CATEGORY_VALUES = ['authentication', 'authorization', 'resource_access', 'configuration', 'data_export', 'admin', 'system'] as const;
export const OUTCOME_VALUES = ['success', 'failure', 'denied', 'error'] as const;
export const SEVERITY_VALUES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export const ACTOR_TYPE_VALUES = ['user', 'service', 'system', 'anonymous'] as const;

export const text = (description: string, maxLength = 512): JsonSchema => ({ type: 'string', minLength: 1, maxLength, pattern: TEXT_PATTERN, description });
const timestamp = (description: string): JsonSchema => ({ type: 'string', format: 'date-time', pattern: ISO_PATTERN, maxLength: 40, description });

export const timeRangeParams = {
  from: timestamp('Start of the time range (inclusive), ISO 8601 with a zone, e.g. 2024-05-01T00:00:00Z. Required.'),
  to: timestamp('End of the time range (exclusive), ISO 8601 with a zone; the span is bounded by api.max_range_s. Required.'),
};

/** The filters every event endpoint (search, stats, export) takes. */
export const eventFilterParams = {
  ...timeRangeParams,
  tenant: text('Only this tenant. Must be one of the credential\u2019s tenants (else 403); absent = every tenant of the credential.', 256),
  actor_id: text('Exact actor id.'),
  actor_type: { type: 'string', enum: [...ACTOR_TYPE_VALUES], description: 'Actor type.' },
  action: { type: 'string', minLength: 3, maxLength: 200, pattern: ACTION_PATTERN, description: 'Exact action, e.g. auth.login. Not with action_prefix.' },
  action_prefix: {
    type: 'string',
    minLength: 1,
    maxLength: 200,
    pattern: ACTION_PREFIX_PATTERN,
    description: 'Actions starting with this text, e.g. `user.` or `user.role`. Not with action.',
  },
  category: { type: 'string', enum: [...CATEGORY_VALUES], description: 'Event category.' },
  outcome: { type: 'string', enum: [...OUTCOME_VALUES], description: 'Event outcome.' },
  severity: { type: 'string', enum: [...SEVERITY_VALUES], description: 'Event severity (exact).' },
  resource_type: text('Exact resource type.', 256),
  resource_id: text('Exact resource id.'),
  service: text('Exact emitting service.', 256),
  source_ip: {
    type: 'string',
    minLength: 2,
    maxLength: 45,
    pattern: '^[0-9A-Fa-f:.]+$',
    description: 'Exact actor IP address (IPv4 or IPv6, as sent by the producer).',
  },
  session_id: text('Exact session or token id the action was performed under (actor.session_id).'),
  q: text('Case-insensitive substring searched in reason and in attribute keys and values.', 200),
} as const;

export const eventFilterKeys = Object.keys(eventFilterParams) as (keyof typeof eventFilterParams)[];

export const problemSchema = named('Problem', {
  type: 'object',
  description: 'RFC 9457 problem details (application/problem+json).',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string', description: 'URN of the kind of problem, e.g. urn:auditstream:problem:invalid-parameters.' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string', description: 'What went wrong, naming the parameter at fault; never echoes input values.' },
    instance: { type: 'string', description: 'The request id, for support.' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['parameter', 'in', 'message'],
        properties: {
          parameter: { type: 'string' },
          in: { type: 'string', enum: ['query', 'path', 'body', 'header'] },
          message: { type: 'string' },
        },
      },
    },
  },
});

/** What each error status means, for the OpenAPI document (answers are built by the problem plugin). */
export const PROBLEM_DESCRIPTIONS: Readonly<Record<number, string>> = {
  400: 'Invalid or unknown parameters (errors[] names each).',
  401: 'Missing, invalid or revoked credentials.',
  403: 'The role may not do this, or the tenant is outside the credential\u2019s scope.',
  404: 'Not found (or not visible to this credential).',
  413: 'Request body too large.',
  415: 'Unsupported content type.',
  429: 'Rate limited; see Retry-After.',
  501: 'Not configured in this deployment.',
  503: 'ClickHouse or the self-audit pipeline is unavailable; retry later.',
  504: 'The query exceeded its ClickHouse max_execution_time; narrow the range or the filters.',
};

/** The error answers of every authenticated read endpoint. */
export const READ_PROBLEMS = [400, 401, 403, 429, 503, 504] as const;
