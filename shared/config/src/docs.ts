import type { z } from 'zod';
import { ENV_PREFIX } from './load.js';
import { describeFields } from './schema-walk.js';

/** The README's configuration table, generated from the schema so the two cannot drift. */
export function renderConfigTable(schema: z.ZodType): string {
  const rows = describeFields(schema).map((f) => {
    const env = `${ENV_PREFIX}${f.key
      .split('.')
      .map((p) => p.toUpperCase())
      .join('__')}`;
    const def = f.default === undefined ? (f.optional ? '(unset)' : '(required)') : `\`${JSON.stringify(f.default)}\``;
    return `| \`${f.key}\` | ${f.type} | ${def} | \`${env}\` | ${f.description} |`;
  });
  return ['| key | type | default | environment | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
