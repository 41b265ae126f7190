import { z } from 'zod';
import { listenHost, port, positiveInt } from './common.js';

/**
 * The alerting service's settings. `sinks` holds one section per alert sink; each sink module
 * (services/alerting/src/sinks/*.ts) declares and checks its own keys, so here they are only a
 * map (the alerting service parses them with its own schema; the README table lists them).
 */
export const alertingSection = z
  .strictObject({
    rules_file: z.string().min(1).default('deploy/rules/default.yaml').describe('YAML rules file (relative paths from the working directory); hot-reloaded.'),
    watch_rules: z.boolean().default(true).describe('Reload the rules file when it changes; an invalid file is rejected and the last good rules stay.'),
    reload_debounce_ms: positiveInt().default(500).describe('Quiet time after a change of the rules file before it is re-read.'),
    timezone: z.string().min(1).default('UTC').describe('IANA zone of time_of_day filters when the rules file sets none (business hours).'),
    consumer_group: z
      .string()
      .min(1)
      .default('auditstream-alerting')
      .describe(
        'Kafka consumer group reading topics.events; with repartition, the group evaluating the repartition topic (the stage feeding it is `<group>.repartition`).',
      ),
    repartition: z
      .boolean()
      .default(false)
      .describe(
        'Scale out: re-key each event by every rule group key into repartition_topic and evaluate that topic, so any number of instances fire exactly the alerts one would (docs/alerting.md#scaling-out).',
      ),
    repartition_topic: z
      .string()
      .default('')
      .describe('Internal topic of the repartition stage; empty: `<topics.events>.alerting-repartition`. Created by alerting when missing.'),
    repartition_partitions: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        'Partitions of a repartition_topic alerting creates; 0: as many as topics.events. Never change it while alerts are open (it remaps group keys).',
      ),
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
      .describe('Events this far behind the newest event time of their own tenant still count; older ones are dropped and counted.'),
    max_future_skew_ms: positiveInt()
      .default(5000)
      .describe(
        "Event times further ahead of their arrival (the Kafka record timestamp, at most the wall clock) are evaluated at the arrival; keep it under allowed_lateness_ms so a tenant's future-dated events cannot make its real-time ones late.",
      ),
    min_update_interval_ms: z
      .number()
      .int()
      .min(0)
      .default(60_000)
      .describe('Least time between two updated deliveries of one alert; updates in between are coalesced into the next (or the final) one.'),
    tick_interval_ms: positiveInt().default(1000).describe('How often clock-driven rules (absence) are evaluated.'),
    caught_up_lag_events: z
      .number()
      .int()
      .min(0)
      .default(1000)
      .describe('Consumer lag at or under which, on every assigned partition, the wall clock may advance absence timers and event_loss judges its gaps.'),
    replay_on_start: z
      .boolean()
      .default(true)
      .describe('Rebuild windows on start by re-reading the last max-window of events, without re-firing delivered alerts.'),
    replay_margin_ms: z.number().int().min(0).default(60_000).describe('Extra span re-read on start on top of the longest rule window and the lateness.'),
    alerts_lookback_ms: positiveInt().default(86_400_000).describe('Span of topics.alerts read back on start to learn which alerts were delivered.'),
    replay_timeout_ms: positiveInt()
      .default(300_000)
      .describe(
        'Longest the rebuild at a group join (alerts read-back and replay) may take, retrying retriable Kafka errors, before it fails: at start the service then fails to start.',
      ),
    max_events_per_key: positiveInt().default(10_000).describe('Event timestamps kept per rule and group key; the oldest are dropped beyond it.'),
    max_keys_per_rule: positiveInt().default(100_000).describe('Group keys kept per rule; the least recently seen are dropped beyond it.'),
    new_value_max_entries: positiveInt().default(100_000).describe('Default (key, value) pairs a new_value rule remembers.'),
    sample_event_ids: z.number().int().min(0).max(100).default(10).describe('Event ids kept in an alert as provenance.'),
    metrics_host: listenHost().describe('Address of the /metrics, /healthz and /readyz server.'),
    metrics_port: port().default(9465).describe('Port of the /metrics, /healthz and /readyz server (0: any free port).'),
    sinks: z
      .record(z.string(), z.record(z.string(), z.unknown()))
      .prefault({})
      .describe('Alert sinks by name (alerting.sinks.<name>.<key>): each sink module checks its own section.'),
  })
  .prefault({});

export type AlertingSection = z.infer<typeof alertingSection>;
