import { withTimeout } from '@auditstream/core';
import { committedOffsets, topicWatermarks, withAdmin } from '@auditstream/kafka';
import { metricTotal, parsePrometheusText, type Sample } from '@auditstream/observability';
import type { PipelineHealth } from '@auditstream/schemas';
import type { Kafka } from 'kafkajs';

/**
 * GET /v1/health/pipeline: what the console shows of the pipeline, read from the services' own
 * state, never a second copy of it:
 * - ingest lag from Kafka (the events topic's high watermarks minus the ingest group's committed
 *   offsets: every ingest instance at once, unlike one instance's gauge);
 * - dead letters by class and the ingest counters from ingest's /metrics;
 * - alert delivery failures and queue depths from alerting's /metrics.
 * A source that cannot be read within the timeout is reported `reachable: false` with the reason,
 * and the others are still answered.
 */
export interface PipelineHealthOptions {
  kafka?: Kafka | undefined;
  eventsTopic: string;
  ingestGroupId: string;
  ingestMetricsUrl: string;
  alertingMetricsUrl: string;
  timeoutMs: number;
}

export type { PipelineHealth };

export interface PipelineHealthReader {
  read(): Promise<PipelineHealth>;
}

function byLabel(samples: readonly Sample[], name: string, label: string, where: Record<string, string> = {}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (s.name !== name || !Object.entries(where).every(([k, v]) => s.labels[k] === v)) continue;
    const key = s.labels[label] ?? '';
    out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}

function reason(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string }; message?: string };
  const code = e.cause?.code ?? e.code;
  return code ? `unreachable (${code})` : `unreachable (${String(e.message ?? err).slice(0, 120)})`;
}

export function createPipelineHealth(o: PipelineHealthOptions): PipelineHealthReader {
  async function scrape(url: string): Promise<{ samples: Sample[] } | { error: string }> {
    const abort = new AbortController();
    try {
      const res = await withTimeout(fetch(url, { signal: abort.signal }), o.timeoutMs, () => {
        abort.abort();
        return undefined;
      });
      if (!res) return { error: `no answer within ${o.timeoutMs} ms` };
      if (!res.ok) return { error: `HTTP ${res.status}` };
      return { samples: parsePrometheusText(await res.text()) };
    } catch (err) {
      return { error: reason(err) };
    }
  }

  async function lag(): Promise<PipelineHealth['ingest_lag']> {
    const base = { source: 'kafka' as const, topic: o.eventsTopic, group: o.ingestGroupId };
    const kafka = o.kafka;
    if (!kafka) return { ...base, reachable: false, error: 'no Kafka client in this process', total: null, partitions: [] };
    try {
      const partitions = await withTimeout(
        withAdmin(kafka, async (admin) => {
          const marks = await topicWatermarks(admin, o.eventsTopic);
          const committed = await committedOffsets(admin, o.ingestGroupId, o.eventsTopic);
          return [...marks.entries()]
            .sort((a, b) => a[0] - b[0])
            .map(([partition, w]) => {
              // Nothing committed yet: everything from the low watermark on is still to do.
              const from = BigInt(committed.get(partition) ?? w.low);
              const high = BigInt(w.high);
              return { partition, lag: Number(high > from ? high - from : 0n) };
            });
        }),
        o.timeoutMs,
      );
      return { ...base, reachable: true, error: null, total: partitions.reduce((n, p) => n + p.lag, 0), partitions };
    } catch (err) {
      return { ...base, reachable: false, error: reason(err), total: null, partitions: [] };
    }
  }

  return {
    async read() {
      const [ingestLag, ingest, alerting] = await Promise.all([lag(), scrape(o.ingestMetricsUrl), scrape(o.alertingMetricsUrl)]);
      const i = 'samples' in ingest ? ingest.samples : [];
      const a = 'samples' in alerting ? alerting.samples : [];
      return {
        checked_at: new Date().toISOString(),
        ingest_lag: ingestLag,
        ingest: {
          url: o.ingestMetricsUrl,
          reachable: 'samples' in ingest,
          error: 'error' in ingest ? ingest.error : null,
          received_events_total: metricTotal(i, 'auditstream_ingest_received_events_total'),
          inserted_events_total: metricTotal(i, 'auditstream_ingest_inserted_events_total'),
          dead_lettered_total: metricTotal(i, 'auditstream_ingest_dead_lettered_events_total'),
          dead_lettered_by_class: byLabel(i, 'auditstream_ingest_dead_lettered_events_total', 'error_type'),
        },
        alerting: {
          url: o.alertingMetricsUrl,
          reachable: 'samples' in alerting,
          error: 'error' in alerting ? alerting.error : null,
          delivery_failures_total: metricTotal(a, 'auditstream_alerting_sink_failures_total'),
          delivery_failures_by_sink: byLabel(a, 'auditstream_alerting_sink_failures_total', 'sink'),
          deliveries_by_result: byLabel(a, 'auditstream_alerting_sink_deliveries_total', 'result'),
          queue_depth: metricTotal(a, 'auditstream_alerting_sink_queue_depth'),
        },
      };
    },
  };
}
