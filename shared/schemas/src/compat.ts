import type { AvroSchema } from './schema.js';

/**
 * The contract's evolution rules, checked by walking both schemas (no avsc involved, so
 * the rules are ours and explicit):
 * - a field may be added only with a default (old data stays readable by the new schema);
 * - no field is removed or renamed (new data stays readable by old consumers, and
 *   queries keep their columns);
 * - no type changes: primitives, logical types, named types, union branches, array items
 *   and map values stay the same; enums keep every symbol, and may gain symbols only
 *   when the old enum declares a default (otherwise old readers fail on the new symbol).
 * Returns one issue per violation; empty means `next` is a compatible evolution of `previous`.
 */
export interface CompatibilityIssue {
  /** Dotted path of the field or type at fault, e.g. `AuditEvent.actor.type`. */
  path: string;
  message: string;
}

type Node = Record<string, unknown>;
const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

/** Named types of a schema, by full name, with their namespace applied. */
class Names {
  readonly byName = new Map<string, Node>();

  constructor(schema: unknown) {
    this.collect(schema, '');
  }

  private collect(t: unknown, ns: string): void {
    if (Array.isArray(t)) {
      for (const b of t) this.collect(b, ns);
      return;
    }
    if (!t || typeof t !== 'object') return;
    const o = t as Node;
    if (o.type === 'record' || o.type === 'error' || o.type === 'enum' || o.type === 'fixed') {
      const full = fullName(String(o.name), typeof o.namespace === 'string' ? o.namespace : ns);
      this.byName.set(full, { ...o, __fullname: full, __ns: namespaceOf(full) });
      if (Array.isArray(o.fields)) for (const f of o.fields as Node[]) this.collect(f.type, namespaceOf(full));
      return;
    }
    if (o.type === 'array') this.collect(o.items, ns);
    else if (o.type === 'map') this.collect(o.values, ns);
    else if (typeof o.type === 'object') this.collect(o.type, ns);
  }

  /** Normalises a schema node: references become their definition, {"type":"int"} becomes "int". */
  resolve(t: unknown, ns: string): { kind: string; node: Node; ns: string } {
    if (typeof t === 'string') {
      if (PRIMITIVES.has(t)) return { kind: t, node: { type: t }, ns };
      const def = this.byName.get(t.includes('.') ? t : fullName(t, ns)) ?? this.byName.get(t);
      if (!def) return { kind: `unknown:${t}`, node: { type: t }, ns };
      return { kind: String(def.type), node: def, ns: String(def.__ns) };
    }
    if (Array.isArray(t)) return { kind: 'union', node: { type: 'union', branches: t }, ns };
    const o = t as Node;
    if (typeof o.type === 'string' && PRIMITIVES.has(o.type)) return { kind: o.type, node: o, ns };
    if (o.type === 'record' || o.type === 'error' || o.type === 'enum' || o.type === 'fixed') {
      const full = fullName(String(o.name), typeof o.namespace === 'string' ? o.namespace : ns);
      return { kind: String(o.type), node: this.byName.get(full) ?? o, ns: namespaceOf(full) };
    }
    if (o.type === 'array' || o.type === 'map') return { kind: o.type, node: o, ns };
    return this.resolve(o.type, ns);
  }
}

function fullName(name: string, ns: string): string {
  return name.includes('.') || !ns ? name : `${ns}.${name}`;
}

function namespaceOf(full: string): string {
  const i = full.lastIndexOf('.');
  return i < 0 ? '' : full.slice(0, i);
}

function shortName(full: string): string {
  return full.slice(full.lastIndexOf('.') + 1);
}

function describe(kind: string, node: Node): string {
  if (kind === 'record' || kind === 'enum' || kind === 'fixed') return `${kind} ${String(node.__fullname ?? node.name)}`;
  if (node.logicalType) return `${kind} (${String(node.logicalType)})`;
  return kind;
}

export function checkCompatibility(previous: AvroSchema, next: AvroSchema): CompatibilityIssue[] {
  const oldNames = new Names(previous);
  const newNames = new Names(next);
  const issues: CompatibilityIssue[] = [];
  const compared = new Set<string>();

  function compare(oldT: unknown, oldNs: string, newT: unknown, newNs: string, path: string): void {
    const o = oldNames.resolve(oldT, oldNs);
    const n = newNames.resolve(newT, newNs);
    if (o.kind !== n.kind) {
      issues.push({ path, message: `type changed from ${describe(o.kind, o.node)} to ${describe(n.kind, n.node)}` });
      return;
    }
    switch (o.kind) {
      case 'record':
      case 'error':
      case 'enum':
      case 'fixed': {
        const of = String(o.node.__fullname);
        const nf = String(n.node.__fullname);
        if (of !== nf) {
          issues.push({ path, message: `named type changed from ${of} to ${nf}` });
          return;
        }
        if (compared.has(of)) return; // recursive types: compared once
        compared.add(of);
        if (o.kind === 'enum') compareEnum(o.node, n.node, path);
        else if (o.kind === 'fixed') {
          if (o.node.size !== n.node.size) issues.push({ path, message: `fixed size changed from ${o.node.size} to ${n.node.size}` });
        } else compareRecord(o.node, o.ns, n.node, n.ns, path);
        return;
      }
      case 'array':
        compare(o.node.items, o.ns, n.node.items, n.ns, `${path}[]`);
        return;
      case 'map':
        compare(o.node.values, o.ns, n.node.values, n.ns, `${path}{}`);
        return;
      case 'union': {
        const ob = o.node.branches as unknown[];
        const nb = n.node.branches as unknown[];
        if (ob.length !== nb.length) {
          issues.push({ path, message: `union changed from ${ob.length} to ${nb.length} branches` });
          return;
        }
        ob.forEach((b, i) => {
          compare(b, o.ns, nb[i], n.ns, path);
        });
        return;
      }
      default:
        if ((o.node.logicalType ?? null) !== (n.node.logicalType ?? null)) {
          issues.push({ path, message: `logical type changed from ${String(o.node.logicalType ?? 'none')} to ${String(n.node.logicalType ?? 'none')}` });
        }
    }
  }

  function compareEnum(o: Node, n: Node, path: string): void {
    const os = o.symbols as string[];
    const ns = new Set(n.symbols as string[]);
    for (const s of os) if (!ns.has(s)) issues.push({ path, message: `enum symbol "${s}" removed` });
    const added = (n.symbols as string[]).filter((s) => !os.includes(s));
    if (added.length > 0 && o.default === undefined) {
      issues.push({ path, message: `enum symbols added (${added.join(', ')}) but the released enum has no default, so old readers cannot read them` });
    }
  }

  function compareRecord(o: Node, oNs: string, n: Node, nNs: string, path: string): void {
    const oFields = o.fields as Node[];
    const nFields = n.fields as Node[];
    const nByName = new Map(nFields.map((f) => [String(f.name), f]));
    const oByName = new Set(oFields.map((f) => String(f.name)));
    const here = path || shortName(String(o.__fullname));
    for (const of of oFields) {
      const name = String(of.name);
      const nf = nByName.get(name);
      if (!nf) {
        const renamed = nFields.find((f) => Array.isArray(f.aliases) && (f.aliases as string[]).includes(name));
        issues.push({
          path: `${here}.${name}`,
          message: renamed ? `field renamed to "${String(renamed.name)}" (renames are not allowed)` : 'field removed (fields may only be added)',
        });
        continue;
      }
      compare(of.type, oNs, nf.type, nNs, `${here}.${name}`);
      if (of.default !== undefined && nf.default === undefined) issues.push({ path: `${here}.${name}`, message: 'default removed' });
    }
    for (const nf of nFields) {
      const name = String(nf.name);
      if (!oByName.has(name) && nf.default === undefined) issues.push({ path: `${here}.${name}`, message: 'field added without a default' });
    }
  }

  compare(previous, '', next, '', '');
  return issues;
}
