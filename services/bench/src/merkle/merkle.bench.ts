// Merkle figures (docs/integrity.md "Measured"), bounded:
//   node --import tsx services/bench/src/merkle/merkle.bench.ts [leaves=1000000] [ingest_events=200000] [rounds=2]
// 1. Proofs at `leaves` entries in one partition (ClickHouse of the config, a fresh database, dropped after):
//    reading the leaf hashes, building an inclusion and a consistency proof, their size, verifying them.
// 2. Ingest throughput with integrity.merkle_enabled on and off, side by side: `rounds` alternations of the real
//    `auditstream ingest` draining `ingest_events` pre-produced events (runIngestSection, each on fresh topics
//    and database), reported as the median events/s of each and the ratio on/off.
import { createHash } from 'node:crypto';
import { createClickHouse, migrate } from '@auditstream/clickhouse';
import { configSchema, loadConfig } from '@auditstream/config';
import { uniqueName } from '@auditstream/core';
import {
  buildConsistencyProof,
  buildInclusionProof,
  type ConsistencyProof,
  consistencyProof,
  generateSigningKey,
  type InclusionProof,
  inclusionProof,
  leafHash,
  loadPublicKeys,
  loadSigningKey,
  readLeafEntries,
  signCheckpoint,
  signedCheckpoint,
  subtreeRoot,
  type TreeHead,
  verifyProofDocument,
} from '@auditstream/integrity';
import { createLogger } from '@auditstream/observability';
import { createRunEnv } from '../env.js';
import { runIngestSection } from '../sections/ingest.js';

const [leavesArg, ingestArg, roundsArg] = process.argv.slice(2);
const N = Number(leavesArg ?? 1_000_000);
const INGEST_EVENTS = Number(ingestArg ?? 200_000);
const ROUNDS = Number(roundsArg ?? 2);
const config = loadConfig(configSchema, {});
const logger = createLogger({ service: 'merkle-bench', level: 'warn' });
const log = (s: string) => process.stderr.write(`${s}\n`);
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? (s[h] as number) : ((s[h - 1] as number) + (s[h] as number)) / 2;
};
const out: Record<string, unknown> = { leaves: N };

// --- 1. proofs at N leaves -------------------------------------------------------------------------------------
{
  const db = uniqueName('merkle_bench');
  const ch = createClickHouse({ ...config.clickhouse, database: db, request_timeout_ms: 600_000, max_execution_time_s: 600 }, { logger });
  try {
    await migrate(ch);
    const topic = 'bench.events';
    const target = Math.floor(N / 3) + 1; // the proven event's chain_seq
    const prev = '0'.repeat(64);
    const entry = JSON.stringify({
      chain_seq: String(target),
      event_id: 'e',
      kafka_offset: String(target - 1),
      kafka_partition: 0,
      kafka_topic: topic,
      prev_hash: prev,
    });
    const entryHash = createHash('sha256').update(Buffer.from(prev, 'hex')).update(entry).digest('hex');
    // Leaf data only matters here: every other row's hash is SHA-256 of its number (one INSERT … SELECT, server side).
    const t0 = process.hrtime.bigint();
    await ch.command(
      `INSERT INTO ${db}.events (tenant_id, event_id, occurred_at, kafka_topic, kafka_partition, kafka_offset, chain_seq, hash)
       SELECT 'bench', generateUUIDv4(), now(), '${topic}', 0, number, number + 1,
              if(number + 1 = ${target}, '${entryHash}', lower(hex(SHA256(toString(number)))))
       FROM system.numbers LIMIT ${N}`,
    );
    log(`inserted ${N} leaves in ${ms(t0).toFixed(0)} ms`);
    const key = loadSigningKey(generateSigningKey().privatePem, 'bench');
    const keys = loadPublicKeys([key.publicKey.export({ type: 'spki', format: 'pem' }) as string]);

    const reads: number[] = [];
    const builds: number[] = [];
    const verifies: number[] = [];
    let leaves: Buffer[] = [];
    let docs: { inclusion: unknown; consistency: unknown } | undefined;
    for (let rep = 0; rep < 3; rep++) {
      const tRead = process.hrtime.bigint();
      const raw = await readLeafEntries(ch, topic, 0, 1n, BigInt(N));
      reads.push(ms(tRead));
      const tBuild = process.hrtime.bigint();
      leaves = raw.map(leafHash);
      const path = inclusionProof(leaves, target - 1);
      builds.push(ms(tBuild));
      if (!docs) {
        const head = (size: number) =>
          signedCheckpoint(
            signCheckpoint(key, {
              topic,
              partition: 0,
              last_offset: String(size - 1),
              chain_seq: String(size),
              chain_head: raw[size - 1]?.toString('hex') as string,
              created_at_s: 1_700_000_000,
              prev_checkpoint_hash: prev,
              tree_size: String(size),
              tree_root: subtreeRoot(leaves, 0, size).toString('hex'),
            }),
          ) as TreeHead;
        const m = Math.floor(N / 2) + 1;
        const tCons = process.hrtime.bigint();
        const cpath = consistencyProof(leaves, m, N);
        out.consistency_build_compute_ms = ms(tCons);
        docs = {
          inclusion: {
            type: 'inclusion',
            event_id: 'e',
            topic,
            partition: 0,
            offset: String(target - 1),
            chain_seq: String(target),
            entry,
            prev_hash: prev,
            entry_hash: entryHash,
            leaf_index: target - 1,
            path: path.map((b) => b.toString('hex')),
            tree_head: head(N),
          },
          consistency: {
            type: 'consistency',
            topic,
            partition: 0,
            from_size: String(m),
            to_size: String(N),
            path: cpath.map((b) => b.toString('hex')),
            from_tree_head: head(m),
            to_tree_head: head(N),
          },
        };
      }
    }
    const d = docs as { inclusion: Parameters<typeof verifyProofDocument>[0]; consistency: Parameters<typeof verifyProofDocument>[0] };
    for (let rep = 0; rep < 200; rep++) {
      const t = process.hrtime.bigint();
      const r = verifyProofDocument(d.inclusion, keys);
      verifies.push(ms(t));
      if (!r.ok) throw new Error(`inclusion proof does not verify: ${r.detail}`);
    }
    const cv = verifyProofDocument(d.consistency, keys);
    if (!cv.ok) throw new Error(`consistency proof does not verify: ${cv.detail}`);
    // The API's builders (stored subtree roots, migration 013): the first fills the roots it needs, later ones read them.
    const inc = d.inclusion as InclusionProof;
    const con = d.consistency as ConsistencyProof;
    const { path: _p, leaf_index: _l, type: _t, tree_head: _h, ...event } = inc;
    const stored: { inclusion: number[]; consistency: number[] } = { inclusion: [], consistency: [] };
    for (let rep = 0; rep < 4; rep++) {
      const t = process.hrtime.bigint();
      const built = await buildInclusionProof(ch, event, inc.tree_head, { max_execution_time_s: 600 });
      stored.inclusion.push(ms(t));
      if (JSON.stringify(built) !== JSON.stringify(inc)) throw new Error('the inclusion proof from stored roots differs from the leaf-based one');
      const tc = process.hrtime.bigint();
      const builtC = await buildConsistencyProof(ch, con.from_tree_head, con.to_tree_head, { max_execution_time_s: 600 });
      stored.consistency.push(ms(tc));
      if (JSON.stringify(builtC.path) !== JSON.stringify(con.path)) throw new Error('the consistency proof from stored roots differs from the leaf-based one');
    }
    const [rootRows] = await ch.queryRows<{ n: string }>(`SELECT count() AS n FROM ${db}.merkle_subtrees`);
    Object.assign(out, {
      stored_roots_inclusion_first_ms: stored.inclusion[0],
      stored_roots_inclusion_ms_median_after: median(stored.inclusion.slice(1)),
      stored_roots_consistency_first_ms: stored.consistency[0],
      stored_roots_consistency_ms_median_after: median(stored.consistency.slice(1)),
      stored_roots_rows: Number(rootRows?.n),
    });
    Object.assign(out, {
      inclusion_path_hashes: (d.inclusion as { path: string[] }).path.length,
      inclusion_proof_json_bytes: Buffer.byteLength(JSON.stringify(d.inclusion)),
      consistency_path_hashes: (d.consistency as { path: string[] }).path.length,
      consistency_proof_json_bytes: Buffer.byteLength(JSON.stringify(d.consistency)),
      leaves_read_ms_median: median(reads),
      leaves_hash_and_path_ms_median: median(builds),
      proof_generation_ms_median: median(reads.map((r, i) => r + (builds[i] as number))),
      inclusion_verify_ms_median: median(verifies),
      heap_used_mb_after: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    });
  } finally {
    await ch.command(`DROP DATABASE IF EXISTS ${db}`).catch(() => {});
    await ch.close();
  }
}

// --- 2. ingest throughput, tree on vs off, alternating ---------------------------------------------------------
if (INGEST_EVENTS > 0) {
  const rates: Record<'on' | 'off', number[]> = { on: [], off: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
      const env = await createRunEnv({ config, logger, partitions: config.topics.partitions });
      env.serviceEnv.AUDITSTREAM_INTEGRITY__MERKLE_ENABLED = mode === 'on' ? 'true' : 'false';
      env.serviceEnv.AUDITSTREAM_LOG__LEVEL = 'warn';
      try {
        log(`round ${round + 1}/${ROUNDS}: ingest of ${INGEST_EVENTS} events, merkle ${mode}`);
        const r = await runIngestSection(env, { events: INGEST_EVENTS, pollMs: 100, timeoutMs: Math.max(600_000, INGEST_EVENTS * 2), log });
        await r.child.stop();
        const [heads] = await env.ch.queryRows<{ n: string }>(`SELECT count() AS n FROM ${env.database}.checkpoints WHERE tree_size > 0`);
        log(
          `  ${r.result.ingest_steady_events_per_s.toFixed(0)} events/s steady (${r.result.ingest_events_per_s.toFixed(0)} incl. start), ${heads?.n} signed tree heads`,
        );
        rates[mode].push(r.result.ingest_steady_events_per_s);
      } finally {
        await env.cleanup(false);
      }
    }
  }
  Object.assign(out, {
    ingest_events: INGEST_EVENTS,
    ingest_steady_events_per_s_merkle_on: rates.on,
    ingest_steady_events_per_s_merkle_off: rates.off,
    ingest_ratio_on_over_off_median: median(rates.on) / median(rates.off),
  });
}
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
process.exit(0);
