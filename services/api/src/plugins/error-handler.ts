import { STATUS_CODES } from 'node:http';
import { isAuditstreamError } from '@auditstream/core';
import type { Logger } from '@auditstream/observability';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ParameterError, PROBLEM_CONTENT_TYPE, type Problem, ProblemError } from '../problem.js';
import type { Refusal } from './audit-self.js';
import { registerParameterChecks, UNKNOWN_PARAMETER } from './params.js';

/**
 * Every error answer is an RFC 9457 problem (application/problem+json):
 * - request validation (fastify + Ajv, unknown parameters included) → 400 with errors[] naming
 *   each parameter; strings that are not well-formed Unicode are refused before validation;
 * - ProblemError thrown by routes and plugins → its status;
 * - storage errors → 504 (ClickHouse TIMEOUT_EXCEEDED or a client timeout), 503 (unreachable);
 *   a value the safe-SQL builder refuses → 400;
 * - body too large → 413, wrong content type → 415, unparsable JSON → 400;
 * - anything else → 500 with a generic detail (the error is logged, without payloads).
 * No answer ever carries a stack, SQL text, or the server's message.
 */
export function sendProblem(reply: FastifyReply, problem: Problem, headers: Record<string, string> = {}): FastifyReply {
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

type Where = ParameterError['in'];
const CONTEXT: Record<string, Where> = { querystring: 'query', params: 'path', body: 'body', headers: 'header' };

interface AjvError {
  instancePath?: string;
  keyword: string;
  params?: Record<string, unknown>;
  message?: string;
}

/** Ajv errors → one entry per parameter and message, in a stable order. */
export function validationErrors(errors: readonly AjvError[], context: string | undefined): ParameterError[] {
  const where: Where = CONTEXT[context ?? ''] ?? 'query';
  const out: ParameterError[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const path = (e.instancePath ?? '')
      .split('/')
      .filter(Boolean)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .join('.');
    let parameter = path;
    let message: string;
    switch (e.keyword) {
      case 'additionalProperties':
        // The name is the caller's text (it may be markup): never echoed.
        parameter = [path, UNKNOWN_PARAMETER].filter(Boolean).join('.');
        message = where === 'body' ? 'is not a known field (see /openapi.json)' : 'is not a known parameter (see /openapi.json)';
        break;
      case 'required':
        parameter = [path, String(e.params?.missingProperty ?? '')].filter(Boolean).join('.');
        message = 'is required';
        break;
      case 'enum':
        message = `must be one of: ${((e.params?.allowedValues as unknown[]) ?? []).join(', ')}`;
        break;
      case 'type':
        message = `must be ${e.params?.type === 'integer' ? 'an integer' : `a single ${String(e.params?.type ?? 'value')}`}`;
        break;
      default:
        message = e.message ?? 'is invalid';
    }
    parameter = truncateName(parameter || where);
    const k = `${parameter}\u0000${message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ parameter, in: where, message });
  }
  return out;
}

/** Declared names and JSON paths only reach here; kept short and printable all the same. */
function truncateName(name: string): string {
  const clean = name.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}

function fromStatus(status: number, detail: string, instance: string): Problem {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail, instance };
}

export function registerProblems(app: FastifyInstance, logger: Logger, onRefused?: (request: FastifyRequest, refusal: Refusal) => void): void {
  registerParameterChecks(app);

  app.setNotFoundHandler((request, reply) => {
    sendProblem(reply, new ProblemError('not_found', 'no such endpoint; see /openapi.json').toProblem(request.id));
  });

  app.setErrorHandler((err: FastifyError & { validationContext?: string }, request, reply) => {
    const { problem, headers } = toProblem(err, request, logger);
    if (problem.status >= 400 && problem.status < 500)
      onRefused?.(request, { status: problem.status, kind: problem.type.replace(/^urn:auditstream:problem:/, '').replace(/-/g, '_'), errors: problem.errors });
    return sendProblem(reply, problem, headers);
  });
}

/** The answer to an error thrown anywhere in a request's lifecycle. */
function toProblem(
  err: FastifyError & { validationContext?: string },
  request: FastifyRequest,
  logger: Logger,
): { problem: Problem; headers?: Record<string, string> } {
  const instance = request.id;
  const of = (e: ProblemError, headers?: Record<string, string>) => ({
    problem: e.toProblem(instance),
    ...(headers || e.headers ? { headers: { ...e.headers, ...headers } } : {}),
  });
  if (err instanceof ProblemError) return of(err);
  if (err.validation) {
    const errors = validationErrors(err.validation as AjvError[], err.validationContext);
    const names = [...new Set(errors.map((e) => e.parameter))];
    return of(new ProblemError('invalid_parameters', `invalid parameters: ${names.join(', ')}`, { errors }));
  }
  if (isAuditstreamError(err)) {
    switch (err.code) {
      case 'CLICKHOUSE_TIMEOUT':
        return of(
          new ProblemError('query_timeout', 'the query took longer than its time limit (ClickHouse max_execution_time); narrow the time range or add filters'),
        );
      case 'CLICKHOUSE_UNAVAILABLE':
      case 'CLICKHOUSE_ABORTED':
        logger.warn({ err_code: err.code, route: request.routeOptions.url }, 'ClickHouse unavailable');
        return of(new ProblemError('unavailable', 'the audit store is unavailable; retry later'), { 'retry-after': '5' });
      case 'SQL_PARAM':
      case 'QUERY_INVALID':
        // A value the safe-SQL builder refused: user input, caught before it reached SQL.
        return of(
          new ProblemError('invalid_parameters', `a parameter holds a value that cannot be searched for${err.field ? ` (${err.field})` : ''}`, {
            errors: [{ parameter: err.field && err.field !== 'sql' ? err.field : 'query', in: 'query', message: 'cannot be used in a query' }],
          }),
        );
      case 'CLICKHOUSE_SCHEMA':
        logger.error({ err_code: err.code, msg: err.message }, 'audit tables missing or outdated');
        return of(new ProblemError('unavailable', 'the audit store is not ready; retry later'), { 'retry-after': '30' });
      default:
        break;
    }
  }
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status === 413) return of(new ProblemError('payload_too_large', 'the request body is larger than api.body_limit_bytes'));
  if (status === 415) return of(new ProblemError('unsupported_media_type', 'the request body must be application/json'));
  if (status === 400 && typeof err.code === 'string' && err.code.startsWith('FST_ERR_CTP'))
    return of(
      new ProblemError('invalid_parameters', 'the request body is not valid JSON', {
        errors: [{ parameter: 'body', in: 'body', message: 'is not valid JSON' }],
      }),
    );
  if (status === 400) return of(new ProblemError('malformed_request', 'the request was refused as malformed'));
  if (status > 400 && status < 500) return { problem: fromStatus(status, 'the request was refused', instance) };
  logger.error({ err_code: err.code ?? 'none', err_name: err.name, route: request.routeOptions.url, stack: err.stack }, 'unexpected error');
  return of(new ProblemError('internal', 'an internal error occurred; it has been logged'));
}
