// SDK publish throughput vs raw kafkajs sendBatch of the same encoded bytes, plus publish latency.
// The measurement is runProducerBench() in ./run.ts (`auditstream bench` calls it too); this is its CLI.
//   node --import tsx services/bench/src/producer/publish.bench.ts [--events 200000] [--rounds 5] [--rate 5000] [--batch 1000]
//     [--partitions 6] [--window 10000] [--latency-sample-every 16] [--ids] [--only sdk|raw] [--content-hash false] [--json]
// --latency-sample-every N: time every N-th publish of the saturated SDK runs (1: all, as before; timing adds a closure per publish).
// --ids: events carry their own event_id, which isolates the cost of generating UUIDv7s.
// --content-hash false: receipts without the SHA-256 (the SDK option content_hash: false).
// --json: print the result object (the fields runProducerBench returns) as the last line.
// --only sdk: skip the raw rounds and the paced run (for a CPU profile of the SDK alone:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx services/bench/src/producer/publish.bench.ts --only sdk
//   node --import tsx services/bench/src/producer/cpuprofile-top.ts /tmp/prof/*.cpuprofile).
// Wall-clock throughput on a shared machine is noisy: client CPU per event is reported too.
// Needs a broker (127.0.0.1:9092 or AUDITSTREAM_KAFKA__BROKERS); creates and deletes its own topics.
import { parseArgs } from 'node:util';
import { runProducerBench } from './run.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '5' },
    rate: { type: 'string', default: '5000' },
    batch: { type: 'string', default: '1000' },
    partitions: { type: 'string', default: '6' },
    window: { type: 'string', default: '10000' },
    'latency-sample-every': { type: 'string', default: '16' },
    ids: { type: 'boolean', default: false },
    only: { type: 'string', default: '' },
    'content-hash': { type: 'string', default: 'true' },
    json: { type: 'boolean', default: false },
  },
});
if (values.only !== '' && values.only !== 'sdk' && values.only !== 'raw') {
  console.error('--only must be sdk or raw');
  process.exit(2);
}
const only = values.only === '' ? undefined : (values.only as 'sdk' | 'raw');

const ac = new AbortController();
process.once('SIGINT', () => ac.abort());
try {
  const r = await runProducerBench({
    brokers: (process.env.AUDITSTREAM_KAFKA__BROKERS ?? '127.0.0.1:9092').split(','),
    events: Number(values.events),
    rounds: Number(values.rounds),
    rate: Number(values.rate),
    batch: Number(values.batch),
    partitions: Number(values.partitions),
    window: Number(values.window),
    latency_sample_every: Number(values['latency-sample-every']),
    ids: values.ids,
    content_hash: values['content-hash'] !== 'false',
    paced_seconds: only ? 0 : 5,
    ...(only ? { only } : {}),
    signal: ac.signal,
    log: (line) => console.log(line),
  });
  if (!only) {
    console.log(
      `\nmedian of ${r.rounds.length} rounds: raw kafkajs ${r.raw_events_per_s.toFixed(0)} ev/s, SDK ${r.sdk_events_per_s.toFixed(0)} ev/s, ` +
        `ratio ${r.ratio.toFixed(2)}x (rounds ${r.ratio_min.toFixed(2)}–${r.ratio_max.toFixed(2)})`,
    );
    console.log(
      `client CPU per event: raw ${r.raw_cpu_us_per_event.toFixed(1)} µs, SDK ${r.sdk_cpu_us_per_event.toFixed(1)} µs (CPU-bound ratio ${r.cpu_ratio.toFixed(2)}x)`,
    );
    console.log(
      `publish latency at ${values.rate} ev/s for 5 s (${r.paced_events} events): p50 ${r.publish_p50_ms.toFixed(2)} ms, p99 ${r.publish_p99_ms.toFixed(2)} ms, ` +
        `max ${r.publish_max_ms.toFixed(2)} ms`,
    );
  }
  if (values.json) console.log(JSON.stringify(r));
} catch (err) {
  const e = err as Error & { field?: string };
  console.error(`benchmark failed: ${e.message}`);
  process.exitCode = 1;
}
