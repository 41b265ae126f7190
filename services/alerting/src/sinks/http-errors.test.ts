import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { post } from './http.js';

// A request that gets no answer maps to the same errors whichever client sends it (fetch, or
// node:https when the sink has a ca_file): a timeout is retriable, an abort (shutdown) is not.
// The endpoint accepts connections and never says anything (no HTTP answer, no TLS handshake).
let server: Server;
let port: number;
const sockets = new Set<Socket>();

before(async () => {
  server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

after(() => {
  for (const s of sockets) s.destroy();
  server.close();
});

const ca = Buffer.from('unused: the handshake never completes');
const clients = [
  { name: 'fetch', url: () => `http://127.0.0.1:${port}/hook`, ca: undefined },
  { name: 'node:https with ca_file', url: () => `https://127.0.0.1:${port}/hook`, ca },
];

for (const c of clients) {
  test(`${c.name}: no answer within timeout_ms is SINK_TIMEOUT, retriable, naming the sink and not the URL`, async () => {
    const started = Date.now();
    await assert.rejects(post('webhook', c.url(), '{}', {}, 300, new AbortController().signal, c.ca), (err: unknown) => {
      assert.ok(err instanceof AuditstreamError);
      assert.equal(err.code, 'SINK_TIMEOUT');
      assert.equal(err.retriable, true);
      assert.equal(err.message, 'webhook: no answer within 300 ms');
      return true;
    });
    assert.ok(Date.now() - started < 5000, 'gave up near timeout_ms');
  });

  test(`${c.name}: an abort (shutdown) is SINK_ABORTED, not retriable`, async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(post('slack', c.url(), '{}', {}, 10_000, ac.signal, c.ca), (err: unknown) => {
      assert.ok(err instanceof AuditstreamError);
      assert.equal(err.code, 'SINK_ABORTED');
      assert.equal(err.retriable, false);
      assert.equal(err.message, 'slack: delivery aborted (shutting down)');
      return true;
    });
  });
}
