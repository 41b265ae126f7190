import { z } from 'zod';
import { alertmanagerSink } from './alertmanager.js';
import { jsonSink } from './json.js';
import { kafkaSink } from './kafka.js';
import { slackSink } from './slack.js';
import type { Sink, SinkContext, SinkModule, SinkQueueOptions } from './types.js';
import { webhookSink } from './webhook.js';

/**
 * Every alert sink, one module each (name, config schema, factory). Adding a sink is its
 * module plus one line here: its config section `alerting.sinks.<name>` and its start-up
 * follow from the module.
 */
export const SINK_MODULES: readonly SinkModule[] = [kafkaSink, webhookSink, slackSink, alertmanagerSink, jsonSink] as SinkModule[];

/** `alerting.sinks`: one section per sink module. */
export const sinksSchema = z.strictObject(Object.fromEntries(SINK_MODULES.map((m) => [m.name, m.config]))).prefault({});

/** Builds the enabled sinks, in registry order, each with its queue and retry options. */
export async function buildSinks(config: Readonly<Record<string, unknown>>, ctx: SinkContext): Promise<Array<{ sink: Sink; queue: SinkQueueOptions }>> {
  const out: Array<{ sink: Sink; queue: SinkQueueOptions }> = [];
  for (const m of SINK_MODULES) {
    const c = config[m.name] as Parameters<SinkModule['create']>[0] | undefined;
    if (!c?.enabled) continue;
    const { queue_size, max_attempts, initial_delay_ms, max_delay_ms } = c;
    out.push({ sink: await m.create(c, ctx), queue: { queue_size, max_attempts, initial_delay_ms, max_delay_ms } });
  }
  return out;
}
