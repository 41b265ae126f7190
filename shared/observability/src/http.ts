import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { withTimeout } from '@auditstream/core';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<boolean> | boolean;
}

export interface ObservabilityServer {
  /** The bound port (useful when 0 was asked for). */
  port: number;
  url: string;
  close: () => Promise<void>;
}

/**
 * Serves /metrics, /healthz (the process is alive) and /readyz (every check passes).
 * Readiness checks are given 2 s each, so a hung dependency reads as not ready.
 */
export async function startObservabilityServer(options: {
  host: string;
  port: number;
  registry: Registry;
  readiness?: ReadinessCheck[];
  logger?: Logger;
}): Promise<ObservabilityServer> {
  const checks = options.readiness ?? [];
  const server: Server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
      } else if (path === '/metrics') {
        const body = await options.registry.metrics();
        res.writeHead(200, { 'content-type': options.registry.contentType }).end(body);
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      } else if (path === '/readyz') {
        const results: Record<string, boolean> = {};
        await Promise.all(
          checks.map(async (c) => {
            results[c.name] = await withTimeout(Promise.resolve().then(c.check), 2000).catch(() => false);
          }),
        );
        const ready = Object.values(results).every(Boolean);
        res
          .writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: ready ? 'ready' : 'not_ready', checks: results }));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      }
    } catch (err) {
      options.logger?.error({ err }, 'observability endpoint failed');
      if (!res.headersSent) res.writeHead(500).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${options.host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
