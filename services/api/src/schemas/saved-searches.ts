import { eventFilterParams, text } from './common.js';
import { named } from './registry.js';

/** A relative range the console resolves at run time: now minus this (e.g. 15m, 24h, 7d, 2w). */
export const RELATIVE_RANGE_PATTERN = '^[1-9][0-9]{0,3}[mhdw]$';

/** What a saved search stores: the event filters (all optional), the sort, and a fixed or a relative range. */
export const savedQuerySchema = {
  type: 'object',
  additionalProperties: false,
  description: 'The search: any event filter of GET /v1/events (from and to optional), sort, or a relative range instead of from/to.',
  properties: {
    ...eventFilterParams,
    range: { type: 'string', pattern: RELATIVE_RANGE_PATTERN, description: 'Relative range (now minus this): 15m, 24h, 7d, 2w. Not with from/to.' },
    sort: { type: 'string', enum: ['asc', 'desc'] },
  },
} as const;

export const saveSearchBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'query'],
  properties: {
    name: text('Name shown in the console; saving an existing name of the same tenant replaces that search.', 200),
    query: savedQuerySchema,
  },
} as const;

export const savedSearchSchema = named('SavedSearch', {
  type: 'object',
  required: ['id', 'name', 'tenant', 'query', 'created_at', 'updated_at'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    tenant: { type: ['string', 'null'], description: 'query.tenant, or null: every tenant of the credential.' },
    query: { type: 'object', additionalProperties: { type: 'string' } },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
});

export const savedSearchListSchema = named('SavedSearchList', {
  type: 'object',
  required: ['data'],
  properties: { data: { type: 'array', items: savedSearchSchema } },
});

export const savedSearchIdParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['search_id'],
  properties: {
    search_id: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', description: 'Saved search id (UUID).' },
  },
} as const;

export const savedSearchListQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { tenant: eventFilterParams.tenant },
} as const;
