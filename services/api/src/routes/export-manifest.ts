import type { StoredEvent } from '@auditstream/clickhouse';
import { type Checkpoint, ExportDigest, type ExportManifest, type ManifestCoverage, signManifest } from '@auditstream/integrity';
import type { FastifyInstance } from 'fastify';
import type { ManifestSigning } from '../export-manifests.js';
import { ProblemError } from '../problem.js';
import { READ_PROBLEMS } from '../schemas/common.js';
import { type Principal, resolveScope, type TenantScope } from '../scope.js';
import { microsToIso } from '../time.js';
import { principalOf, type RouteContext } from './context.js';

/** Who may read a manifest: the credential that ran the export. */
export const manifestOwner = (p: Principal) => `${p.kind}:${p.id}`;

/** The manifest route of an export (relative to the API's base URL). */
export const manifestPath = (exportId: string) => `/v1/export/manifest?export_id=${exportId}`;

/**
 * Builds one export's manifest as its body is written (docs/integrity.md#export-manifests):
 * `header` and `row` take each record's text, `body` the bytes sent; the per-partition highest
 * offsets are the only state besides the running digest, so memory stays constant whatever the
 * export's size.
 */
export function startManifest(
  signing: ManifestSigning,
  o: {
    exportId: string;
    principal: Principal;
    scope: TenantScope;
    filter: Record<string, unknown>;
    range: { from: bigint; to: bigint };
    format: 'ndjson' | 'csv';
    order: 'asc' | 'desc';
  },
) {
  const digest = new ExportDigest();
  // topic → partition → rows and highest offset (decimal text: compared by length, then as text, per row without a BigInt).
  const partitions = new Map<string, Map<number, { rows: number; max: string }>>();
  return {
    header(text: string): void {
      digest.addHeader(text);
    },
    /** Every byte sent, in order (the header included). */
    body(piece: Buffer): void {
      digest.addBody(piece);
    },
    row(e: StoredEvent, text: string): void {
      digest.addRow(text);
      const { kafka_topic: topic, kafka_partition: partition, kafka_offset: offset } = e.meta;
      let byPartition = partitions.get(topic);
      if (!byPartition) {
        byPartition = new Map();
        partitions.set(topic, byPartition);
      }
      const p = byPartition.get(partition);
      if (!p) byPartition.set(partition, { rows: 1, max: offset });
      else {
        p.rows++;
        if (offset.length > p.max.length || (offset.length === p.max.length && offset > p.max)) p.max = offset;
      }
    },
    /** Signs the manifest once the last row was added, and keeps it for GET /v1/export/manifest. */
    async finish(): Promise<ExportManifest> {
      const coverage: ManifestCoverage[] = [];
      for (const topic of [...partitions.keys()].sort()) {
        const byPartition = partitions.get(topic) as Map<number, { rows: number; max: string }>;
        for (const partition of [...byPartition.keys()].sort((x, y) => x - y)) {
          const p = byPartition.get(partition) as { rows: number; max: string };
          const last = await signing.lastCheckpoint(topic, partition);
          // As stored, field for field: once checkpoints carry signed tree heads, so do manifests. The
          // JSON round trip drops fields a row leaves undefined (absent, as in the topic's JSON copy).
          const covers = last !== undefined && BigInt(last.last_offset) >= BigInt(p.max);
          coverage.push({ topic, partition, rows: p.rows, max_offset: p.max, checkpoint: covers ? (JSON.parse(JSON.stringify(last)) as Checkpoint) : null });
        }
      }
      const rowCount = digest.rows;
      const manifest = signManifest(signing.key, {
        export_id: o.exportId,
        created_at: new Date().toISOString(),
        principal: { kind: o.principal.kind, id: o.principal.id, role: o.principal.role },
        tenants: o.scope.all ? '*' : [...o.scope.tenants],
        filter: o.filter as ExportManifest['filter'],
        range: { from: microsToIso(o.range.from), to: microsToIso(o.range.to) },
        format: o.format,
        order: o.order,
        row_count: rowCount,
        digest: digest.result(),
        coverage,
      });
      signing.store.put(manifest, manifestOwner(o.principal));
      return manifest;
    },
  };
}

const manifestQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['export_id'],
  properties: {
    export_id: { type: 'string', minLength: 1, maxLength: 64, description: 'The X-Export-Id header of the export.' },
  },
} as const;

export function exportManifestRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get<{ Querystring: { export_id: string } }>(
    '/v1/export/manifest',
    {
      config: {
        permission: 'events:export',
        problems: [...READ_PROBLEMS, 404, 501],
        openapi: {
          responses: {
            200: {
              description:
                'The signed manifest of the export (docs/integrity.md#export-manifests), byte for byte as signed: verify it with `auditstream export verify <file> <manifest>`.',
              content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } },
            },
          },
        },
      },
      schema: {
        operationId: 'getExportManifest',
        summary: 'Get the signed manifest of a finished export',
        description:
          'The manifest of a finished GET /v1/export (its X-Export-Id / X-Manifest-Url response headers): principal, tenants, filter, range, row count, ' +
          'the digest over the rows as sent and the signed checkpoints covering them, signed with the API key (api.export_manifest_signing_key_file). ' +
          'Available once the export body is complete, for api.export_manifest_ttl_s, to the credential that ran the export only; 404 otherwise ' +
          "(an unknown, expired, unfinished or another credential's export look alike). 501 when no manifest key is configured. Recorded as an audit.query event.",
        tags: ['export'],
        querystring: manifestQuerySchema,
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const exportId = request.query.export_id;
      const filter = { export_id: exportId };
      const resource = { type: 'export_manifest', id: exportId };
      if (!ctx.manifests) {
        await ctx.audit.record(request, {
          kind: 'query',
          scope: resolveScope(principal, undefined),
          outcome: 'failure',
          reason: 'not_configured',
          filter,
          resource,
        });
        throw new ProblemError('not_configured', 'export manifests are not configured in this deployment: set api.export_manifest_signing_key_file');
      }
      const manifest = ctx.manifests.store.get(exportId, manifestOwner(principal));
      const scope: TenantScope =
        manifest === undefined ? resolveScope(principal, undefined) : manifest.tenants === '*' ? { all: true } : { all: false, tenants: manifest.tenants };
      // On record before the manifest leaves, like every read (fail closed); a miss too.
      await ctx.audit.record(request, {
        kind: 'query',
        scope,
        filter,
        resource,
        ...(manifest ? { extra: { row_count: manifest.row_count } } : { outcome: 'failure' as const, reason: 'not_found' }),
      });
      if (!manifest)
        throw new ProblemError('not_found', 'no manifest for this export_id: unknown, expired, not finished yet, or exported by another credential');
      // Sent as serialized here: a response schema would drop fields the signature covers.
      return reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(JSON.stringify(manifest));
    },
  );
}
