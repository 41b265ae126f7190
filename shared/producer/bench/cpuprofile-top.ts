// Summarises a V8 .cpuprofile (node --cpu-prof): the functions with the most self time, and
// the same grouped by package, so a profile of publish.bench.ts reads in one screen.
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx shared/producer/bench/publish.bench.ts --rounds 1
//   node --import tsx shared/producer/bench/cpuprofile-top.ts /tmp/prof/*.cpuprofile [--top 25]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

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
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
const top = Number(values.top);

function where(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const m = /\/(shared|services|test)\/(.*)$/.exec(url);
  if (m) return `${m[1]}/${m[2]}`;
  return url.replace(/^file:\/\//, '');
}

function group(url: string): string {
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

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const total = p.endTime - p.startTime;
  const fns = new Map<string, number>();
  const groups = new Map<string, number>();
  for (const [id, us] of self) {
    const cf = (byId.get(id) as ProfileNode).callFrame;
    const name = cf.functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)') {
      fns.set(name, (fns.get(name) ?? 0) + us);
      continue;
    }
    const key = cf.url ? `${name}  ${where(cf.url)}:${cf.lineNumber + 1}` : name;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const g = group(cf.url);
    groups.set(g, (groups.get(g) ?? 0) + us);
  }
  const idle = (fns.get('(idle)') ?? 0) + (fns.get('(program)') ?? 0);
  const busy = total - idle;
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  console.log(`${file}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s busy (percentages of busy time)\n`);
  console.log('self time by function:');
  for (const [k, us] of [...fns]
    .filter(([k]) => k !== '(idle)' && k !== '(program)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)) {
    console.log(`  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
  }
  console.log('\nself time by package:');
  for (const [g, us] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    console.log(`  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${g}`);
  }
}
