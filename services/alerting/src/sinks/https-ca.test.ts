import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { post } from './http.js';

// HTTPS sinks with a private CA (alerting.sinks.<sink>.ca_file): the endpoint's certificate is
// verified against that CA, and a certificate from another CA is refused without retries.
let server: Server;
let url: string;
let dir: string;
let bodies: string[] = [];
let status = 204;

function makeCa(name: string) {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '2', '-subj', `/CN=${name}`], {
    stdio: 'ignore',
  });
  return { key, crt };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'alerting-ca-'));
  const ca = makeCa('ca');
  makeCa('other');
  writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
  execFileSync('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'srv.key'), '-out', join(dir, 'srv.csr'), '-subj', '/CN=127.0.0.1'], {
    stdio: 'ignore',
  });
  execFileSync(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      join(dir, 'srv.csr'),
      '-CA',
      ca.crt,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-out',
      join(dir, 'srv.crt'),
      '-days',
      '2',
      '-extfile',
      join(dir, 'ext'),
    ],
    { stdio: 'ignore' },
  );
  server = createServer({ cert: readFileSync(join(dir, 'srv.crt')), key: readFileSync(join(dir, 'srv.key')) }, (req, res) => {
    let b = '';
    req.on('data', (c) => {
      b += String(c);
    });
    req.on('end', () => {
      bodies.push(b);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

after(() => {
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

const signal = () => new AbortController().signal;

test('post with ca_file: delivers to an endpoint whose certificate the CA signed', async () => {
  bodies = [];
  status = 204;
  await post('webhook', url, '{"a":1}', { 'x-test': '1' }, 3000, signal(), readFileSync(join(dir, 'ca.crt')));
  assert.deepEqual(bodies, ['{"a":1}']);
});

test('post with ca_file: a certificate from another CA is refused, not retriable, and nothing is delivered', async () => {
  bodies = [];
  await assert.rejects(post('webhook', url, '{}', {}, 3000, signal(), readFileSync(join(dir, 'other.crt'))), (err: unknown) => {
    assert.ok(err instanceof AuditstreamError);
    assert.equal(err.code, 'SINK_TLS');
    assert.equal(err.retriable, false);
    assert.doesNotMatch(err.message, /https?:\/\//, 'the message never carries the URL');
    return true;
  });
  assert.deepEqual(bodies, []);
});

test('post with ca_file: status codes map as without it (5xx retriable, 4xx not)', async () => {
  status = 503;
  await assert.rejects(post('webhook', url, '{}', {}, 3000, signal(), readFileSync(join(dir, 'ca.crt'))), { code: 'SINK_HTTP_5XX', retriable: true });
  status = 400;
  await assert.rejects(post('webhook', url, '{}', {}, 3000, signal(), readFileSync(join(dir, 'ca.crt'))), { code: 'SINK_HTTP_4XX', retriable: false });
  status = 204;
});

test('post without ca_file: the self-signed endpoint is refused (system CAs only)', async () => {
  await assert.rejects(post('webhook', url, '{}', {}, 3000, signal()), { code: 'SINK_UNREACHABLE' });
});
