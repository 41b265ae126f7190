import { z } from 'zod';
import { listenHost, port, positiveInt } from './common.js';

const sinkRetry = {
  queue_size: positiveInt().default(1000).describe('Deliveries queued for this sink; beyond it new deliveries are dropped and counted.'),
  max_attempts: positiveInt().default(8).describe('Attempts per delivery, the first included, before it is given up and counted as failed.'),
  initial_delay_ms: positiveInt().default(200).describe('First retry backoff (full jitter, doubling).'),
  max_delay_ms: positiveInt().default(30_000).describe('Retry backoff cap.'),
  timeout_ms: positiveInt().default(5000).describe('Timeout of one delivery attempt.'),
};

/** A sink that is enabled needs each of `keys` (any one of a group: a value or its _file). */
function requiredWhenEnabled(...keys: (string | [string, string])[]) {
  return (c: Record<string, unknown>, ctx: z.RefinementCtx) => {
    if (!c.enabled) return;
    for (const k of keys) {
      const [key, file] = typeof k === 'string' ? [k, undefined] : k;
      if (c[key] === undefined && (file === undefined || c[file] === undefined)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `is required when the sink is enabled${file ? ` (or ${file})` : ''}` });
      }
    }
  };
}

const kafkaSink = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Publish alerts to topics.alerts (Avro, key = alert_id). Also the record read back on restart.'),
    send_updates: z.boolean().default(true).describe('Publish updates of an alert (same alert_id, higher version), not only the first firing.'),
    ...sinkRetry,
  })
  .prefault({});

const webhookSink = z
  .strictObject({
    enabled: z.boolean().default(false).describe('POST alerts as JSON to url, signed with X-Auditstream-Signature: sha256=<HMAC>.'),
    url: z.string().url().optional().describe('Webhook endpoint (http or https).'),
    secret: z.string().optional().describe('HMAC-SHA256 signing key (secret: prefer secret_file or the environment).'),
    secret_file: z.string().optional().describe('File holding the webhook signing key.'),
    ca_file: z.string().min(1).optional().describe('PEM CA bundle that verifies an https url (unset: the system CAs); the certificate is always verified.'),
    send_updates: z.boolean().default(false).describe('Also POST updates of an alert (receivers dedupe on alert_id).'),
    ...sinkRetry,
  })
  .superRefine(requiredWhenEnabled('url', ['secret', 'secret_file']))
  .prefault({});

const slackSink = z
  .strictObject({
    enabled: z.boolean().default(false).describe('POST alerts to a Slack-compatible incoming webhook ({"text": ...}).'),
    url: z.string().url().optional().describe('Incoming-webhook URL (secret: prefer url_file or the environment).'),
    url_file: z.string().optional().describe('File holding the incoming-webhook URL.'),
    send_updates: z.boolean().default(false).describe('Also post updates of an alert.'),
    ...sinkRetry,
  })
  .superRefine(requiredWhenEnabled(['url', 'url_file']))
  .prefault({});

const alertmanagerSink = z
  .strictObject({
    enabled: z.boolean().default(false).describe('POST alerts to a Prometheus Alertmanager (API v2, /api/v2/alerts).'),
    url: z.string().url().optional().describe('Alertmanager base URL, e.g. http://127.0.0.1:9093.'),
    ca_file: z.string().min(1).optional().describe('PEM CA bundle that verifies an https url (unset: the system CAs); the certificate is always verified.'),
    send_updates: z.boolean().default(true).describe('Re-post updated alerts, which extends their endsAt.'),
    resolve_after_s: positiveInt().default(3600).describe('endsAt = last event of the alert + this; Alertmanager resolves the alert then.'),
    ...sinkRetry,
  })
  .superRefine(requiredWhenEnabled('url'))
  .prefault({});

export const alertingSection = z
  .strictObject({
    rules_file: z.string().min(1).default('deploy/rules/default.yaml').describe('YAML rules file (relative paths from the working directory); hot-reloaded.'),
    watch_rules: z.boolean().default(true).describe('Reload the rules file when it changes; an invalid file is rejected and the last good rules stay.'),
    reload_debounce_ms: positiveInt().default(500).describe('Quiet time after a change of the rules file before it is re-read.'),
    timezone: z.string().min(1).default('UTC').describe('IANA zone of time_of_day filters when the rules file sets none (business hours).'),
    consumer_group: z.string().min(1).default('auditstream-alerting').describe('Kafka consumer group reading topics.events.'),
    session_timeout_ms: z
      .number()
      .int()
      .min(6000)
      .default(30_000)
      .describe('Consumer group session timeout: how long a dead instance holds its partitions before a rebalance.'),
    start_from: z.enum(['latest', 'earliest']).default('latest').describe('Where a consumer group with no committed offsets starts on topics.events.'),
    allowed_lateness_ms: z
      .number()
      .int()
      .min(0)
      .default(10_000)
      .describe('Events this far behind the newest event time still count; older ones are dropped and counted.'),
    max_future_skew_ms: positiveInt().default(300_000).describe('Event times further ahead of the wall clock are clamped to it.'),
    tick_interval_ms: positiveInt().default(1000).describe('How often clock-driven rules (absence) are evaluated.'),
    caught_up_lag_events: z.number().int().min(0).default(1000).describe('Consumer lag at or under which the wall clock may advance absence timers.'),
    replay_on_start: z
      .boolean()
      .default(true)
      .describe('Rebuild windows on start by re-reading the last max-window of events, without re-firing delivered alerts.'),
    replay_margin_ms: z.number().int().min(0).default(60_000).describe('Extra span re-read on start on top of the longest rule window and the lateness.'),
    alerts_lookback_ms: positiveInt().default(86_400_000).describe('Span of topics.alerts read back on start to learn which alerts were delivered.'),
    replay_timeout_ms: positiveInt().default(300_000).describe('Longest a start-up replay may take before the service fails to start.'),
    max_events_per_key: positiveInt().default(10_000).describe('Event timestamps kept per rule and group key; the oldest are dropped beyond it.'),
    max_keys_per_rule: positiveInt().default(100_000).describe('Group keys kept per rule; the least recently seen are dropped beyond it.'),
    new_value_max_entries: positiveInt().default(100_000).describe('Default (key, value) pairs a new_value rule remembers.'),
    sample_event_ids: z.number().int().min(0).max(100).default(10).describe('Event ids kept in an alert as provenance.'),
    metrics_host: listenHost().describe('Address of the /metrics, /healthz and /readyz server.'),
    metrics_port: port().default(9465).describe('Port of the /metrics, /healthz and /readyz server (0: any free port).'),
    sinks: z
      .strictObject({
        kafka: kafkaSink,
        webhook: webhookSink,
        slack: slackSink,
        alertmanager: alertmanagerSink,
      })
      .prefault({}),
  })
  .prefault({});

export type AlertingSection = z.infer<typeof alertingSection>;
