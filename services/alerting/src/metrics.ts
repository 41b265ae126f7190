import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EngineMetrics } from './engine.js';
import { createDispatcherMetrics, type DispatcherMetrics } from './sinks/dispatcher.js';

export interface AlertingMetrics {
  engine: EngineMetrics;
  dispatcher: DispatcherMetrics;
  stateEntries: Gauge;
  discarded: Counter<'reason'>;
  replayed: Counter<'topic'>;
  /** Failed rebuild attempts at group join: retried, or failed (given up). */
  rebuildErrors: Counter<'outcome'>;
  /** Scale-out: event copies the repartition stage wrote to the repartition topic. */
  repartitioned: Counter;
  reloads: Counter<'result'>;
  rulesLoaded: Gauge;
}

/** Every alerting metric, registered on the registry passed in. Labels are bounded: rule ids come from the rules file. */
export function createAlertingMetrics(registry: Registry, stateEntries: () => number): AlertingMetrics {
  const r = [registry];
  const evaluated = new Counter({ name: 'auditstream_alerting_evaluated_events_total', help: 'Events evaluated against the rules.', registers: r });
  const duration = new Histogram({
    name: 'auditstream_alerting_evaluation_duration_seconds',
    help: 'Time to evaluate one event against every rule.',
    buckets: [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
    registers: r,
  });
  const fired = new Counter({
    name: 'auditstream_alerting_alerts_fired_total',
    help: 'Alerts fired (first delivery of an incident), per rule.',
    labelNames: ['rule_id'],
    registers: r,
  });
  const lost = new Counter({
    name: 'auditstream_alerting_lost_events_total',
    help: 'Events producers numbered that never reached the events topic, as reported by event_loss alerts (each missing range counted once, when its alert fires; the producer is in the alert, not a label).',
    registers: r,
  });
  const lossSkipped = new Counter({
    name: 'auditstream_alerting_event_loss_skipped_total',
    help: 'Producer number ranges event_loss dropped without judging them, by reason: max_ahead (more than max_events_per_key numbers held beyond a gap while alerting was behind; checking resumed after the highest number seen), max_producers (a producer with an open gap evicted past max_keys_per_rule). A loss inside a skipped range is not reported.',
    labelNames: ['reason'],
    registers: r,
  });
  const delay = new Histogram({
    name: 'auditstream_alerting_event_to_alert_delay_seconds',
    help: 'From the occurred_at of the event that completed a rule to the alert firing (wall clock).',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: r,
  });
  const late = new Counter({
    name: 'auditstream_alerting_late_events_total',
    help: "Events dropped as later than the allowed lateness behind their own tenant's newest event time.",
    registers: r,
  });
  const invalid = new Counter({
    name: 'auditstream_alerting_invalid_events_total',
    help: 'Events without a usable occurred_at, event_id or tenant_id.',
    registers: r,
  });
  const duplicates = new Counter({
    name: 'auditstream_alerting_duplicate_events_total',
    help: 'Events skipped because their event_id was evaluated recently (producer retries, redelivery).',
    registers: r,
  });
  const clamped = new Counter({
    name: 'auditstream_alerting_future_events_total',
    help: 'Events whose occurred_at was further ahead of their arrival (Kafka timestamp) than max_future_skew_ms, evaluated at the arrival.',
    registers: r,
  });
  const suppressed = new Counter({
    name: 'auditstream_alerting_alerts_suppressed_total',
    help: 'Alert deliveries held back: already delivered (restart, replay), updates during replay, or updates coalesced by the per-incident rate limit.',
    labelNames: ['reason'],
    registers: r,
  });
  const allowlisted = new Counter({
    name: 'auditstream_alerting_allowlisted_events_total',
    help: "Events a rule ignored because its actor or source IP is on the rule's suppress allowlist.",
    labelNames: ['rule_id'],
    registers: r,
  });
  const gauge = new Gauge({
    name: 'auditstream_alerting_state_entries',
    help: 'Entries held by the rules engine (window entries, known values, open incidents).',
    registers: r,
    collect() {
      this.set(stateEntries());
    },
  });
  return {
    engine: {
      evaluated: (s) => {
        evaluated.inc();
        duration.observe(s);
      },
      fired: (rule, s) => {
        fired.inc({ rule_id: rule });
        if (s !== undefined) delay.observe(s);
      },
      lost: (n) => lost.inc(n),
      lossSkipped: (reason, n) => lossSkipped.inc({ reason }, n),
      late: () => late.inc(),
      invalid: () => invalid.inc(),
      duplicate: () => duplicates.inc(),
      futureClamped: () => clamped.inc(),
      suppressed: (reason) => suppressed.inc({ reason }),
      allowlisted: (rule) => allowlisted.inc({ rule_id: rule }),
    },
    dispatcher: createDispatcherMetrics(registry),
    stateEntries: gauge,
    discarded: new Counter({
      name: 'auditstream_alerting_discarded_events_total',
      help: 'Records not evaluated because ingest would dead-letter them, by its error class (not_avro, unknown_schema, invalid, oversize).',
      labelNames: ['reason'],
      registers: r,
    }),
    replayed: new Counter({
      name: 'auditstream_alerting_replayed_records_total',
      help: 'Records re-read on start or rebalance to rebuild state, per topic role (events, alerts).',
      labelNames: ['topic'],
      registers: r,
    }),
    rebuildErrors: new Counter({
      name: 'auditstream_alerting_rebuild_errors_total',
      help: 'Failed attempts of the rebuild at group join, by outcome: retried (a retriable Kafka error, within replay_timeout_ms) or failed (a data error, or out of time; state may be incomplete).',
      labelNames: ['outcome'],
      registers: r,
    }),
    repartitioned: new Counter({
      name: 'auditstream_alerting_repartitioned_records_total',
      help: 'Event copies the repartition stage wrote to the repartition topic (one per distinct partition of the rules group keys).',
      registers: r,
    }),
    reloads: new Counter({
      name: 'auditstream_alerting_rules_reloads_total',
      help: 'Rules file reloads by result (ok, rejected).',
      labelNames: ['result'],
      registers: r,
    }),
    rulesLoaded: new Gauge({ name: 'auditstream_alerting_rules_loaded', help: 'Rules active in the engine.', registers: r }),
  };
}
