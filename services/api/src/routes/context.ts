import type { ClickHouse } from '@auditstream/clickhouse';
import type { Logger } from '@auditstream/observability';
import type { ClickHouseSettings } from '@clickhouse/client';
import type { FastifyRequest } from 'fastify';
import type { ApiConfig } from '../config.js';
import type { CursorCodec } from '../cursor.js';
import type { ManifestSigning } from '../export-manifests.js';
import type { IntegrityVerifier } from '../integrity.js';
import type { SelfAuditor } from '../plugins/audit-self.js';
import type { ApiMetrics } from '../plugins/metrics.js';
import { ProblemError } from '../problem.js';
import type { FieldRevealer } from '../reveal.js';
import type { Principal } from '../scope.js';

/** What every route module gets from buildApi. */
export interface RouteContext {
  config: ApiConfig;
  ch: ClickHouse;
  logger: Logger;
  metrics: ApiMetrics;
  cursors: CursorCodec;
  audit: SelfAuditor;
  verify: IntegrityVerifier | undefined;
  /** Signs export manifests; undefined when no manifest key is configured (exports carry none). */
  manifests: ManifestSigning | undefined;
  /** ClickHouse settings of search, stats and lookup queries (max_execution_time). */
  querySettings: ClickHouseSettings;
  /** Decrypts, masks or marks erased the encrypted personal fields of events before they are presented. */
  fields: FieldRevealer;
}

/** The authenticated caller; the auth hook guarantees one on every non-public route. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new ProblemError('unauthenticated', 'a valid API key or bearer token is required');
  return request.principal;
}
