// Producer: the producer package's own benchmark (SDK publish() against raw kafkajs sendBatch of
// the same encoded bytes, one round per bench run; see ../producer/README.md for the method).
import { runProducerBench } from '../producer/run.js';

export interface ProducerResult {
  producer_sdk_events_per_s: number;
  producer_raw_events_per_s: number;
  producer_ratio: number;
  producer_publish_p50_ms: number;
  producer_publish_p99_ms: number;
}

export async function runProducer(opts: {
  brokers: string[];
  events: number;
  rate: number;
  pacedSeconds: number;
  partitions: number;
}): Promise<ProducerResult> {
  const r = await runProducerBench({
    brokers: opts.brokers,
    events: opts.events,
    rounds: 1,
    rate: opts.rate,
    paced_seconds: opts.pacedSeconds,
    partitions: opts.partitions,
  });
  return {
    producer_sdk_events_per_s: r.sdk_events_per_s,
    producer_raw_events_per_s: r.raw_events_per_s,
    producer_ratio: r.ratio,
    producer_publish_p50_ms: r.publish_p50_ms,
    producer_publish_p99_ms: r.publish_p99_ms,
  };
}
