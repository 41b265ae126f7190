import { Readable } from 'node:stream';
import type { StoredEvent } from '@auditstream/clickhouse';
import { uuidv7 } from '@auditstream/core';
import type { ApiMaskedField } from '@auditstream/schemas';
import type { FastifyInstance } from 'fastify';
import { csvHeader, csvRow, toApiEvent } from '../present.js';
import { streamEventRows } from '../queries/events.js';
import { eventFilterParams, READ_PROBLEMS } from '../schemas/common.js';
import { principalOf, type RouteContext } from './context.js';
import { manifestPath, startManifest } from './export-manifest.js';
import { type EventFilterInput, eventQueryFrom, filterOf } from './filters.js';

interface ExportQuery extends EventFilterInput {
  format?: 'ndjson' | 'csv';
  sort?: 'asc' | 'desc';
}

const exportQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to'],
  properties: {
    ...eventFilterParams,
    format: {
      type: 'string',
      enum: ['ndjson', 'csv'],
      default: 'ndjson',
      description: 'ndjson: one Event JSON object per line; csv: RFC 4180 with a header row.',
    },
    sort: { type: 'string', enum: ['asc', 'desc'], default: 'asc', description: 'Order by occurred_at (then event_id).' },
  },
} as const;

/** Lines are gathered into chunks of about this size before they are written. */
const CHUNK_BYTES = 64 * 1024;

export function exportRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get<{ Querystring: ExportQuery }>(
    '/v1/export',
    {
      config: {
        permission: 'events:export',
        rateCost: ctx.config.rate_limit_export_cost,
        problems: READ_PROBLEMS,
        openapi: {
          responses: {
            200: {
              description:
                'The matching events, streamed (chunked). A failure after the first bytes aborts the connection, so an incomplete export never looks complete.',
              content: {
                'application/x-ndjson': {
                  schema: { type: 'string', description: 'One Event (components/schemas/Event) per line, with its `masked` list like a search answer.' },
                },
                'text/csv': {
                  schema: {
                    type: 'string',
                    description:
                      'Header row, then one event per row; attributes as a JSON object; the last column, masked, the withheld values as a JSON object path → reason (empty when none).',
                  },
                },
              },
            },
          },
        },
      },
      schema: {
        operationId: 'exportEvents',
        summary: 'Export events (NDJSON or CSV, streamed)',
        description:
          'Every event in [from, to) matching the filters (the search filters), streamed straight from ClickHouse in constant memory, ' +
          'each event once. The range is bounded by api.export_max_range_s. Recorded as an audit.export event (category data_export, attributes.export_id) before the first byte is sent. ' +
          'With a manifest key configured, the answer carries X-Export-Id and X-Manifest-Url: once the body is complete, GET that URL for the signed manifest of exactly these bytes.',
        tags: ['export'],
        querystring: exportQuerySchema,
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const input = request.query;
      const { query, scope } = eventQueryFrom(input, principal, ctx.config.export_max_range_s);
      const format = input.format ?? 'ndjson';
      const order = input.sort ?? 'asc';
      const exportId = uuidv7();

      // The export is on record before any data leaves (fail closed).
      await ctx.audit.record(request, {
        kind: 'export',
        scope,
        filter: filterOf(input),
        resource: { type: 'audit_events', id: 'export' },
        extra: { format, export_id: exportId },
      });
      const manifest = ctx.manifests
        ? startManifest(ctx.manifests, { exportId, principal, scope, filter: filterOf(input), range: query, format, order })
        : undefined;

      const abort = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableFinished) abort.abort();
      };
      reply.raw.once('close', onClose);
      const endTimer = ctx.metrics.queryDuration.startTimer({ query: 'export' });
      const rows = streamEventRows(ctx.ch, query, {
        order,
        signal: abort.signal,
        settings: { max_execution_time: ctx.config.export_timeout_s, max_bytes_before_external_sort: String(ctx.config.export_sort_spill_bytes) },
      });
      // The first rows (or the end) before the status line: a query that fails at once (timeout,
      // store unavailable) still gets a proper problem answer.
      let first: IteratorResult<StoredEvent[], void>;
      try {
        first = await rows.next();
      } catch (err) {
        endTimer();
        reply.raw.off('close', onClose);
        throw err;
      }
      const log = ctx.logger;
      const metrics = ctx.metrics;
      let count = 0;
      async function* body(): AsyncGenerator<Buffer> {
        let buf = format === 'csv' ? csvHeader() : '';
        if (buf !== '') manifest?.header(buf);
        let pending = 0;
        const flushCount = () => {
          if (pending > 0) metrics.exportedRows.inc({ format }, pending);
          count += pending;
          pending = 0;
        };
        const line = (e: StoredEvent, masked: ApiMaskedField[] | undefined) => {
          const out = toApiEvent(e, masked);
          return format === 'csv' ? csvRow(out) : `${JSON.stringify(out)}\n`;
        };
        try {
          for (let r = first; !r.done; r = await rows.next()) {
            const masked = await ctx.fields.reveal(r.value, principal);
            for (const [i, e] of r.value.entries()) {
              const text = line(e, masked[i]);
              manifest?.row(e, text);
              buf += text;
              pending++;
              if (buf.length >= CHUNK_BYTES) {
                flushCount();
                // Bytes here (the socket needs them anyway): the manifest hashes exactly what is sent.
                const out = Buffer.from(buf, 'utf8');
                buf = '';
                manifest?.body(out);
                yield out;
              }
            }
          }
          flushCount();
          const last = Buffer.from(buf, 'utf8');
          manifest?.body(last);
          // Signed and kept before the last bytes go out: once the client has the whole body, the manifest is there.
          await manifest?.finish();
          if (last.length > 0) yield last;
          log.info({ rows: count, format, route: '/v1/export' }, 'export finished');
        } catch (err) {
          flushCount();
          log.error({ err_code: (err as { code?: string }).code ?? 'unknown', rows: count }, 'export failed after it started; connection aborted');
          throw err;
        } finally {
          endTimer();
          reply.raw.off('close', onClose);
          await rows.return();
        }
      }
      const ext = format === 'csv' ? 'csv' : 'ndjson';
      reply
        .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="auditstream-export.${ext}"`)
        .header('cache-control', 'no-store');
      if (manifest) reply.header('x-export-id', exportId).header('x-manifest-url', manifestPath(exportId));
      return reply.send(Readable.from(body(), { objectMode: false, highWaterMark: CHUNK_BYTES }));
    },
  );
}
