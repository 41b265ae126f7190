import { murmur2 } from '@auditstream/producer';
import { encodeGroupKey } from './alert.js';
import { fieldString } from './event.js';
import type { Rule } from './rules/types.js';

/**
 * Routing for scale-out (docs/alerting.md#scaling-out): every alert belongs to one (rule, group
 * key), so the group key decides which partition of the repartition topic, hence which instance,
 * evaluates a rule for an event. The repartition stage and the evaluating engine both use these
 * functions, so they always agree.
 */

/** tenant_id then the rule's group_by values, or undefined when the event lacks one of them. */
export function groupEntries(rule: Rule, event: Readonly<Record<string, unknown>>, tenant: string): Array<[string, string]> | undefined {
  const entries: Array<[string, string]> = [['tenant_id', tenant]];
  for (const f of rule.group_by) {
    const v = fieldString(event, f);
    if (v === undefined) return undefined;
    entries.push([f, v]);
  }
  return entries;
}

/** The group key the rule would evaluate the event under (a stream rule's own key), if any. */
export function ruleKey(rule: Rule, event: Readonly<Record<string, unknown>>): string | undefined {
  if (rule.stream) return rule.streamKey?.(event);
  const tenant = event.tenant_id;
  if (typeof tenant !== 'string' || tenant === '') return undefined;
  const entries = groupEntries(rule, event, tenant);
  return entries && encodeGroupKey(entries);
}

/** The partition of a group key: Kafka's own key partitioning (murmur2), so any client agrees. */
export function keyPartition(key: string, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

/**
 * The partitions an event is copied to, each with one of its keys (the record key): one copy per
 * distinct partition, whatever the number of rules routed there. `streamOnly`: the event broke
 * the contract (ingest dead-letters it), so only the stream rules (event_loss) count it.
 */
export function routeEvent(rules: readonly Rule[], event: Readonly<Record<string, unknown>>, partitions: number, streamOnly = false): Map<number, string> {
  const out = new Map<number, string>();
  for (const rule of rules) {
    if (streamOnly && !rule.stream) continue;
    const key = ruleKey(rule, event);
    if (key === undefined) continue;
    const p = keyPartition(key, partitions);
    if (!out.has(p)) out.set(p, key);
  }
  return out;
}

/** What one record of the repartition topic is for: the rules whose key falls in its partition. */
export interface RouteScope {
  /** Whether this copy carries the given group key (its partition is the key's). */
  accept(key: string): boolean;
  /** Distinguishes copies of one event in different partitions for the duplicate check. */
  scope: string;
}

export function partitionScope(partition: number, partitions: number): RouteScope {
  return { accept: (key) => keyPartition(key, partitions) === partition, scope: String(partition) };
}
