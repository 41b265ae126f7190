// `npm run docs`: rewrites the generated parts of README.md (the configuration table)
// from the code, so the README cannot drift from what the services actually read.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alertingConfigSchema } from '@auditstream/alerting';
import { renderConfigTable } from '@auditstream/config';
import { repoRoot } from '@auditstream/core';
import { renderMetricCatalogue, scanMetrics } from './metric-catalogue.js';

export function replaceBetween(text: string, marker: string, body: string): string {
  const start = `<!-- ${marker}:start -->`;
  const end = `<!-- ${marker}:end -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`README.md lacks the ${start} … ${end} markers`);
  return `${text.slice(0, i + start.length)}\n${body}\n${text.slice(j)}`;
}

export function renderReadme(current: string): string {
  const withConfig = replaceBetween(current, 'config-table', renderConfigTable(alertingConfigSchema));
  return replaceBetween(withConfig, 'metric-catalogue', renderMetricCatalogue(scanMetrics(repoRoot())));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() as string)) {
  const file = join(repoRoot(), 'README.md');
  writeFileSync(file, renderReadme(readFileSync(file, 'utf8')));
  console.log('README.md regenerated');
}
