import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AuditstreamError } from '@auditstream/core';

export interface SigningKey {
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** Key id: the first 16 hex characters of SHA-256 over the public key's SPKI DER bytes. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

export function generateSigningKey(): { privatePem: string; publicPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    keyId: keyIdOf(publicKey),
  };
}

/** Loads an Ed25519 private key (PKCS#8 PEM) from a PEM string, e.g. read from a file or env. */
export function loadSigningKey(pem: string, source: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (cause) {
    throw new AuditstreamError('INTEGRITY_KEY_INVALID', `${source} is not a PEM private key`, { cause, field: source });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new AuditstreamError('INTEGRITY_KEY_INVALID', `${source} is not an Ed25519 key`, { field: source });
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}

export function loadSigningKeyFile(path: string): SigningKey {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new AuditstreamError('INTEGRITY_KEY_UNREADABLE', `cannot read signing key file ${path}`, { cause, field: 'signing_key_file' });
  }
  return loadSigningKey(pem, path);
}

/** Public keys by key id: several when keys were rotated. */
export function loadPublicKeys(pems: readonly string[]): Map<string, KeyObject> {
  const out = new Map<string, KeyObject>();
  for (const pem of pems) {
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (cause) {
      throw new AuditstreamError('INTEGRITY_KEY_INVALID', 'a public key is not valid PEM', { cause, field: 'public_key' });
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new AuditstreamError('INTEGRITY_KEY_INVALID', 'a public key is not Ed25519', { field: 'public_key' });
    out.set(keyIdOf(key), key);
  }
  return out;
}

export function signBytes(key: SigningKey, data: Buffer): string {
  return sign(null, data, key.privateKey).toString('base64');
}

export function verifyBytes(publicKey: KeyObject, data: Buffer, signatureB64: string): boolean {
  try {
    return verify(null, data, publicKey, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}

/**
 * Public keys from files and directories (every `*.pem` in a directory; private keys there are
 * skipped, their public half is NOT trusted implicitly). Several keys after rotation: the
 * checkpoint's key_id picks one.
 */
export function loadPublicKeyFiles(paths: readonly string[]): Map<string, KeyObject> {
  const pems: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch (cause) {
      throw new AuditstreamError('INTEGRITY_KEY_UNREADABLE', `cannot read public key ${p}`, { cause, field: 'public_key' });
    }
    const files = isDir
      ? readdirSync(p)
          .filter((f) => f.endsWith('.pem'))
          .sort()
          .map((f) => join(p, f))
      : [p];
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch (cause) {
        throw new AuditstreamError('INTEGRITY_KEY_UNREADABLE', `cannot read public key ${f}`, { cause, field: 'public_key' });
      }
      if (/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(text)) {
        if (isDir) continue;
        throw new AuditstreamError('INTEGRITY_KEY_INVALID', `${f} is a private key: pass the public key`, { field: 'public_key' });
      }
      pems.push(text);
    }
  }
  return loadPublicKeys(pems);
}

/** The key id of a PEM public or private key. */
export function keyIdOfPem(pem: string): string {
  try {
    return keyIdOf(createPublicKey(pem));
  } catch (cause) {
    throw new AuditstreamError('INTEGRITY_KEY_INVALID', 'not a PEM key', { cause, field: 'key' });
  }
}
