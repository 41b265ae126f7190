import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { Sink, SinkContext, SinkModule, SinkQueueOptions } from './types.js';

const here = dirname(fileURLToPath(import.meta.url));

function isSinkModule(v: unknown): v is SinkModule {
  const m = v as Partial<SinkModule> | null;
  return !!m && typeof m === 'object' && typeof m.name === 'string' && m.config instanceof z.ZodType && typeof m.create === 'function';
}

/**
 * Every alert sink: each module of this folder that exports a `defineSink(...)`, in file-name
 * order, found here like the CLI finds its commands. Adding a sink is its one module: its config
 * section `alerting.sinks.<name>` and its start-up follow from it. Only files that call
 * defineSink are imported, so the folder's other modules (delivery.ts imports this one) are not.
 */
export const SINK_MODULES: readonly SinkModule[] = await (async () => {
  const out: SinkModule[] = [];
  const files = readdirSync(here)
    .filter((f) => /\.[cm]?[tj]s$/.test(f) && !/\.(test|test-helper|d)\.[cm]?[tj]s$/.test(f))
    .sort();
  for (const f of files) {
    if (!/=\s*defineSink\(/.test(readFileSync(join(here, f), 'utf8'))) continue;
    const mod = (await import(pathToFileURL(join(here, f)).href)) as Record<string, unknown>;
    out.push(...Object.values(mod).filter(isSinkModule));
  }
  return out;
})();

/** `alerting.sinks`: one section per sink module. */
export const sinksSchema = z.strictObject(Object.fromEntries(SINK_MODULES.map((m) => [m.name, m.config]))).prefault({});

/** Builds the enabled sinks, in SINK_MODULES order, each with its queue and retry options. */
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
