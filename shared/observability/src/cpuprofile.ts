// Summaries of V8 .cpuprofile files (node --cpu-prof): self time by function, by package, and by
// a caller-supplied classification (e.g. the ingest pipeline's stages), so a profile reads in one screen.
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTimeEntry {
  name: string;
  /** Self time, microseconds. */
  us: number;
  /** Share of busy (non-idle) time, 0..100. */
  pct: number;
}

export interface CpuProfileSummary {
  /** Wall time the profile covers, microseconds. */
  total_us: number;
  /** Time not idle and not `(program)`, microseconds. */
  busy_us: number;
  functions: SelfTimeEntry[];
  packages: SelfTimeEntry[];
  /** Present when a classify function was given. */
  stages?: SelfTimeEntry[];
}

/** A source location for display: the path under node_modules/ or under shared|services|test/. */
export function profileLocation(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const m = /\/(shared|services|test)\/(.*)$/.exec(url);
  if (m) return `${m[1]}/${m[2]}`;
  return url.replace(/^file:\/\//, '');
}

/** The package a frame belongs to: an npm package, `@auditstream/<pkg>`, node internals, or native/gc. */
export function profilePackage(url: string): string {
  if (!url) return '(native, gc)';
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const m = /\/(shared|services)\/([^/]+)\//.exec(url);
  return m ? `@auditstream/${m[2]}` : url;
}

export function readCpuProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

export interface ProfileFrame {
  functionName: string;
  url: string;
}

/**
 * Self time per function, package and (optionally) stage. `classify` gets the sampled stack,
 * leaf first (so native frames such as JSON.stringify or the GC can be attributed to the
 * caller that ran them), and returns the stage it belongs to.
 */
export function summarizeCpuProfile(p: CpuProfile, options: { top?: number; classify?: (stack: readonly ProfileFrame[]) => string } = {}): CpuProfileSummary {
  const top = options.top ?? 25;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stackOf = (id: number): ProfileFrame[] => {
    const out: ProfileFrame[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = (byId.get(cur) as ProfileNode).callFrame;
      out.push({ functionName: cf.functionName || '(anonymous)', url: cf.url });
    }
    return out;
  };
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const total = p.endTime - p.startTime;
  const fns = new Map<string, number>();
  const groups = new Map<string, number>();
  const stages = new Map<string, number>();
  let idle = 0;
  for (const [id, us] of self) {
    const cf = (byId.get(id) as ProfileNode).callFrame;
    const name = cf.functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)') {
      idle += us;
      continue;
    }
    const key = cf.url ? `${name}  ${profileLocation(cf.url)}:${cf.lineNumber + 1}` : name;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const g = profilePackage(cf.url);
    groups.set(g, (groups.get(g) ?? 0) + us);
    if (options.classify) {
      const s = options.classify(stackOf(id));
      stages.set(s, (stages.get(s) ?? 0) + us);
    }
  }
  const busy = Math.max(1, total - idle);
  const list = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, us, pct: (100 * us) / busy }));
  return {
    total_us: total,
    busy_us: busy,
    functions: list(fns, top),
    packages: list(groups, 15),
    ...(options.classify ? { stages: list(stages, 50) } : {}),
  };
}

/** The summary as text: functions, packages, and stages when present. */
export function formatCpuProfileSummary(s: CpuProfileSummary, title: string): string {
  const pct = (x: number) => `${x.toFixed(1).padStart(5)}%`;
  const row = (e: SelfTimeEntry) => `  ${pct(e.pct)}  ${(e.us / 1000).toFixed(0).padStart(7)} ms  ${e.name}`;
  const out = [`${title}: ${(s.total_us / 1e6).toFixed(1)} s profiled, ${(s.busy_us / 1e6).toFixed(1)} s busy (percentages of busy time)`, ''];
  if (s.stages) out.push('self time by stage:', ...s.stages.map(row), '');
  out.push('self time by function:', ...s.functions.map(row), '', 'self time by package:', ...s.packages.map(row));
  return out.join('\n');
}
