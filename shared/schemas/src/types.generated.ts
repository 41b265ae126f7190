// Generated from shared/schemas/audit_event.avsc by src/generate-types.ts: do not edit.
// Regenerate: node --import tsx shared/schemas/src/generate-types.ts --write

/** user: a human; service: a workload or API client; system: the platform itself; anonymous: an unauthenticated caller. */
export const ACTOR_TYPE_SYMBOLS = ['user', 'service', 'system', 'anonymous'] as const;
export type ActorType = (typeof ACTOR_TYPE_SYMBOLS)[number];

/** The principal that performed the action. */
export interface Actor {
  /** Stable id of the principal (user id, service account, ...), unique within the tenant. */
  id: string;
  /** Kind of principal. */
  type: ActorType;
  /** Display name of the principal at the time of the event. */
  name: string | null;
  /** Session or token id the action was performed under. */
  session_id: string | null;
  /** Source IP address (IPv4 or IPv6) the request came from. */
  ip: string | null;
  /** User agent of the client, as sent. */
  user_agent: string | null;
}

/** What a producer passes for Actor: fields with a schema default may be left out. */
export interface ActorInput {
  /** Stable id of the principal (user id, service account, ...), unique within the tenant. */
  id: string;
  /** Kind of principal. */
  type: ActorType;
  /** Display name of the principal at the time of the event. */
  name?: string | null;
  /** Session or token id the action was performed under. */
  session_id?: string | null;
  /** Source IP address (IPv4 or IPv6) the request came from. */
  ip?: string | null;
  /** User agent of the client, as sent. */
  user_agent?: string | null;
}

/** authentication: sign-in and credentials; authorization: permission changes and checks; resource_access: reads and writes of business data; configuration: settings changes; data_export: bulk reads leaving the system; admin: administrative operations; system: platform events. */
export const CATEGORY_SYMBOLS = ['authentication', 'authorization', 'resource_access', 'configuration', 'data_export', 'admin', 'system'] as const;
export type Category = (typeof CATEGORY_SYMBOLS)[number];

/** success: done; failure: refused for a business reason (bad password, validation); denied: refused by access control; error: failed because of a fault. */
export const OUTCOME_SYMBOLS = ['success', 'failure', 'denied', 'error'] as const;
export type Outcome = (typeof OUTCOME_SYMBOLS)[number];

/** The target of the action. */
export interface Resource {
  /** Kind of resource, e.g. document, user, api_key, setting. */
  type: string;
  /** Id of the resource, unique within its type and tenant. */
  id: string;
  /** Display name of the resource at the time of the event. */
  name: string | null;
}

/** What a producer passes for Resource: fields with a schema default may be left out. */
export interface ResourceInput {
  /** Kind of resource, e.g. document, user, api_key, setting. */
  type: string;
  /** Id of the resource, unique within its type and tenant. */
  id: string;
  /** Display name of the resource at the time of the event. */
  name?: string | null;
}

/** Ordered from least to most severe. */
export const SEVERITY_SYMBOLS = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITY_SYMBOLS)[number];

/** One audit event: who did what, to which resource, when, where, and with what outcome. This file is the single source of truth for the event contract; evolve it only by adding fields with defaults (see shared/schemas/history/). */
export interface AuditEvent {
  /** Unique id of the event, a UUIDv7 (RFC 9562) so ids sort by creation time. Set by the SDK when absent; downstream de-duplicates on it. */
  event_id: string;
  /** The tenant (customer, organisation) the event belongs to. Every query and alert is scoped by it. */
  tenant_id: string;
  /** When the action happened, in microseconds since the Unix epoch, UTC. Set by the SDK to the publish time when absent. (Avro long, logicalType timestamp-micros.) */
  occurred_at: number;
  /** Who performed the action. */
  actor: Actor;
  /** What was done: dotted lowercase words, most general first, e.g. auth.login, user.role.grant, document.read. */
  action: string;
  /** Coarse class of the action, for retention, dashboards and alert routing. */
  category: Category;
  /** How the action ended. */
  outcome: Outcome;
  /** Why the outcome happened, when not success (e.g. invalid_password). Short, machine-friendly; no secrets. */
  reason: string | null;
  /** Name of the service that performed the action and emitted the event. */
  service: string;
  /** Host, pod or instance of the emitting service. */
  host: string | null;
  /** Deployment region or zone of the emitting service. */
  region: string | null;
  /** The object the action was performed on; null when there is none (e.g. a login). */
  resource: Resource | null;
  /** Id of the request that caused the event, to join with application logs. */
  request_id: string | null;
  /** Distributed trace id (W3C trace-context) of the request. */
  trace_id: string | null;
  /** How much attention the event deserves; info unless the emitter knows better. */
  severity: Severity;
  /** Free-form context as string key/value pairs (e.g. http_method, mfa). No secrets or personal data beyond the fields above. */
  attributes: Record<string, string>;
  /** Added in v2. Id of the producer instance that published the event: new at every start of a producer (the SDK: a UUIDv7 per createAuditProducer). With producer_seq, lets the pipeline detect events lost between producer and store. Null when the producer does not number its events. */
  producer_id: string | null;
  /** Added in v2. Position of the event in its producer's stream: 0 for the first event of a producer_id, then +1 per event, no gaps; a retry of one event reuses its number. Set together with producer_id, or neither. */
  producer_seq: number | null;
}

/** What a producer passes for AuditEvent: fields with a schema default may be left out. */
export interface AuditEventInput {
  /** Unique id of the event, a UUIDv7 (RFC 9562) so ids sort by creation time. Set by the SDK when absent; downstream de-duplicates on it. */
  event_id: string;
  /** The tenant (customer, organisation) the event belongs to. Every query and alert is scoped by it. */
  tenant_id: string;
  /** When the action happened, in microseconds since the Unix epoch, UTC. Set by the SDK to the publish time when absent. (Avro long, logicalType timestamp-micros.) */
  occurred_at: number;
  /** Who performed the action. */
  actor: ActorInput;
  /** What was done: dotted lowercase words, most general first, e.g. auth.login, user.role.grant, document.read. */
  action: string;
  /** Coarse class of the action, for retention, dashboards and alert routing. */
  category: Category;
  /** How the action ended. */
  outcome: Outcome;
  /** Why the outcome happened, when not success (e.g. invalid_password). Short, machine-friendly; no secrets. */
  reason?: string | null;
  /** Name of the service that performed the action and emitted the event. */
  service: string;
  /** Host, pod or instance of the emitting service. */
  host?: string | null;
  /** Deployment region or zone of the emitting service. */
  region?: string | null;
  /** The object the action was performed on; null when there is none (e.g. a login). */
  resource?: ResourceInput | null;
  /** Id of the request that caused the event, to join with application logs. */
  request_id?: string | null;
  /** Distributed trace id (W3C trace-context) of the request. */
  trace_id?: string | null;
  /** How much attention the event deserves; info unless the emitter knows better. */
  severity?: Severity;
  /** Free-form context as string key/value pairs (e.g. http_method, mfa). No secrets or personal data beyond the fields above. */
  attributes?: Record<string, string>;
  /** Added in v2. Id of the producer instance that published the event: new at every start of a producer (the SDK: a UUIDv7 per createAuditProducer). With producer_seq, lets the pipeline detect events lost between producer and store. Null when the producer does not number its events. */
  producer_id?: string | null;
  /** Added in v2. Position of the event in its producer's stream: 0 for the first event of a producer_id, then +1 per event, no gaps; a retry of one event reuses its number. Set together with producer_id, or neither. */
  producer_seq?: number | null;
}
