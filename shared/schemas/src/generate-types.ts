import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AvroSchema } from './schema.js';

/**
 * Generates the TypeScript types of the contract from audit_event.avsc, so the two cannot
 * drift: schema.test.ts fails when types.generated.ts is stale.
 *   node --import tsx shared/schemas/src/generate-types.ts --write
 *
 * For each record X it emits `X` (the decoded form: every field present, optional ones
 * `T | null`) and `XInput` (what a producer may pass: fields with a default may be left out).
 * For each enum it emits `X_SYMBOLS` (readonly tuple) and `type X`.
 */
export const GENERATED_TYPES_FILE = fileURLToPath(new URL('./types.generated.ts', import.meta.url));

type Json = AvroSchema & Record<string, unknown>;
interface Field {
  name: string;
  type: Json;
  doc?: string;
  default?: unknown;
}

const PRIMITIVES: Record<string, string> = {
  null: 'null',
  boolean: 'boolean',
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  bytes: 'Buffer',
  string: 'string',
};

export function renderTypes(schema: AvroSchema): string {
  const blocks: string[] = [];
  const seen = new Set<string>();

  function shortName(name: string): string {
    return name.slice(name.lastIndexOf('.') + 1);
  }

  function tsType(t: unknown, input: boolean): string {
    if (typeof t === 'string') {
      const prim = PRIMITIVES[t];
      if (prim) return prim;
      return input && !enumNames.has(shortName(t)) ? `${shortName(t)}Input` : shortName(t);
    }
    if (Array.isArray(t)) {
      // `T | null` reads better than `null | T`.
      const branches = t.filter((b) => b !== 'null').map((b) => tsType(b, input));
      return (branches.length < t.length ? [...branches, 'null'] : branches).join(' | ');
    }
    const o = t as Json;
    switch (o.type) {
      case 'record':
      case 'error':
        visit(o);
        return input ? `${shortName(o.name as string)}Input` : shortName(o.name as string);
      case 'enum':
        visit(o);
        return shortName(o.name as string);
      case 'array':
        return `${wrap(tsType(o.items, input))}[]`;
      case 'map':
        return `Record<string, ${tsType(o.values, input)}>`;
      case 'fixed':
        return 'Buffer';
      default:
        return tsType(o.type, input);
    }
  }

  function wrap(s: string): string {
    return s.includes(' ') ? `(${s})` : s;
  }

  function docComment(doc: unknown, indent: string, extra?: string): string {
    const lines = [typeof doc === 'string' ? doc : '', extra ?? ''].filter((l) => l.length > 0);
    if (lines.length === 0) return '';
    return `${indent}/** ${lines.join(' ')} */\n`;
  }

  function constName(name: string): string {
    return `${name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}_SYMBOLS`;
  }

  function visit(o: Json): void {
    const name = shortName(o.name as string);
    if (seen.has(name)) return;
    seen.add(name);
    if (o.type === 'enum') {
      const symbols = (o.symbols as string[]).map((s) => `'${s}'`).join(', ');
      blocks.push(
        `${docComment(o.doc, '')}export const ${constName(name)} = [${symbols}] as const;\nexport type ${name} = (typeof ${constName(name)})[number];\n`,
      );
      return;
    }
    const fields = o.fields as Field[];
    // Children first, so the file reads bottom-up like the schema nests.
    for (const f of fields) tsType(f.type, false);
    const body = (input: boolean) =>
      fields
        .map((f) => {
          const ts = tsType(f.type, input);
          const micros = isTimestampMicros(f.type) ? '(Avro long, logicalType timestamp-micros.)' : undefined;
          const opt = input && f.default !== undefined ? '?' : '';
          return `${docComment(f.doc, '  ', micros)}  ${f.name}${opt}: ${ts};`;
        })
        .join('\n');
    blocks.push(`${docComment(o.doc, '')}export interface ${name} {\n${body(false)}\n}\n`);
    blocks.push(
      `/** What a producer passes for ${name}: fields with a schema default may be left out. */\nexport interface ${name}Input {\n${body(true)}\n}\n`,
    );
  }

  const enumNames = new Set<string>();
  collectEnums(schema, enumNames);
  tsType(schema, false);
  const header = [
    '// Generated from shared/schemas/audit_event.avsc by src/generate-types.ts: do not edit.',
    '// Regenerate: node --import tsx shared/schemas/src/generate-types.ts --write',
    '',
  ].join('\n');
  return `${header}\n${blocks.join('\n')}`;
}

function isTimestampMicros(t: unknown): boolean {
  return typeof t === 'object' && t !== null && !Array.isArray(t) && (t as Json).logicalType === 'timestamp-micros';
}

function collectEnums(t: unknown, out: Set<string>): void {
  if (Array.isArray(t)) {
    for (const b of t) collectEnums(b, out);
    return;
  }
  if (!t || typeof t !== 'object') return;
  const o = t as Json;
  if (o.type === 'enum') out.add(String(o.name).slice(String(o.name).lastIndexOf('.') + 1));
  if (Array.isArray(o.fields)) for (const f of o.fields as Field[]) collectEnums(f.type, out);
  collectEnums(o.items, out);
  collectEnums(o.values, out);
  if (typeof o.type === 'object') collectEnums(o.type, out);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { auditEventSchema } = await import('./schema.js');
  const text = renderTypes(auditEventSchema);
  if (process.argv.includes('--write')) {
    writeFileSync(GENERATED_TYPES_FILE, text);
    console.log(`wrote ${GENERATED_TYPES_FILE}`);
  } else if (readFileSync(GENERATED_TYPES_FILE, 'utf8') !== text) {
    console.error('types.generated.ts is stale: run with --write');
    process.exitCode = 1;
  }
}
