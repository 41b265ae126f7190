import type { ClickHouse } from '@auditstream/clickhouse';
import type { TestEnv } from '@auditstream/test';
import { type IngestIntegrityDeps, integrityFromConfig } from './integrity.js';

/** createIngest's integrity deps for an in-process ingest: the test's signing key, and a ClickHouse client. */
export function ingestIntegrity(env: Pick<TestEnv, 'config'>, ch: ClickHouse): IngestIntegrityDeps {
  const deps = integrityFromConfig(env.config.integrity, ch);
  if (!deps) throw new Error('integrity is off in this test environment');
  return deps;
}
