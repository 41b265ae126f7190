import { FIXED_FILTER_KEYS } from '../scope.js';
import { eventFilterParams, text } from './common.js';
import { named } from './registry.js';

/** The filters a viewer token may fix: the event filters without the range, the tenant and free text. */
export const fixedFiltersSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Filters every read through the token is narrowed to (a request may repeat them, never widen them).',
  properties: Object.fromEntries(FIXED_FILTER_KEYS.map((k) => [k, eventFilterParams[k]])),
} as const;

export const mintViewerTokenBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['tenant'],
  properties: {
    tenant: text('The one tenant the token reads. Must be one of the credential\u2019s tenants (else 403).', 256),
    ttl_s: { type: 'integer', minimum: 1, description: 'Lifetime in seconds; at most api.viewer_token_max_ttl_s (default api.viewer_token_default_ttl_s).' },
    filters: fixedFiltersSchema,
  },
} as const;

export const viewerTokenSchema = named('ViewerToken', {
  type: 'object',
  required: ['token', 'token_id', 'tenant', 'filters', 'issued_at', 'expires_at', 'ttl_s'],
  properties: {
    token: { type: 'string', description: 'The bearer token (avt_…). Shown once: only token_id is logged and audited.' },
    token_id: { type: 'string', description: 'vt_ + 16 hex characters: the actor of the self-audit events of reads through it.' },
    tenant: { type: 'string' },
    filters: { type: 'object', additionalProperties: { type: 'string' } },
    issued_at: { type: 'string', format: 'date-time' },
    expires_at: { type: 'string', format: 'date-time' },
    ttl_s: { type: 'integer' },
  },
});
