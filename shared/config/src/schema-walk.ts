import type { z } from 'zod';

/** Minimal introspection of zod v4 schemas: enough for env coercion and the docs table. */
type AnySchema = z.ZodType & { def: Record<string, unknown> & { type: string }; description?: string };

export interface FieldInfo {
  /** Dotted key, e.g. `ingest.flush_interval_ms`. */
  key: string;
  type: string;
  default: unknown;
  description: string;
  optional: boolean;
}

export function unwrap(schema: z.ZodType): { inner: AnySchema; optional: boolean; defaultValue: unknown; description: string } {
  let s = schema as AnySchema;
  let optional = false;
  let defaultValue: unknown;
  let description = s.description ?? '';
  for (let i = 0; i < 10; i++) {
    const t = s.def.type;
    if (t === 'default' || t === 'prefault') {
      defaultValue = s.def.defaultValue;
      s = s.def.innerType as AnySchema;
    } else if (t === 'optional' || t === 'nullable' || t === 'readonly') {
      optional = true;
      s = s.def.innerType as AnySchema;
    } else if (t === 'pipe') {
      s = s.def.in as AnySchema;
    } else break;
    if (!description && s.description) description = s.description;
  }
  return { inner: s, optional, defaultValue, description };
}

export function typeName(s: AnySchema): string {
  switch (s.def.type) {
    case 'enum':
      return (s as unknown as { options: string[] }).options.map((o) => `\`${o}\``).join(' \\| ');
    case 'array':
      return `list of ${typeName(unwrap(s.def.element as z.ZodType).inner)}`;
    case 'record':
      return 'map';
    case 'object':
      return 'object';
    case 'literal':
      return JSON.stringify((s.def.values as unknown[])[0]);
    default:
      return s.def.type;
  }
}

/** Flattens an object schema into documented leaf keys (objects nested inside lists stay one key). */
export function describeFields(schema: z.ZodType, prefix = ''): FieldInfo[] {
  const { inner } = unwrap(schema);
  if (inner.def.type !== 'object') return [];
  const shape = (inner as unknown as { shape: Record<string, z.ZodType> }).shape;
  const out: FieldInfo[] = [];
  for (const [name, child] of Object.entries(shape)) {
    const key = prefix ? `${prefix}.${name}` : name;
    const u = unwrap(child);
    if (u.inner.def.type === 'object') {
      out.push(...describeFields(u.inner, key));
      continue;
    }
    out.push({ key, type: typeName(u.inner), default: u.defaultValue, description: u.description, optional: u.optional });
  }
  return out;
}

/** The schema at a dotted path, or undefined when the path names no key. */
export function schemaAt(schema: z.ZodType, path: string[]): AnySchema | undefined {
  let s: AnySchema = unwrap(schema).inner;
  for (const part of path) {
    // A map of unknown values (alerting.sinks, checked by the alerting service) takes any key below it.
    if (s.def.type === 'unknown') return s;
    if (s.def.type === 'record') {
      s = unwrap(s.def.valueType as z.ZodType).inner;
      continue;
    }
    if (s.def.type !== 'object') return undefined;
    const shape = (s as unknown as { shape: Record<string, z.ZodType> }).shape;
    const child = shape[part];
    if (!child) return undefined;
    s = unwrap(child).inner;
  }
  return s;
}
