import type { AlertDelivery } from '../alert.js';

/** One alert destination. `send` throws an error whose `retriable` flag decides whether it is retried. */
export interface Sink {
  /** Bounded metrics label: kafka, webhook, slack, alertmanager. */
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
