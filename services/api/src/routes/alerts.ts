import type { FastifyInstance } from 'fastify';
import { queryDigest } from '../cursor.js';
import { listAlerts } from '../queries/alerts.js';
import { READ_PROBLEMS, SEVERITY_VALUES, text, timeRangeParams } from '../schemas/common.js';
import { maskedFieldSchema } from '../schemas/events.js';
import { named } from '../schemas/registry.js';
import { resolveScope, scopeLabel } from '../scope.js';
import { microsToIso, parseRange } from '../time.js';
import { principalOf, type RouteContext } from './context.js';
import { filterOf } from './filters.js';

interface AlertsQuery {
  from: string;
  to: string;
  tenant?: string;
  rule_id?: string;
  severity?: string;
  status?: string;
  limit?: number;
  cursor?: string;
}

const alertsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to'],
  properties: {
    from: { ...timeRangeParams.from, description: 'Alerts fired at or after this time (ISO 8601 with a zone). Required.' },
    to: { ...timeRangeParams.to, description: 'Alerts fired before this time; the span is bounded by api.max_range_s. Required.' },
    tenant: text('Only this tenant.', 256),
    rule_id: text('Only alerts of this rule.', 256),
    severity: { type: 'string', enum: [...SEVERITY_VALUES] },
    status: { type: 'string', enum: ['firing', 'resolved'] },
    limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'Page size (default api.default_limit).' },
    cursor: { type: 'string', minLength: 1, maxLength: 1024, pattern: '^[A-Za-z0-9_.-]+$', description: 'next_cursor of the previous page.' },
  },
} as const;

const alertSchema = named('Alert', {
  type: 'object',
  required: ['alert_id', 'tenant_id', 'rule_id', 'severity', 'status', 'title', 'details', 'event_ids', 'fired_at', 'updated_at', 'masked'],
  properties: {
    alert_id: { type: 'string' },
    tenant_id: { type: 'string' },
    rule_id: { type: 'string' },
    severity: { type: 'string', enum: [...SEVERITY_VALUES] },
    status: { type: 'string', enum: ['firing', 'resolved'] },
    title: { type: 'string' },
    details: { type: 'object', additionalProperties: true, description: 'Rule-specific details (no event payloads).' },
    event_ids: { type: 'array', items: { type: 'string' }, description: 'Events that triggered the alert.' },
    fired_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
    masked: {
      type: 'array',
      items: maskedFieldSchema,
      description: 'The details values withheld from this caller (`details.<key>`) and why, as in Event.masked; empty when every value is shown in clear.',
    },
  },
});

const alertPageSchema = named('AlertPage', {
  type: 'object',
  required: ['data', 'next_cursor'],
  properties: { data: { type: 'array', items: alertSchema }, next_cursor: { type: ['string', 'null'] } },
});

export function alertRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get<{ Querystring: AlertsQuery }>(
    '/v1/alerts',
    {
      config: { permission: 'alerts:read', problems: READ_PROBLEMS },
      schema: {
        operationId: 'listAlerts',
        summary: 'Alert history',
        description: 'Alerts fired in [from, to), newest first, in their latest state (firing or resolved). Admin only. Recorded as an audit.query event.',
        tags: ['alerts'],
        querystring: alertsQuerySchema,
        response: { 200: alertPageSchema },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const input = request.query;
      const range = parseRange(input.from, input.to, ctx.config.max_range_s);
      const scope = resolveScope(principal, input.tenant);
      const limit = input.limit ?? ctx.config.default_limit;
      const digest = queryDigest({ ...filterOf(input), scope: scopeLabel(scope) });
      const after = input.cursor !== undefined ? ctx.cursors.decode(input.cursor, 'alerts', 'desc', digest) : undefined;
      const { alerts, more } = await ctx.metrics.timeQuery('alerts', () =>
        listAlerts(
          ctx.ch,
          { scope, from: range.from, to: range.to, rule_id: input.rule_id, severity: input.severity, status: input.status },
          {
            limit,
            after,
            settings: ctx.querySettings,
          },
        ),
      );
      const masked = await ctx.fields.revealAlerts(alerts, principal);
      const last = alerts.at(-1);
      const next_cursor = more && last ? ctx.cursors.encode('alerts', 'desc', digest, { t: last.fired_at, id: last.alert_id }) : null;
      await ctx.audit.record(request, {
        kind: 'query',
        scope,
        filter: filterOf(input, ['limit']),
        resource: { type: 'audit_alerts', id: 'list' },
        extra: { result_count: alerts.length, masked_fields: masked.reduce((n, m) => n + m.length, 0) },
      });
      return {
        data: alerts.map((a, i) => ({ ...a, masked: masked[i] ?? [], fired_at: microsToIso(a.fired_at), updated_at: microsToIso(a.updated_at) })),
        next_cursor,
      };
    },
  );
}
