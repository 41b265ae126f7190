import type { KeyObject } from 'node:crypto';
import type { ClickHouse } from '@auditstream/clickhouse';
import { type Finding, verifyEvent, verifyStore } from '@auditstream/integrity';
import type { Kafka } from 'kafkajs';
import type { IntegrityFailure, IntegrityReport, IntegrityVerifier } from './integrity.js';

const toFailure = (f: Finding): IntegrityFailure => ({
  kind: f.kind,
  detail: f.detail,
  partition: f.partition,
  ...(f.topic ? { topic: f.topic } : {}),
  ...(f.offset ? { offset: f.offset } : {}),
  ...(f.event_id ? { event_id: f.event_id } : {}),
});

/**
 * POST /v1/integrity/verify backed by the same verifier as `auditstream verify`
 * (@auditstream/integrity verifyStore): chains recomputed from ClickHouse, checkpoints checked
 * against the trusted public keys, from the table and the Kafka topic. The latest result is kept
 * in memory for GET-style "latest" requests.
 */
export function createStoreVerifier(deps: {
  ch: ClickHouse;
  kafka?: Kafka;
  publicKeys: ReadonlyMap<string, KeyObject>;
  checkpointsTopic: string;
  eventsTopic: string;
  ingestGroupId?: string;
}): IntegrityVerifier {
  let latest: IntegrityReport | undefined;
  return {
    async verifyRange({ from, to, scope, signal }) {
      const tenant = scope.all ? undefined : scope.tenants.length === 1 ? scope.tenants[0] : undefined;
      const report = await verifyStore({
        ch: deps.ch,
        publicKeys: deps.publicKeys,
        ...(deps.kafka ? { kafka: deps.kafka } : {}),
        checkpointsTopic: deps.checkpointsTopic,
        topic: deps.eventsTopic,
        ...(deps.ingestGroupId ? { ingestGroupId: deps.ingestGroupId } : {}),
        from: new Date(Number(from / 1000n)),
        to: new Date(Number(to / 1000n)),
        ...(tenant ? { tenant } : {}),
        signal,
      });
      const out: IntegrityReport = {
        status: report.ok ? 'ok' : 'failed',
        checked_at: report.started_at,
        from: report.scope.from ?? null,
        to: report.scope.to ?? null,
        events_checked: report.rows,
        checkpoints_checked: report.partitions.reduce((n, p) => n + p.checkpoints_in_table, 0),
        failures: report.findings.filter((f) => f.severity === 'error').map(toFailure),
        warnings: report.findings.filter((f) => f.severity === 'warning').map(toFailure),
      };
      latest = out;
      return out;
    },
    async latest() {
      return latest;
    },
    verifyEvent: (input) => verifyEvent({ ch: deps.ch, publicKeys: deps.publicKeys, ...input }),
  };
}
