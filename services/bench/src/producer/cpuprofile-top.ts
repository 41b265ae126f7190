// Summarises V8 .cpuprofile files (node --cpu-prof): the functions with the most self time, and
// the same grouped by package, so a profile of publish.bench.ts reads in one screen.
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx services/bench/src/producer/publish.bench.ts --rounds 1
//   node --import tsx services/bench/src/producer/cpuprofile-top.ts /tmp/prof/*.cpuprofile [--top 25]
// The summariser is shared with `auditstream bench --profile` (@auditstream/observability).
import { parseArgs } from 'node:util';
import { formatCpuProfileSummary, readCpuProfile, summarizeCpuProfile } from '@auditstream/observability';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
const top = Number(values.top);
if (!Number.isInteger(top) || top < 1) {
  console.error(`--top must be a whole number of at least 1, got ${JSON.stringify(values.top)}`);
  process.exit(2);
}
if (positionals.length === 0) {
  console.error('usage: cpuprofile-top.ts <file.cpuprofile>… [--top 25]');
  process.exit(2);
}
for (const file of positionals) {
  console.log(formatCpuProfileSummary(summarizeCpuProfile(readCpuProfile(file), { top }), file));
  console.log('');
}
