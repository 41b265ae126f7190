// The options of a `bench --cluster` run and what its ingest and alerting sides share: the sides,
// their order, and starting and watching the service instances.
import { loadavg } from 'node:os';
import type { ClickHouse } from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';
import { deleteTopics } from '@auditstream/kafka';
import type { Kafka } from 'kafkajs';
import { type ServiceChild, spawnService } from '../../procs.js';

export const INGEST_SIDES = [1, 2] as const;
export const ALERTING_SIDES = [1, 3] as const;

/** Side order of run `index`: as given on even runs, reversed on odd ones, so neither side always runs second. */
export function sideOrder<T>(index: number, sides: readonly T[]): T[] {
  return index % 2 === 0 ? [...sides] : [...sides].reverse();
}

export interface ClusterRoundOptions {
  events: number;
  /** The run's index: its parity picks the order of the sides. */
  index: number;
  /** clickhouse.cluster: the per-side databases are migrated and dropped ON CLUSTER. */
  cluster: string;
  partitions: number;
  replicationFactor: number;
  /** A client of the side's database (countStored reads `<database>.events`). */
  clickhouse: (database: string) => ClickHouse;
  pollMs: number;
  timeoutMs: number;
  log: (s: string) => void;
  track: (c: ServiceChild) => void;
}

/** Registers a clean-up (topics, groups, databases) that runs after the whole run, last in first. */
export type Drop = (d: () => Promise<unknown>) => void;

/**
 * Registers the deletion of a side's topics (absent ones, such as a repartition topic no instance
 * created, count as deleted). A failure does not fail the run but is logged, naming the topics.
 */
export function dropTopics(drop: Drop, kafka: Kafka, topics: readonly string[], o: Pick<ClusterRoundOptions, 'log'>): void {
  drop(() =>
    deleteTopics(kafka, topics).catch((err: unknown) =>
      o.log(`  warning: topics not deleted: ${topics.join(', ')}: ${err instanceof Error ? err.message : String(err)}`),
    ),
  );
}

export const load1 = () => loadavg()[0] as number;

/** Starts `k` instances of a service at once with the same environment. */
export function spawnMany(name: 'ingest' | 'alerting', k: number, env: Record<string, string>, o: ClusterRoundOptions): ServiceChild[] {
  const children = Array.from({ length: k }, () => spawnService(name, env));
  for (const c of children) o.track(c);
  return children;
}

/** The last lines of each child's output, for an error. */
export const tails = (children: readonly ServiceChild[]) => children.map((c, i) => `[${c.name} ${i + 1}] ${c.output().slice(-800)}`).join('\n');

export function checkAlive(children: readonly ServiceChild[]): void {
  const dead = children.find((c) => c.proc.exitCode !== null);
  if (dead) throw new AuditstreamError('BENCH_CHILD', `auditstream ${dead.name} exited early: ${dead.output().slice(-1500)}`, {});
}
