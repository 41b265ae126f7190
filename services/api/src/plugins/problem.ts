import { STATUS_CODES } from 'node:http';
import { isAuditstreamError } from '@auditstream/core';
import type { Logger } from '@auditstream/observability';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ParameterError, PROBLEM_CONTENT_TYPE, type Problem, ProblemError } from '../problem.js';
import { isWellFormed } from '../text.js';

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
        parameter = [path, String(e.params?.additionalProperty ?? '')].filter(Boolean).join('.');
        message = where === 'body' ? 'is not a known field' : 'is not a known parameter';
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

/** Unknown parameter names come from the request: keep them short and printable. */
function truncateName(name: string): string {
  const clean = name.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}

function fromStatus(status: number, detail: string, instance: string): Problem {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail, instance };
}

export function registerProblems(app: FastifyInstance, logger: Logger, onForbidden?: (request: FastifyRequest, err: ProblemError) => void): void {
  // Query values must round-trip to ClickHouse as text: refuse lone surrogates up front, naming the parameter.
  app.addHook('preValidation', async (request) => {
    const q = request.query as Record<string, unknown> | undefined;
    if (!q || typeof q !== 'object') return;
    const errors: ParameterError[] = [];
    for (const [k, v] of Object.entries(q)) {
      const values = Array.isArray(v) ? v : [v];
      if (values.some((x) => typeof x === 'string' && (!isWellFormed(x) || x.includes('\ufffd'))))
        errors.push({ parameter: truncateName(k), in: 'query', message: 'is not valid UTF-8 text' });
    }
    if (errors.length) throw new ProblemError('invalid_parameters', `invalid parameters: ${errors.map((e) => e.parameter).join(', ')}`, { errors });
  });

  app.setNotFoundHandler((request, reply) => {
    sendProblem(reply, new ProblemError('not_found', 'no such endpoint; see /openapi.json').toProblem(request.id));
  });

  app.setErrorHandler((err: FastifyError & { validationContext?: string }, request, reply) => {
    const instance = request.id;
    if (err instanceof ProblemError) {
      if (err.kind === 'forbidden') onForbidden?.(request, err);
      return sendProblem(reply, err.toProblem(instance), err.headers);
    }
    if (err.validation) {
      const errors = validationErrors(err.validation as AjvError[], err.validationContext);
      const names = [...new Set(errors.map((e) => e.parameter))];
      return sendProblem(reply, new ProblemError('invalid_parameters', `invalid parameters: ${names.join(', ')}`, { errors }).toProblem(instance));
    }
    if (isAuditstreamError(err)) {
      switch (err.code) {
        case 'CLICKHOUSE_TIMEOUT':
          return sendProblem(
            reply,
            new ProblemError(
              'query_timeout',
              'the query took longer than its time limit (ClickHouse max_execution_time); narrow the time range or add filters',
            ).toProblem(instance),
          );
        case 'CLICKHOUSE_UNAVAILABLE':
        case 'CLICKHOUSE_ABORTED':
          logger.warn({ err_code: err.code, route: request.routeOptions.url }, 'ClickHouse unavailable');
          return sendProblem(reply, new ProblemError('unavailable', 'the audit store is unavailable; retry later').toProblem(instance), { 'retry-after': '5' });
        case 'SQL_PARAM':
        case 'QUERY_INVALID':
          // A value the safe-SQL builder refused: user input, caught before it reached SQL.
          return sendProblem(
            reply,
            new ProblemError('invalid_parameters', `a parameter holds a value that cannot be searched for${err.field ? ` (${err.field})` : ''}`, {
              errors: [{ parameter: err.field && err.field !== 'sql' ? err.field : 'query', in: 'query', message: 'cannot be used in a query' }],
            }).toProblem(instance),
          );
        case 'CLICKHOUSE_SCHEMA':
          logger.error({ err_code: err.code, msg: err.message }, 'audit tables missing or outdated');
          return sendProblem(reply, new ProblemError('unavailable', 'the audit store is not ready; retry later').toProblem(instance), { 'retry-after': '30' });
        default:
          break;
      }
    }
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status === 413)
      return sendProblem(reply, new ProblemError('payload_too_large', 'the request body is larger than api.body_limit_bytes').toProblem(instance));
    if (status === 415) return sendProblem(reply, new ProblemError('unsupported_media_type', 'the request body must be application/json').toProblem(instance));
    if (status === 400 && typeof err.code === 'string' && err.code.startsWith('FST_ERR_CTP'))
      return sendProblem(
        reply,
        new ProblemError('invalid_parameters', 'the request body is not valid JSON', {
          errors: [{ parameter: 'body', in: 'body', message: 'is not valid JSON' }],
        }).toProblem(instance),
      );
    if (status >= 400 && status < 500) return sendProblem(reply, fromStatus(status, 'the request was refused', instance));
    logger.error({ err_code: err.code ?? 'none', err_name: err.name, route: request.routeOptions.url, stack: err.stack }, 'unexpected error');
    return sendProblem(reply, new ProblemError('internal', 'an internal error occurred; it has been logged').toProblem(instance));
  });
}
