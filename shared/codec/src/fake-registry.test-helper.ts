import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A tiny in-process Confluent-compatible schema registry for unit tests. */
export interface FakeRegistry {
  url: string;
  requests: string[];
  schemas: Map<number, string>;
  /** Forces the next N requests to answer this status. */
  failNext(status: number, times?: number): void;
  close(): Promise<void>;
}

export async function startFakeRegistry(basePath = ''): Promise<FakeRegistry> {
  const schemas = new Map<number, string>();
  const requests: string[] = [];
  let fail: { status: number; times: number } | undefined;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const url = (req.url ?? '').slice(basePath.length);
      requests.push(`${req.method} ${url}`);
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
        res.end(JSON.stringify(json));
      };
      if (fail && fail.times > 0) {
        fail.times--;
        return send(fail.status, { error_code: fail.status, message: 'forced failure' });
      }
      if (!(req.url ?? '').startsWith(basePath)) return send(404, { error_code: 404, message: 'not found' });
      let m = /^\/subjects\/([^/]+)\/versions$/.exec(url);
      if (m && req.method === 'POST') {
        const schema = (JSON.parse(body) as { schema: string }).schema;
        const canonical = JSON.stringify(JSON.parse(schema));
        for (const [id, s] of schemas) if (s === canonical) return send(200, { id });
        const id = schemas.size + 1;
        schemas.set(id, canonical);
        return send(200, { id });
      }
      m = /^\/schemas\/ids\/(\d+)$/.exec(url);
      if (m && req.method === 'GET') {
        const s = schemas.get(Number(m[1]));
        return s ? send(200, { schema: s }) : send(404, { error_code: 40403, message: 'Schema not found' });
      }
      send(404, { error_code: 404, message: 'no route' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${basePath}`,
    requests,
    schemas,
    failNext(status, times = 1) {
      fail = { status, times };
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
