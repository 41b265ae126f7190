/**
 * RFC 9457 problem details. Every error answer of the API is one of these, served as
 * `application/problem+json`. `type` is a stable URN per kind of problem (documented in
 * docs/api.md and in the OpenAPI spec); `detail` names the parameter at fault and never echoes
 * input values, secrets or server internals.
 */
export interface ParameterError {
  /** The parameter at fault: a query or path parameter name, a body field, or a header. */
  parameter: string;
  /** Where the parameter is: query, path, body or header. */
  in: 'query' | 'path' | 'body' | 'header';
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: ParameterError[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Problem kinds: URN slug, title and HTTP status. */
export const PROBLEMS = {
  invalid_parameters: { status: 400, title: 'Invalid request parameters' },
  malformed_request: { status: 400, title: 'Malformed HTTP request' },
  unauthenticated: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  request_timeout: { status: 408, title: 'Request timeout' },
  payload_too_large: { status: 413, title: 'Request body too large' },
  uri_too_long: { status: 414, title: 'URI too long' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  expectation_failed: { status: 417, title: 'Expectation failed' },
  rate_limited: { status: 429, title: 'Too many requests' },
  headers_too_large: { status: 431, title: 'Request header fields too large' },
  internal: { status: 500, title: 'Internal error' },
  not_configured: { status: 501, title: 'Not configured' },
  unavailable: { status: 503, title: 'Service unavailable' },
  query_timeout: { status: 504, title: 'Query timed out' },
} as const;

export type ProblemKind = keyof typeof PROBLEMS;

export function problemType(kind: ProblemKind): string {
  return `urn:auditstream:problem:${kind.replace(/_/g, '-')}`;
}

/** Thrown by routes and plugins; the problem plugin turns it into the answer. */
export class ProblemError extends Error {
  readonly kind: ProblemKind;
  readonly status: number;
  readonly errors: ParameterError[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(kind: ProblemKind, detail: string, options: { errors?: ParameterError[]; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProblemError';
    this.kind = kind;
    this.status = PROBLEMS[kind].status;
    this.errors = options.errors;
    this.headers = options.headers;
  }

  toProblem(instance?: string): Problem {
    return {
      type: problemType(this.kind),
      title: PROBLEMS[this.kind].title,
      status: this.status,
      detail: this.message,
      ...(instance ? { instance } : {}),
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

/** A 400 naming one parameter. */
export function badParameter(parameter: string, message: string, where: ParameterError['in'] = 'query'): ProblemError {
  return new ProblemError('invalid_parameters', `parameter ${parameter}: ${message}`, { errors: [{ parameter, in: where, message }] });
}
