// npm pack's lifecycle for the SDK (package.json "prepack" / "postpack"). In the repository the
// package's exports are its TypeScript sources (the workspace runs them through tsx, no build);
// the tarball's are the build in dist/package/. npm packs the package.json it finds on disk, so
// prepack builds, then puts the published manifest in its place, and postpack puts the
// workspace's back (prepack also does, first, if an interrupted pack left it swapped).
//   node --import tsx scripts/pack.ts prepack|postpack
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPackage } from './build.js';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = join(pkgDir, 'package.json');
const saved = join(pkgDir, 'dist/workspace-package.json');

type Manifest = Record<string, unknown> & { dependencies?: Record<string, string> };

/** The manifest of the tarball: the build as entry point, and no workspace or dev dependencies. */
export function publishedManifest(ws: Manifest): Manifest {
  const { scripts: _scripts, devDependencies: _dev, exports: _exports, types: _types, ...rest } = ws;
  const dependencies = Object.fromEntries(Object.entries(ws.dependencies ?? {}).filter(([name]) => !name.startsWith('@auditstream/')));
  return {
    ...rest,
    exports: { '.': { types: './dist/package/index.d.ts', default: './dist/package/lib/index.js' } },
    types: './dist/package/index.d.ts',
    dependencies,
  };
}

function restore(): void {
  if (existsSync(saved)) renameSync(saved, manifest);
}

const step = process.argv[2];
if (step === 'prepack') {
  restore();
  await buildPackage();
  const ws = readFileSync(manifest, 'utf8');
  writeFileSync(saved, ws);
  writeFileSync(manifest, `${JSON.stringify(publishedManifest(JSON.parse(ws) as Manifest), null, 2)}\n`);
} else if (step === 'postpack') {
  restore();
} else {
  console.error('usage: pack.ts prepack|postpack');
  process.exit(2);
}
