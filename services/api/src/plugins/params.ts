import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type ParameterError, ProblemError } from '../problem.js';
import { isWellFormed } from '../text.js';

/**
 * Query and path parameters are text until this hook has looked at them, before the JSON schema
 * does (preValidation):
 * - a value that is not well-formed Unicode is refused, naming the parameter (values must
 *   round-trip to ClickHouse as text);
 * - every parameter its route declares `type: 'integer'` goes through parseDecimalInteger, the one
 *   integer parser of the API. Ajv's own coercion would take `0x10`, `1e2`, ` 5`, `+5` or
 *   `Infinity` (Number() semantics); here only decimal digits pass, and the schema then checks
 *   the range of a finite, safe integer.
 * Parameter names a route does not declare are never echoed (see unknownParameter).
 */

/** The name reported for a parameter the route does not declare: the request's own text is not echoed. */
export const UNKNOWN_PARAMETER = '(unknown)';

/** `0`, or decimal digits without a leading zero: nothing Number() would also read. */
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

/** The one integer parser of the API: the value, or a message saying what is wrong with the text. */
export function parseDecimalInteger(raw: string): { value: number } | { error: string } {
  if (!DECIMAL.test(raw)) return { error: 'must be a whole number written in decimal digits (no sign, spaces, leading zeros, exponent or prefix)' };
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) return { error: 'is out of range' };
  return { value };
}

type Where = 'query' | 'path';
interface ObjectSchema {
  properties?: Record<string, { type?: unknown }>;
}

/** The declared name, or UNKNOWN_PARAMETER for a name the route does not know. */
function reportedName(name: string, schema: ObjectSchema | undefined): string {
  return schema?.properties && Object.hasOwn(schema.properties, name) ? name : UNKNOWN_PARAMETER;
}

function checkParameters(values: Record<string, unknown>, schema: ObjectSchema | undefined, where: Where, errors: ParameterError[]): void {
  for (const [name, v] of Object.entries(values)) {
    const list = Array.isArray(v) ? v : [v];
    if (list.some((x) => typeof x === 'string' && (!isWellFormed(x) || x.includes('\ufffd')))) {
      errors.push({ parameter: reportedName(name, schema), in: where, message: 'is not valid UTF-8 text' });
      continue;
    }
    // A repeated integer stays an array: the schema refuses it as "must be a single integer".
    if (schema?.properties?.[name]?.type !== 'integer' || typeof v !== 'string') continue;
    const parsed = parseDecimalInteger(v);
    if ('value' in parsed) values[name] = parsed.value;
    else errors.push({ parameter: name, in: where, message: parsed.error });
  }
}

export function registerParameterChecks(app: FastifyInstance): void {
  app.addHook('preValidation', async (request: FastifyRequest) => {
    const schema = request.routeOptions.schema as { querystring?: ObjectSchema; params?: ObjectSchema } | undefined;
    const errors: ParameterError[] = [];
    const q = request.query as Record<string, unknown> | undefined;
    if (q && typeof q === 'object') checkParameters(q, schema?.querystring, 'query', errors);
    const p = request.params as Record<string, unknown> | undefined;
    if (p && typeof p === 'object') checkParameters(p, schema?.params, 'path', errors);
    if (errors.length === 0) return;
    const names = [...new Set(errors.map((e) => e.parameter))];
    throw new ProblemError('invalid_parameters', `invalid parameters: ${names.join(', ')}`, { errors });
  });
}
