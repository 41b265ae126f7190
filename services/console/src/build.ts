import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ACTOR_TYPE_SYMBOLS, CATEGORY_SYMBOLS, OUTCOME_SYMBOLS, SEVERITY_SYMBOLS } from '@auditstream/schemas';
import { build } from 'esbuild';

/** One built file of the console, served from memory by the API. */
export interface ConsoleAsset {
  body: Buffer;
  type: string;
  etag: string;
}

const here = dirname(fileURLToPath(import.meta.url));

/** The one HTML page every console route answers with (the client routes by pathname). No inline script or style: the CSP forbids both. */
const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>auditstream console</title>
<link rel="stylesheet" href="/console/assets/app.css">
<script type="module" src="/console/assets/app.js"></script>
</head>
<body>
<div id="app"></div>
</body>
</html>
`;

/**
 * Bundles the browser app with esbuild (already the repository's bundler) at API start, into
 * memory: a fresh clone needs no build step and no lifecycle script, and the assets can never be
 * stale against the source. Takes ~100 ms. The contract's enums come from @auditstream/schemas
 * (their one home) as a build-time constant, so the filter pickers cannot drift from the validator.
 */
export async function buildConsoleAssets(): Promise<Map<string, ConsoleAsset>> {
  const result = await build({
    entryPoints: { app: join(here, 'client', 'main.ts') },
    bundle: true,
    format: 'esm',
    target: 'es2020',
    minify: true,
    write: false,
    outdir: '/console-assets',
    legalComments: 'none',
    logLevel: 'silent',
    define: {
      __AUDIT_ENUMS__: JSON.stringify({
        actor_type: ACTOR_TYPE_SYMBOLS,
        category: CATEGORY_SYMBOLS,
        outcome: OUTCOME_SYMBOLS,
        severity: SEVERITY_SYMBOLS,
      }),
    },
  });
  const assets = new Map<string, ConsoleAsset>();
  const add = (name: string, body: Buffer, type: string) =>
    assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  for (const f of result.outputFiles) {
    const name = f.path.slice(f.path.lastIndexOf('/') + 1);
    add(`assets/${name}`, Buffer.from(f.contents), name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8');
  }
  add('index.html', Buffer.from(INDEX_HTML), 'text/html; charset=utf-8');
  return assets;
}

/**
 * The console's Content-Security-Policy: scripts, styles and requests from the API's own origin
 * only; no inline script or style, no eval. `frameAncestors` is 'none' except for the embed page,
 * where it is api.console_frame_ancestors.
 */
export function consoleCsp(frameAncestors = "'none'"): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${frameAncestors}`,
  ].join('; ');
}
