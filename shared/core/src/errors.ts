/**
 * Every error auditstream raises on purpose is an AuditstreamError: it has a stable
 * `code` (for metrics labels and programmatic handling), a `retriable` flag (the one
 * thing the retry helper looks at) and the underlying `cause`.
 *
 * Messages name the field or parameter at fault, never payload values or secrets.
 */
/**
 * Codes any package may raise: a bad config or config file, a wrong call (CLI usage, arguments),
 * a timeout (withTimeout). Each package lists its own codes in one `as const` list
 * (`<PKG>_ERROR_CODES`, its `src/error-codes.ts` or `src/errors.ts`); test/deploy/error-codes.test.ts
 * checks that every code a package raises is in its list, this one, or one of a package it builds on.
 */
export const CORE_ERROR_CODES = ['CONFIG_INVALID', 'CONFIG_UNREADABLE', 'USAGE', 'TIMEOUT'] as const;
export type CoreErrorCode = (typeof CORE_ERROR_CODES)[number];

export interface AuditstreamErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  /** The field, parameter or config key at fault, when there is one. */
  field?: string;
  details?: Record<string, unknown>;
}

export class AuditstreamError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  readonly field: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: AuditstreamErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AuditstreamError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.field = options.field;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retriable: this.retriable,
      ...(this.field ? { field: this.field } : {}),
    };
  }
}

export function isAuditstreamError(err: unknown): err is AuditstreamError {
  return err instanceof AuditstreamError;
}

/** True when the error says so, or when it is a transient network failure. */
export function isRetriable(err: unknown): boolean {
  if (err instanceof AuditstreamError) return err.retriable;
  if (err && typeof err === 'object') {
    const e = err as { retriable?: unknown; code?: unknown };
    if (typeof e.retriable === 'boolean') return e.retriable;
    if (typeof e.code === 'string' && TRANSIENT_NODE_CODES.has(e.code)) return true;
  }
  return false;
}

/** Node and undici error codes of a network failure that a later attempt may not meet. */
export const TRANSIENT_NODE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** A short, bounded label for metrics: the error code, never its message. */
export function errorType(err: unknown): string {
  if (err instanceof AuditstreamError) return err.code;
  if (err && typeof err === 'object' && typeof (err as { code?: unknown }).code === 'string') {
    const code = (err as { code: string }).code;
    return /^[A-Z0-9_]{1,40}$/.test(code) ? code : 'other';
  }
  return 'other';
}
