import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository (or install) root: the nearest folder above this file holding a workspace package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 10; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'shared')) && existsSync(join(dir, 'services'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return process.cwd();
}

/** Where local state lives: data, logs and pid files of the local stack. AUDITSTREAM_HOME overrides. */
export function stateDir(): string {
  return resolve(process.env.AUDITSTREAM_HOME ?? join(repoRoot(), '.auditstream'));
}
