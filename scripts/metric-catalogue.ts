// Builds the README's metric catalogue from the code: every prom-client metric constructed
// in shared/ and services/ (name, type, labels, help), found by reading the sources. The
// catalogue test compares it with README.md; the live-Prometheus test compares it with what
// the running services actually expose.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MetricDoc {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary';
  labels: string[];
  help: string;
  /** Package folder that defines it, e.g. services/ingest. */
  owner: string;
}

const CTOR = /new (Counter|Gauge|Histogram|Summary)(?:<[^>]*>)?\(\s*\{/g;

function stringAt(src: string, key: string): string | undefined {
  const m = new RegExp(
    `\\b${key}:\\s*((?:'(?:[^'\\\\]|\\\\.)*'|"(?:[^"\\\\]|\\\\.)*"|\`[^\`]*\`)(?:\\s*\\+\\s*(?:'(?:[^'\\\\]|\\\\.)*'|"(?:[^"\\\\]|\\\\.)*"))*)`,
  ).exec(src);
  if (!m) return undefined;
  const parts = (m[1] as string).match(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`/g) ?? [];
  return parts.map((p) => p.slice(1, -1).replace(/\\'/g, "'").replace(/\\"/g, '"')).join('');
}

/** The object literal passed to a metric constructor starting at `start` (the `{`). */
function objectLiteral(src: string, start: number): string {
  let depth = 0;
  for (let i = start; i < src.length; i++) {
    const c = src[i];
    if (c === '{' || c === '[' || c === '(') depth++;
    else if (c === '}' || c === ']' || c === ')') {
      depth--;
      if (depth === 0) return src.slice(start, i + 1);
    } else if (c === "'" || c === '"' || c === '`') {
      const end = src.indexOf(c, i + 1);
      i = end < 0 ? src.length : end;
    }
  }
  return src.slice(start);
}

function sourceFiles(root: string): string[] {
  const out: string[] = [];
  for (const top of ['shared', 'services']) {
    for (const f of readdirSync(join(root, top), { recursive: true })) {
      const p = String(f);
      if (!p.endsWith('.ts') || p.endsWith('.test.ts') || /(^|\/)(node_modules|dist|bench|testing)\//.test(p) || p.includes('test-helper')) continue;
      out.push(join(top, p));
    }
  }
  return out.sort();
}

export function scanMetrics(root: string): MetricDoc[] {
  const found = new Map<string, MetricDoc>();
  for (const file of sourceFiles(root)) {
    const src = readFileSync(join(root, file), 'utf8');
    for (const m of src.matchAll(CTOR)) {
      const body = objectLiteral(src, (m.index as number) + m[0].length - 1);
      const name = stringAt(body, 'name');
      if (!name) throw new Error(`${file}: a ${m[1]} whose name is not a string literal; the catalogue needs literal names`);
      const help = stringAt(body, 'help') ?? '';
      const labelsSrc = /labelNames:\s*\[([^\]]*)\]/.exec(body)?.[1] ?? '';
      const labels = [...labelsSrc.matchAll(/'([^']+)'|"([^"]+)"/g)].map((x) => (x[1] ?? x[2]) as string);
      const owner = file.split('/').slice(0, 2).join('/');
      const doc: MetricDoc = { name, type: (m[1] as string).toLowerCase() as MetricDoc['type'], labels, help, owner };
      const prev = found.get(name);
      if (prev && (prev.type !== doc.type || prev.labels.join() !== doc.labels.join()))
        throw new Error(`metric ${name} is defined twice, differently (${prev.owner}, ${owner})`);
      if (!prev) found.set(name, doc);
    }
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function renderMetricCatalogue(metrics: readonly MetricDoc[]): string {
  const rows = metrics.map(
    (m) => `| \`${m.name}\` | ${m.type} | ${m.labels.map((l) => `\`${l}\``).join(', ') || '—'} | ${m.owner} | ${m.help.replace(/\|/g, '\\|')} |`,
  );
  return ['| metric | type | labels | defined in | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
