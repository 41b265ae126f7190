import type { ClickHouse } from '@auditstream/clickhouse';
import type { Producer } from 'kafkajs';
import { z } from 'zod';
import type { AlertDelivery } from '../alert.js';
import type { AlertEncoder } from './alert-codec.js';

/** One alert destination. `send` throws an error whose `retriable` flag decides whether it is retried. */
export interface Sink {
  /** Bounded metrics label: the sink module's name. */
  name: string;
  /** Whether `updated` deliveries go to this sink (a fired alert always does). */
  sendUpdates: boolean;
  send(delivery: AlertDelivery, signal: AbortSignal): Promise<void>;
  close?(): Promise<void>;
}

export interface SinkQueueOptions {
  queue_size: number;
  max_attempts: number;
  initial_delay_ms: number;
  max_delay_ms: number;
}

const positiveInt = () => z.number().int().positive();

/** The queue and retry keys every sink's config section has (the dispatcher applies them). */
export const sinkQueueFields = {
  queue_size: positiveInt().default(1000).describe('Deliveries queued for this sink; beyond it new deliveries are dropped and counted.'),
  max_attempts: positiveInt().default(8).describe('Attempts per delivery, the first included, before it is given up and counted as failed.'),
  initial_delay_ms: positiveInt().default(200).describe('First retry backoff (full jitter, doubling).'),
  max_delay_ms: positiveInt().default(30_000).describe('Retry backoff cap.'),
  timeout_ms: positiveInt().default(5000).describe('Timeout of one delivery attempt.'),
};

/** What a sink factory may use besides its own config section. */
export interface SinkContext {
  topics: { readonly alerts: string };
  /** The service's one idempotent Kafka producer, created and connected on first use. */
  producer(): Promise<Producer>;
  encodeAlert: AlertEncoder;
  /** The service's ClickHouse client (config section `clickhouse`), created on first use; absent when the service was given none. */
  clickhouse?: () => ClickHouse;
}

type SinkConfig = { enabled: boolean } & SinkQueueOptions;

/**
 * An alert sink as the registry (registry.ts) sees it: its name (the key under
 * `alerting.sinks` and the metrics label), the zod schema of that config section, and the
 * factory the service calls at start when the section says `enabled`.
 */
export interface SinkModule<C extends SinkConfig = SinkConfig> {
  name: string;
  config: z.ZodType<C, unknown>;
  create(config: C, ctx: SinkContext): Sink | Promise<Sink>;
}

export function defineSink<C extends SinkConfig>(module: SinkModule<C>): SinkModule<C> {
  return module;
}

/** A superRefine rule: when the sink is enabled, each key (or, for a pair, the key or its _file) must be set. */
export function requiredWhenEnabled(...keys: (string | [string, string])[]) {
  return (c: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    if (!c.enabled) return;
    for (const k of keys) {
      const [key, file] = typeof k === 'string' ? [k, undefined] : k;
      if (c[key] === undefined && (file === undefined || c[file] === undefined)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `is required when the sink is enabled${file ? ` (or ${file})` : ''}` });
      }
    }
  };
}
