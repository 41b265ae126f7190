import type { AuditProducer } from '@auditstream/producer';
import { type AttackInfo, createTrafficGenerator, type TrafficGenerator, type TrafficOptions } from './traffic.js';

export interface DemoProgress {
  elapsed_s: number;
  published: number;
  acked: number;
  failed: number;
  in_flight: number;
  /** Acknowledged events per second over the last progress interval. */
  rate_per_s: number;
  /** Events not published because too many were in flight (the broker is slower than --rate). */
  skipped: number;
  attacks: Record<AttackInfo['kind'], number>;
  last_error?: string;
}

export interface DemoOptions {
  producer: Pick<AuditProducer, 'publish' | 'flush'>;
  /** Events per second. */
  rate: number;
  /** Seconds to run; 0 runs until the signal aborts. */
  duration_s: number;
  signal?: AbortSignal;
  traffic?: TrafficOptions;
  generator?: TrafficGenerator;
  onProgress?: (p: DemoProgress) => void;
  onAttack?: (a: AttackInfo) => void;
  /** Default 1000. */
  progress_interval_ms?: number;
  /** Publishes awaiting their receipt before the demo skips events. Default max(1000, 10 × rate). */
  max_in_flight?: number;
}

/**
 * Publishes generated traffic at `rate` events/s until `duration_s` or the signal, then
 * waits for every receipt. Returns the final progress. The caller owns (and closes) the producer.
 */
export async function runDemo(options: DemoOptions): Promise<DemoProgress> {
  const rate = options.rate;
  if (!(rate > 0)) throw new RangeError('rate must be positive');
  const gen = options.generator ?? createTrafficGenerator(options.traffic);
  if (options.onAttack) gen.onAttack = options.onAttack;
  const interval = options.progress_interval_ms ?? 1000;
  const maxInFlight = options.max_in_flight ?? Math.max(1000, rate * 10);
  const p: DemoProgress = {
    elapsed_s: 0,
    published: 0,
    acked: 0,
    failed: 0,
    in_flight: 0,
    rate_per_s: 0,
    skipped: 0,
    attacks: { brute_force: 0, password_spraying: 0 },
  };
  const start = Date.now();
  let lastReport = start;
  let ackedAtLastReport = 0;
  let budget = 0;
  const tickMs = Math.max(10, Math.min(100, 1000 / rate));
  let lastTick = start - tickMs;
  // One abort listener for the whole run, waking whichever tick is sleeping.
  let wake: (() => void) | undefined;
  const onAbort = () => wake?.();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const report = (now: number) => {
    p.elapsed_s = (now - start) / 1000;
    p.rate_per_s = ((p.acked - ackedAtLastReport) * 1000) / Math.max(1, now - lastReport);
    p.attacks.brute_force = gen.attacks.filter((a) => a.kind === 'brute_force').length;
    p.attacks.password_spraying = gen.attacks.filter((a) => a.kind === 'password_spraying').length;
    ackedAtLastReport = p.acked;
    lastReport = now;
    options.onProgress?.({ ...p, attacks: { ...p.attacks } });
  };

  while (!options.signal?.aborted) {
    const now = Date.now();
    if (options.duration_s > 0 && now - start >= options.duration_s * 1000) break;
    budget = Math.min(budget + ((now - lastTick) * rate) / 1000, Math.max(1, rate)); // no burst beyond one second's worth after a stall
    lastTick = now;
    while (budget >= 1) {
      budget -= 1;
      if (p.in_flight >= maxInFlight) {
        p.skipped++;
        continue;
      }
      const ev = gen.next(now);
      p.published++;
      p.in_flight++;
      options.producer.publish(ev).then(
        () => {
          p.in_flight--;
          p.acked++;
        },
        (err: unknown) => {
          p.in_flight--;
          p.failed++;
          p.last_error = (err as { code?: string; message?: string }).code ?? (err as Error).message;
        },
      );
    }
    if (now - lastReport >= interval) report(now);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, tickMs);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    wake = undefined;
  }
  options.signal?.removeEventListener('abort', onAbort);
  await options.producer.flush();
  // flush() covers buffered events; receipts resolve in the same tick or the next.
  while (p.in_flight > 0) await new Promise((r) => setTimeout(r, 5));
  report(Date.now());
  return p;
}
