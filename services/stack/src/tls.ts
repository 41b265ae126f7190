import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { AuditstreamError } from '@auditstream/core';
import { ensureTool } from './tools.js';

/**
 * Key material of the secure local stack (`stack up --secure`): a local CA, one server
 * certificate (also usable as a TLS client certificate, which the Kafka controller listener
 * requires), and generated passwords. Everything lives under the stack's state dir; private
 * keys and passwords are 0600 in 0700 folders, and are reused while valid.
 */
export interface TlsPaths {
  dir: string;
  caKey: string;
  caCert: string;
  serverKey: string;
  serverCert: string;
  /** Private key followed by the certificate: Kafka's PEM keystore. */
  serverPem: string;
  csr: string;
  ext: string;
}

export function tlsPaths(stateDir: string): TlsPaths {
  const dir = join(stateDir, 'tls');
  return {
    dir,
    caKey: join(dir, 'ca.key'),
    caCert: join(dir, 'ca.crt'),
    serverKey: join(dir, 'server.key'),
    serverCert: join(dir, 'server.crt'),
    serverPem: join(dir, 'server.pem'),
    csr: join(dir, 'server.csr'),
    ext: join(dir, 'server.ext'),
  };
}

export const CA_DAYS = 825;
export const SERVER_DAYS = 397;
/** Certificates expiring within this many seconds are renewed by the next `up`. */
export const RENEW_BEFORE_S = 7 * 86_400;

/** openssl arguments creating the self-signed CA (RSA 2048, SHA-256). */
export function caArgs(p: TlsPaths, days = CA_DAYS): string[] {
  return [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-sha256',
    '-nodes',
    '-keyout',
    p.caKey,
    '-out',
    p.caCert,
    '-days',
    String(days),
    '-subj',
    '/O=auditstream/CN=auditstream local CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ];
}

/** openssl arguments creating the server key and its signing request. */
export function serverCsrArgs(p: TlsPaths, host: string): string[] {
  return ['req', '-newkey', 'rsa:2048', '-sha256', '-nodes', '-keyout', p.serverKey, '-out', p.csr, '-subj', `/O=auditstream/CN=${host}`];
}

/** openssl arguments signing the server certificate with the CA. */
export function serverSignArgs(p: TlsPaths, days = SERVER_DAYS): string[] {
  return [
    'x509',
    '-req',
    '-sha256',
    '-in',
    p.csr,
    '-CA',
    p.caCert,
    '-CAkey',
    p.caKey,
    '-CAcreateserial',
    '-out',
    p.serverCert,
    '-days',
    String(days),
    '-extfile',
    p.ext,
  ];
}

/** The server certificate's extensions: the host (and loopback names) as SANs, server and client auth. */
export function serverExtensions(host: string): string {
  const sans = new Set<string>();
  sans.add(isIP(host) ? `IP:${host}` : `DNS:${host}`);
  sans.add('IP:127.0.0.1');
  sans.add('DNS:localhost');
  return [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth,clientAuth',
    `subjectAltName=${[...sans].join(',')}`,
    '',
  ].join('\n');
}

function openssl(bin: string, args: string[]): string {
  try {
    return execFileSync(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (cause) {
    const err = String((cause as { stderr?: string }).stderr ?? '').slice(-1000);
    throw new AuditstreamError('STACK_TLS', `openssl ${args[0]} failed: ${err}`, { cause });
  }
}

/** True when the CA and server certificate exist, chain, are not about to expire and name the host. */
export function certificatesValid(p: TlsPaths, host: string, bin = 'openssl'): boolean {
  for (const f of [p.caKey, p.caCert, p.serverKey, p.serverCert, p.serverPem]) if (!existsSync(f)) return false;
  try {
    openssl(bin, ['verify', '-CAfile', p.caCert, p.serverCert]);
    for (const cert of [p.caCert, p.serverCert]) openssl(bin, ['x509', '-noout', '-checkend', String(RENEW_BEFORE_S), '-in', cert]);
    const san = openssl(bin, ['x509', '-noout', '-ext', 'subjectAltName', '-in', p.serverCert]);
    const want = isIP(host) ? `IP Address:${host}` : `DNS:${host}`;
    return san.includes(want);
  } catch {
    return false;
  }
}

/**
 * Creates the CA and the server certificate with openssl, or keeps them when still valid for
 * this host. A CA that is itself about to expire is replaced along with the server certificate.
 */
export function ensureCertificates(stateDir: string, host: string, log: (msg: string) => void): { paths: TlsPaths; created: boolean } {
  const p = tlsPaths(stateDir);
  const bin = ensureTool('openssl', 'openssl', 'OpenSSL (needed to create the secure stack certificates)', log);
  if (certificatesValid(p, host, bin)) return { paths: p, created: false };
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  chmodSync(p.dir, 0o700);
  let caOk = existsSync(p.caKey) && existsSync(p.caCert);
  if (caOk) {
    try {
      openssl(bin, ['x509', '-noout', '-checkend', String(RENEW_BEFORE_S), '-in', p.caCert]);
    } catch {
      caOk = false;
    }
  }
  if (!caOk) {
    log(`creating a local CA in ${p.dir}`);
    openssl(bin, caArgs(p));
  }
  log(`creating the server certificate for ${host}`);
  writeFileSync(p.ext, serverExtensions(host));
  openssl(bin, serverCsrArgs(p, host));
  openssl(bin, serverSignArgs(p));
  writeFileSync(p.serverPem, readFileSync(p.serverKey, 'utf8') + readFileSync(p.serverCert, 'utf8'), { mode: 0o600 });
  rmSync(p.csr, { force: true });
  for (const key of [p.caKey, p.serverKey, p.serverPem]) chmodSync(key, 0o600);
  chmodSync(p.caCert, 0o644);
  chmodSync(p.serverCert, 0o644);
  return { paths: p, created: true };
}

/** The generated passwords of the secure stack, one file each (0600). */
export const SECRET_NAMES = ['kafka-broker', 'kafka-client', 'clickhouse-default', 'clickhouse-ingest', 'clickhouse-reader', 'clickhouse-admin'] as const;
export type SecretName = (typeof SECRET_NAMES)[number];

export const secretsDir = (stateDir: string) => join(stateDir, 'secrets');
export const secretFile = (stateDir: string, name: SecretName) => join(secretsDir(stateDir), `${name}.password`);

/** 32 random bytes, base64url: no character that needs quoting in JAAS, XML or a shell. */
export function generatePassword(): string {
  return randomBytes(32).toString('base64url');
}

/** Reads each password file, creating the missing ones (folder 0700, files 0600). */
export function ensureSecrets(stateDir: string): Record<SecretName, string> {
  const dir = secretsDir(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const out = {} as Record<SecretName, string>;
  for (const name of SECRET_NAMES) {
    const file = secretFile(stateDir, name);
    if (!existsSync(file)) writeFileSync(file, `${generatePassword()}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    const value = readFileSync(file, 'utf8').trim();
    if (value.length < 16) throw new AuditstreamError('STACK_TLS', `${file} holds a password shorter than 16 characters; delete it to generate a new one`);
    out[name] = value;
  }
  return out;
}
