import { AuditstreamError, type RetryOptions, retry } from '@auditstream/core';
import type { AvroSchema } from '@auditstream/schemas';

/**
 * A minimal client for the Confluent Schema Registry REST API (also served by Apicurio
 * under /apis/ccompat/v7 and by Redpanda/Karapace):
 *   POST /subjects/<subject>/versions  {"schema": "<json>"}  → {"id": n}   (register or look up)
 *   GET  /schemas/ids/<id>                                    → {"schema": "<json>"}
 * Both answers are cached for the life of the client (ids are immutable), and concurrent
 * calls for the same key share one request.
 */
export interface SchemaRegistryClient {
  /** Registers `schema` under `subject` (idempotent) and returns its global id. */
  register(subject: string, schema: AvroSchema): Promise<number>;
  /** The schema with that global id. */
  getSchema(id: number): Promise<AvroSchema>;
}

export interface RegistryClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8081 or http://127.0.0.1:8080/apis/ccompat/v7. */
  url: string;
  /** Per-request timeout. Default 5000. */
  timeoutMs?: number;
  /** Extra headers, e.g. authorization. Never logged. */
  headers?: Record<string, string>;
  /** Retries of unreachable/5xx answers (through @auditstream/core retry). Default 3 attempts. */
  retry?: RetryOptions;
  fetch?: typeof fetch;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export function createRegistryClient(options: RegistryClientOptions): SchemaRegistryClient {
  const { base, auth } = splitCredentials(options.url);
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 5000;
  const retryOpts: RetryOptions = { max_attempts: 3, initial_delay_ms: 100, max_delay_ms: 1000, ...options.retry };
  const registered = new Map<string, Promise<number>>();
  const byId = new Map<number, Promise<AvroSchema>>();
  // The origin only: a base URL may carry credentials, and those never reach a message.
  const where = safeOrigin(base);

  async function call(method: 'GET' | 'POST', path: string, body: unknown, context: string): Promise<Record<string, unknown>> {
    return retry(async () => {
      let res: Response;
      try {
        res = await doFetch(`${base}${path}`, {
          method,
          headers: { accept: CONTENT_TYPE, ...(body === undefined ? {} : { 'content-type': CONTENT_TYPE }), ...auth, ...options.headers },
          body: body === undefined ? null : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (cause) {
        throw new AuditstreamError('CODEC_REGISTRY_UNREACHABLE', `schema registry ${where} is unreachable (${context}): ${networkReason(cause)}`, {
          retriable: true,
          cause,
        });
      }
      const text = await res.text().catch(() => '');
      let json: Record<string, unknown> = {};
      try {
        json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        // a proxy's HTML error page: keep the status only
      }
      if (res.ok) return json;
      const detail = typeof json.message === 'string' ? `: ${json.message.slice(0, 200)}` : '';
      const status = `HTTP ${res.status}${json.error_code ? ` (error_code ${json.error_code})` : ''}${detail}`;
      if (res.status >= 500 || res.status === 429 || res.status === 408) {
        throw new AuditstreamError('CODEC_REGISTRY_UNREACHABLE', `schema registry ${where} failed (${context}): ${status}`, { retriable: true });
      }
      if (res.status === 401 || res.status === 403) {
        throw new AuditstreamError('CODEC_REGISTRY_UNAUTHORIZED', `schema registry ${where} refused credentials (${context}): ${status}`);
      }
      if (res.status === 404 && method === 'GET') {
        throw new AuditstreamError('CODEC_UNKNOWN_SCHEMA_ID', `schema registry ${where} has no schema for ${context}: ${status}`);
      }
      if (res.status === 409) {
        throw new AuditstreamError('CODEC_REGISTRY_INCOMPATIBLE', `schema registry ${where} rejected the schema as incompatible (${context}): ${status}`);
      }
      throw new AuditstreamError('CODEC_REGISTRY_REJECTED', `schema registry ${where} rejected the request (${context}): ${status}`);
    }, retryOpts);
  }

  return {
    register(subject, schema) {
      const text = JSON.stringify(schema);
      const key = `${subject}\u0000${text}`;
      let p = registered.get(key);
      if (!p) {
        p = call('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schema: text }, `registering subject ${subject}`).then((json) => {
          if (typeof json.id !== 'number')
            throw new AuditstreamError('CODEC_REGISTRY_REJECTED', `schema registry ${where} answered without an id for subject ${subject}`);
          return json.id;
        });
        registered.set(key, p);
        p.catch(() => registered.delete(key));
      }
      return p;
    },
    getSchema(id) {
      let p = byId.get(id);
      if (!p) {
        p = call('GET', `/schemas/ids/${id}`, undefined, `schema id ${id}`).then((json) => {
          if (typeof json.schema !== 'string')
            throw new AuditstreamError('CODEC_REGISTRY_REJECTED', `schema registry ${where} answered without a schema for id ${id}`);
          if (json.schemaType !== undefined && json.schemaType !== 'AVRO') {
            throw new AuditstreamError('CODEC_NOT_AVRO', `schema id ${id} is a ${String(json.schemaType)} schema, not Avro`);
          }
          return JSON.parse(json.schema) as AvroSchema;
        });
        byId.set(id, p);
        p.catch(() => byId.delete(id));
      }
      return p;
    },
  };
}

/** user:password in the URL becomes a basic authorization header (fetch refuses credentials in URLs). */
function splitCredentials(url: string): { base: string; auth: Record<string, string> } {
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw new AuditstreamError('CONFIG_INVALID', 'schema registry url is not a valid URL', { cause, field: 'registryUrl' });
  }
  const auth: Record<string, string> = {};
  if (u.username || u.password) {
    auth.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  return { base: u.toString().replace(/\/+$/, ''), auth };
}

function networkReason(cause: unknown): string {
  const e = cause as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'request timed out';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? 'network error';
}

function safeOrigin(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}
