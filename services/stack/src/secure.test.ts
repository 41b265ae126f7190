import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { clickhouseListenerXml } from './clickhouse.js';
import { kafkaListenerProps, redactSecrets, scramFormatArgs } from './kafka.js';
import { secureClientEnv } from './stack.js';
import { caArgs, certificatesValid, ensureCertificates, ensureSecrets, generatePassword, SECRET_NAMES, serverExtensions, tlsPaths } from './tls.js';

const secure = { keystorePem: '/s/tls/server.pem', caCert: '/s/tls/ca.crt', brokerUser: 'auditstream-broker', brokerPassword: 'pw-123' };

test('secure Kafka: only a SASL_SSL client listener, an mTLS controller listener, SCRAM-SHA-512, PEM stores', () => {
  const props = kafkaListenerProps({ host: '127.0.0.1', port: 1, controllerPort: 2, secure });
  assert.ok(props.includes('listeners=SASL_SSL://127.0.0.1:1,CONTROLLER://127.0.0.1:2'));
  assert.ok(props.includes('listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL'));
  assert.ok(props.includes('listener.name.controller.ssl.client.auth=required'));
  assert.ok(props.includes('sasl.enabled.mechanisms=SCRAM-SHA-512'));
  assert.ok(props.includes('ssl.keystore.type=PEM') && props.includes('ssl.truststore.location=/s/tls/ca.crt'));
  assert.ok(!props.some((p) => p.includes('PLAINTEXT')), 'no plaintext listener');
  assert.ok(props.some((p) => p.includes('username="auditstream-broker" password="pw-123"')));
  const plain = kafkaListenerProps({ host: '127.0.0.1', port: 1, controllerPort: 2 });
  assert.ok(plain.includes('listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT'));
});

test('SCRAM users are added at format time; tool output is redacted', () => {
  assert.deepEqual(scramFormatArgs([{ name: 'a', password: 'x1' }]), ['--add-scram', 'SCRAM-SHA-512=[name=a,password=x1]']);
  assert.equal(redactSecrets('bad arg password=s3cret and s3cret again', ['s3cret', '']), 'bad arg password=[redacted] and [redacted] again');
});

test('secure ClickHouse: https_port only, TLS 1.2+', () => {
  const xml = clickhouseListenerXml({
    httpPort: 8443,
    tcpPort: 9000,
    secure: { certFile: '/c.crt', keyFile: '/c.key', defaultPasswordSha256: 'x', usersFragment: '' },
  });
  assert.match(xml, /<https_port>8443<\/https_port>/);
  assert.doesNotMatch(xml, /<http_port>|<tcp_port>/);
  assert.match(xml, /<disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1<\/disableProtocols>/);
  assert.match(clickhouseListenerXml({ httpPort: 8123, tcpPort: 9000 }), /<http_port>8123<\/http_port>\n {2}<tcp_port>9000<\/tcp_port>/);
});

test('certificate arguments: a CA that can only sign, a server cert naming the host for server and client auth', () => {
  const p = tlsPaths('/state');
  const ca = caArgs(p);
  assert.ok(ca.includes('basicConstraints=critical,CA:TRUE,pathlen:0'));
  assert.equal(ca[ca.indexOf('-keyout') + 1], '/state/tls/ca.key');
  const ext = serverExtensions('10.1.2.3');
  assert.match(ext, /subjectAltName=IP:10\.1\.2\.3,IP:127\.0\.0\.1,DNS:localhost/);
  assert.match(ext, /extendedKeyUsage=serverAuth,clientAuth/);
  assert.match(serverExtensions('kafka.internal'), /subjectAltName=DNS:kafka\.internal,/);
});

test('ensureCertificates creates a verifying chain with 0600 keys and reuses it; ensureSecrets makes 0600 password files once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'auditstream-tls-'));
  const first = ensureCertificates(dir, '127.0.0.1', () => {});
  assert.equal(first.created, true);
  const p = first.paths;
  assert.match(execFileSync('openssl', ['verify', '-CAfile', p.caCert, p.serverCert], { encoding: 'utf8' }), /OK/);
  for (const key of [p.caKey, p.serverKey, p.serverPem]) assert.equal(statSync(key).mode & 0o777, 0o600, key);
  assert.equal(statSync(p.dir).mode & 0o777, 0o700);
  assert.equal(certificatesValid(p, '127.0.0.1'), true);
  assert.equal(certificatesValid(p, '10.9.9.9'), false, 'a cert for another host is not valid');
  const before = readFileSync(p.serverCert, 'utf8');
  assert.equal(ensureCertificates(dir, '127.0.0.1', () => {}).created, false);
  assert.equal(readFileSync(p.serverCert, 'utf8'), before, 'reused');

  const a = ensureSecrets(dir);
  const b = ensureSecrets(dir);
  assert.deepEqual(a, b);
  assert.equal(new Set(Object.values(a)).size, SECRET_NAMES.length, 'distinct passwords');
  for (const name of SECRET_NAMES) assert.equal(statSync(join(dir, 'secrets', `${name}.password`)).mode & 0o777, 0o600);
  assert.match(generatePassword(), /^[A-Za-z0-9_-]{43}$/);

  const env = secureClientEnv(dir, '127.0.0.1', 1, 2);
  assert.equal(env.AUDITSTREAM_CLICKHOUSE__URL, 'https://127.0.0.1:2');
  assert.equal(env.AUDITSTREAM_KAFKA__SASL_MECHANISM, 'scram-sha-512');
  for (const v of Object.values(env)) for (const secret of Object.values(a)) assert.ok(!v.includes(secret), 'the client env names files, never secrets');
  rmSync(dir, { recursive: true, force: true });
});
