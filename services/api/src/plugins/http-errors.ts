import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { uuidv7 } from '@auditstream/core';
import type { Logger } from '@auditstream/observability';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_CONTENT_TYPE, ProblemError, type ProblemKind } from '../problem.js';
import { sendProblem } from './error-handler.js';

/**
 * The errors that happen outside a route's lifecycle, answered as RFC 9457 problems like every
 * other error (fastify's and Node's own answers are JSON of another shape or bare, and fastify's
 * 414 echoes the URL):
 * - the HTTP parser refuses the request (a control byte in a header, Content-Length together
 *   with Transfer-Encoding, a malformed request line → 400; headers or URL over Node's
 *   max header size → 431; headers not received in time → 408): the server's clientError event;
 * - the router refuses the path (a parameter over maxParamLength → 414, a path that does not
 *   percent-decode → 400): fastify's frameworkErrors;
 * - an `Expect` other than 100-continue (417), a HTTP/1.1 request without Host (400), a request
 *   while the server closes (503).
 * Nothing of the request is echoed. The request id is made here when fastify made none.
 */

/** The problem for a connection-level error (Node's clientError), with the status Node would have used. */
function clientErrorKind(code: string | undefined): { kind: ProblemKind; detail: string } {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { kind: 'headers_too_large', detail: 'the request line and headers are larger than the server accepts (shorten the URL or the headers)' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { kind: 'request_timeout', detail: 'the request was not received in time' };
    default:
      return { kind: 'malformed_request', detail: 'the request is not valid HTTP/1.1 (invalid characters, framing or syntax)' };
  }
}

/** fastify's clientErrorHandler (bound to the server's clientError event): a problem written on the raw socket. */
export function clientErrorHandler(logger: Logger): (err: Error & { code?: string }, socket: Socket) => void {
  return (err, socket) => {
    // A reset connection has nobody to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const id = uuidv7();
    const { kind, detail } = clientErrorKind(err.code);
    const problem = new ProblemError(kind, detail).toProblem(id);
    logger.debug({ err_code: err.code ?? 'none', status: problem.status, request_id: id }, 'client error');
    if (socket.writable) {
      const body = JSON.stringify(problem);
      socket.write(
        `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          `X-Request-Id: ${id}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

/** fastify's frameworkErrors: what the router refused before any route matched. */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id).header('x-content-type-options', 'nosniff');
  const problem =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new ProblemError('uri_too_long', 'a path parameter is longer than the API accepts (128 characters)')
      : err.code === 'FST_ERR_BAD_URL'
        ? new ProblemError('malformed_request', 'the URL path is not valid percent-encoded UTF-8')
        : new ProblemError('internal', 'an internal error occurred; it has been logged');
  if (problem.kind === 'internal') request.log.error({ err_code: err.code ?? 'none' }, 'unexpected router error');
  sendProblem(reply, problem.toProblem(request.id));
}

/** Expect other than 100-continue, Host missing, server closing: refused as problems. */
export function registerHttpRefusals(app: FastifyInstance): void {
  app.server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const id = uuidv7();
    const body = JSON.stringify(new ProblemError('expectation_failed', 'only "Expect: 100-continue" is supported').toProblem(id));
    res.writeHead(417, { 'content-type': PROBLEM_CONTENT_TYPE, 'x-request-id': id, 'x-content-type-options': 'nosniff', connection: 'close' });
    res.end(body);
  });
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (request) => {
    if (closing) throw new ProblemError('unavailable', 'the server is shutting down; retry on another instance', { headers: { 'retry-after': '1' } });
    // Node refuses these itself with a bare 400 unless requireHostHeader is off (app.ts turns it off).
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined)
      throw new ProblemError('malformed_request', 'an HTTP/1.1 request needs a Host header', {
        errors: [{ parameter: 'host', in: 'header', message: 'is required' }],
      });
  });
}
