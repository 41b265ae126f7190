// The standard investigation queries through the real Query API (`auditstream api` child, HTTP,
// an admin key), over the N rows stored by the ingest section: p50/p99 over `reps` repetitions
// each (after one unmeasured warm-up), varying the actor / resource between repetitions.
import { createApiKey } from '@auditstream/api';
import { AuditstreamError } from '@auditstream/core';
import type { RunEnv } from '../env.js';
import { type ServiceChild, spawnService } from '../procs.js';
import { percentile } from '../stats.js';

export const QUERY_NAMES = ['by_actor', 'by_resource', 'range_action', 'top_actors', 'timeseries_hourly'] as const;
export type QueryName = (typeof QUERY_NAMES)[number];

export type QueryResult = Record<`query_${QueryName}_p50_ms` | `query_${QueryName}_p99_ms`, number>;

export async function runQueries(
  env: RunEnv,
  opts: { reps: number; fromMs: number; toMs: number; startTimeoutMs: number; track: (c: ServiceChild) => void },
): Promise<{ result: QueryResult; child: ServiceChild; base: string; adminKey: string }> {
  const child = spawnService('api', env.serviceEnv);
  opts.track(child);
  try {
    const m = await child.waitForLog(/"url":"(http:\/\/[^"]+)"[^\n]*query API listening/, opts.startTimeoutMs);
    const base = m[1] as string;
    const key = await createApiKey(env.ch, { role: 'admin', tenants: [] });
    const hour = 3_600_000;
    const from = new Date(Math.floor(opts.fromMs / hour) * hour).toISOString();
    const to = new Date(Math.ceil((opts.toMs + 1) / hour) * hour).toISOString();
    const common = `tenant=${encodeURIComponent(env.tenant)}&from=${from}&to=${to}`;
    const paths: Record<QueryName, (i: number) => string> = {
      by_actor: (i) => `/v1/events?${common}&actor_id=user-${(i * 37) % 997}&limit=100`,
      by_resource: (i) => `/v1/events?${common}&resource_type=document&resource_id=doc-${(i * 53) % 5000}&limit=100`,
      range_action: () => `/v1/events?${common}&action=auth.login&limit=100`,
      top_actors: () => `/v1/stats/top?${common}&dimension=actor&limit=10`,
      timeseries_hourly: () => `/v1/stats/timeseries?${common}&interval=1h`,
    };
    const get = async (path: string) => {
      const t0 = performance.now();
      const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key.key}` } });
      const body = await res.text();
      const ms = performance.now() - t0;
      if (res.status !== 200) {
        const errors = child
          .output()
          .split('\n')
          .filter((l) => /"level":"(error|fatal)"/.test(l))
          .slice(-2)
          .join('\n');
        throw new AuditstreamError(
          'BENCH_QUERY',
          `GET ${path.split('?')[0]} answered ${res.status}: ${body.slice(0, 300)}\napi log: ${errors.slice(0, 2000)}`,
          {},
        );
      }
      return ms;
    };
    const result = {} as QueryResult;
    for (const name of QUERY_NAMES) {
      await get(paths[name](0)); // warm-up
      const times: number[] = [];
      for (let i = 1; i <= opts.reps; i++) times.push(await get(paths[name](i)));
      result[`query_${name}_p50_ms`] = percentile(times, 50);
      result[`query_${name}_p99_ms`] = percentile(times, 99);
    }
    return { result, child, base, adminKey: key.key };
  } catch (err) {
    await child.stop(5000);
    throw err;
  }
}
