// Builds the installable SDK into dist/package/ (tsc -b keeps its own output in dist/src): one
// ESM bundle (lib/index.js) and one declaration file (index.d.ts). The private workspace packages the SDK uses (@auditstream/core,
// schemas, codec, ...) are bundled in; kafkajs, avsc and prom-client stay imports, so the
// package's only dependencies are the ones a service installs anyway. Why this shape: README.md,
// "Building the package".
//   node --import tsx shared/producer/scripts/build.ts       (npm run build -w @auditstream/producer)
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { producerSection } from '@auditstream/config';
import { SCHEMA_DIR } from '@auditstream/schemas';
import { generateDtsBundle } from 'dts-bundle-generator';
import { build } from 'esbuild';

/** Packages that stay `import`s in the bundle: the published package's own dependencies. */
export const EXTERNAL = ['kafkajs', 'avsc', 'prom-client'];

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(pkgDir, 'dist/package');

export async function buildPackage(): Promise<void> {
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(join(dist, 'lib'), { recursive: true });

  // The defaults come from the config section (one source); in the package they are its parsed
  // values as a literal, so neither zod nor the config loader ships with the SDK.
  const { registry_url: _unset, ...defaults } = producerSection.parse({});
  await build({
    entryPoints: [join(pkgDir, 'src/index.ts')],
    outfile: join(dist, 'lib/index.js'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNAL,
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [
      {
        name: 'producer-defaults',
        setup(b) {
          b.onLoad({ filter: /[\\/]producer[\\/]src[\\/]defaults\.ts$/ }, () => ({
            contents: `export const PRODUCER_DEFAULTS = Object.freeze(${JSON.stringify(defaults)});\n`,
            loader: 'js',
          }));
        },
      },
    ],
  });

  // @auditstream/schemas reads its .avsc files from the folder above its module at load time:
  // the bundle lives in dist/package/lib/, so the contract files go to dist/package/.
  for (const f of readdirSync(SCHEMA_DIR)) if (f.endsWith('.avsc')) cpSync(join(SCHEMA_DIR, f), join(dist, f));
  cpSync(join(SCHEMA_DIR, 'history'), join(dist, 'history'), { recursive: true });

  // Declarations from the sources in one program. The workspace packages are mapped to their
  // sources by `paths`: reached through node_modules they would count as external libraries,
  // whose .ts sources the bundler does not compile.
  const tsconfig = join(dist, 'tsconfig.dts.json');
  const compilerOptions = { composite: false, incremental: false, rootDir: '../../..', paths: { '@auditstream/*': ['../../../*/src/index.ts'] } };
  writeFileSync(tsconfig, JSON.stringify({ extends: '../../tsconfig.json', compilerOptions, references: [], include: ['../../src'] }));
  const [dts] = generateDtsBundle([{ filePath: join(pkgDir, 'src/index.ts'), output: { noBanner: true, exportReferencedTypes: false } }], {
    preferredConfigPath: tsconfig,
  });
  rmSync(tsconfig);
  if (/(from |import\()["']@auditstream\//.test(dts as string)) throw new Error('dist/package/index.d.ts still refers to a workspace package');
  writeFileSync(join(dist, 'index.d.ts'), dts as string);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildPackage();
