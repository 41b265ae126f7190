import { isAuditstreamError, uuidv7 } from '@auditstream/core';
import type { PublishInput, PublishReceipt } from '@auditstream/producer';
import { Counter, type Registry } from 'prom-client';
import { type ParameterError, ProblemError } from '../problem.js';
import type { Principal } from '../scope.js';
import { printable } from '../text.js';

/** What the collector needs of the SDK producer (createAuditProducer): one per API process. */
export interface EventPublisher {
  publish(event: PublishInput): Promise<PublishReceipt>;
}

export type CollectorResult =
  | { index: number; status: 'accepted'; event_id: string; partition: number; offset: string; occurred_at?: string }
  | { index: number; status: 'rejected'; code: string; reason: string; retriable: boolean; field?: string; event_id?: string; occurred_at?: string };

export interface CollectorAnswer {
  accepted: number;
  rejected: number;
  results: CollectorResult[];
}

// The error codes the SDK rejects an event with: the metric's label values (anything else is "other").
const CODES = new Set(['EVENT_INVALID', 'EVENT_TOO_LARGE', 'PRODUCER_BUFFER_FULL', 'PRODUCER_SEND_FAILED', 'PRODUCER_DELIVERY_TIMEOUT', 'PRODUCER_CLOSED']);

// Fixed texts for Kafka-side failures: the SDK's messages may carry broker details.
const FAILURE_REASONS: Record<string, string> = {
  PRODUCER_BUFFER_FULL: 'the API is publishing at capacity; retry later with the same event_id',
  PRODUCER_DELIVERY_TIMEOUT: 'Kafka did not acknowledge the event in time; retry with the same event_id (it may have been stored once)',
  PRODUCER_CLOSED: 'the API is shutting down; retry with the same event_id',
};

export interface CollectorMetrics {
  received: Counter<'format'>;
  accepted: Counter;
  rejected: Counter<'code'>;
}

const byRegistry = new WeakMap<Registry, CollectorMetrics>();

/** auditstream_api_collector_events_{received,accepted,rejected}_total, once per registry. */
export function collectorMetrics(registry: Registry): CollectorMetrics {
  const known = byRegistry.get(registry);
  if (known) return known;
  const m: CollectorMetrics = {
    received: new Counter({
      name: 'auditstream_api_collector_events_received_total',
      help: 'Events received by POST /v1/events in batches that passed authorization and parsing, by body format (json, ndjson).',
      labelNames: ['format'],
      registers: [registry],
    }),
    accepted: new Counter({
      name: 'auditstream_api_collector_events_accepted_total',
      help: 'Events POST /v1/events published and Kafka acknowledged (answered with a receipt).',
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'auditstream_api_collector_events_rejected_total',
      help: 'Events POST /v1/events answered as rejected, by SDK error code (EVENT_INVALID, EVENT_TOO_LARGE, PRODUCER_*, other).',
      labelNames: ['code'],
      registers: [registry],
    }),
  };
  byRegistry.set(registry, m);
  return m;
}

const MAX_LISTED = 20;

/**
 * An event naming a tenant outside the credential's refuses the whole request (403) before
 * anything is published: a service key never writes into another tenant's log. Events whose
 * tenant_id is missing or not a string are left to the validator (a per-event rejection).
 */
export function checkTenants(principal: Principal, events: readonly unknown[]): void {
  if (principal.tenants === '*') return;
  if (principal.tenants.length === 0) throw new ProblemError('forbidden', 'this credential is not scoped to any tenant; create the service key with --tenant');
  const allowed = new Set(principal.tenants);
  const errors: ParameterError[] = [];
  let outside = 0;
  events.forEach((e, i) => {
    const tenant = isObject(e) ? e.tenant_id : undefined;
    if (typeof tenant !== 'string' || allowed.has(tenant)) return;
    if (++outside <= MAX_LISTED) errors.push({ parameter: `[${i}].tenant_id`, in: 'body', message: 'outside the tenants of this credential' });
  });
  if (outside > 0)
    throw new ProblemError('forbidden', `${outside} event(s) name a tenant this credential may not publish for; nothing was published`, { errors });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const absent = (v: unknown) => v === undefined || v === null;

/**
 * An event without event_id or occurred_at gets them here rather than in the SDK, and its
 * result returns them: re-sending the event with them is the same event again, which the store
 * keeps once (a retry without them would be a new event_id, or the same id at another time).
 * The events are the request's own freshly parsed objects: filled in place (no copy per event),
 * occurred_at as microseconds (what the SDK would parse an ISO string into).
 */
function fillIdentity(e: unknown, nowMs: number): string | undefined {
  if (!isObject(e)) return undefined;
  if (absent(e.event_id)) e.event_id = uuidv7(nowMs);
  if (!absent(e.occurred_at)) return undefined;
  e.occurred_at = nowMs * 1000;
  return new Date(nowMs).toISOString();
}

/**
 * Publishes every event through the SDK in input order (per-actor order is kept: the SDK keys
 * by tenant and actor) and waits for each outcome: one result per event, in input order.
 */
export async function publishBatch(publisher: EventPublisher, events: unknown[], metrics: CollectorMetrics): Promise<CollectorAnswer> {
  const now = Date.now();
  const filledAt = events.map((e) => fillIdentity(e, now));
  const settled = await Promise.allSettled(events.map((e) => publisher.publish(e as PublishInput)));
  const results: CollectorResult[] = [];
  let accepted = 0;
  settled.forEach((s, index) => {
    const at = filledAt[index] ? { occurred_at: filledAt[index] } : {};
    if (s.status === 'fulfilled') {
      accepted++;
      results.push({ index, status: 'accepted', event_id: s.value.event_id, partition: s.value.partition, offset: s.value.offset, ...at });
      return;
    }
    const err = s.reason;
    const code = isAuditstreamError(err) && CODES.has(err.code) ? err.code : 'other';
    metrics.rejected.inc({ code });
    const input = events[index];
    const eventId = isObject(input) && typeof input.event_id === 'string' && code !== 'EVENT_INVALID' ? { event_id: input.event_id } : {};
    if (code === 'EVENT_INVALID' || code === 'EVENT_TOO_LARGE') {
      // Field names come from the request (unknown keys): short and printable.
      const field = printable(isAuditstreamError(err) && err.field ? err.field : 'event', 64);
      // The validator's messages name the field and never the value.
      results.push({ index, status: 'rejected', code, field, reason: printable(err instanceof Error ? err.message : 'is invalid', 300), retriable: false });
    } else {
      const retriable = isAuditstreamError(err) ? err.retriable === true || code in FAILURE_REASONS : false;
      results.push({ index, status: 'rejected', code, reason: FAILURE_REASONS[code] ?? 'the event could not be published', retriable, ...eventId, ...at });
    }
  });
  metrics.accepted.inc(accepted);
  return { accepted, rejected: events.length - accepted, results };
}
