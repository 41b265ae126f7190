import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createClickHouse } from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';
import { createLocalKeyWrapper, generateMasterKeyHex, loadMasterKeys, masterKeyId, rewrapSubjectKeys } from '@auditstream/crypto';
import { createLogger } from '@auditstream/observability';
import { type Command, parseOptions } from '../command.js';
import { cliConfig, configOption } from '../config.js';

const help = `Usage: auditstream keys generate [--out-dir <dir>] [--force] [--master-key]
       auditstream keys id <pem file>
       auditstream keys rewrap [--config <file>]

  generate   creates an Ed25519 key pair for signing integrity checkpoints:
             <dir>/private.pem (PKCS#8, mode 0600: give it to ingest as integrity.signing_key_file)
             <dir>/public.pem  (SPKI: give it to auditors for \`auditstream verify --public-key\`)
             and prints the key id checkpoints will carry. Never overwrites a key unless --force.
             With --master-key: instead, a 32-byte field-encryption master key, <dir>/master.key
             (64 hex characters, mode 0600: encryption.master_key_file for ingest and the API),
             and prints its id.
  id         prints the key id of a public or private key file.
  rewrap     master key rotation for field encryption: re-wraps every data key still wrapped by a
             key of encryption.previous_master_key_files with encryption.master_key_file, then
             deletes the old copies (run as auditstream_admin; docs/field-encryption.md).

Rotation: generate a new pair, point ingest at the new private key, and keep every old public key
for verification (checkpoints name their key id; verify takes several --public-key or a directory).

Options:
  --out-dir <dir>   where to write the pair (default: the current directory)
  --force           replace existing private.pem / public.pem (or master.key) in --out-dir
  --master-key      generate the field-encryption master key (docs/field-encryption.md)`;

// Loaded by name at run time: @auditstream/cli does not list @auditstream/integrity as a dependency yet.
const INTEGRITY_MODULE = '@auditstream/integrity';
type IntegrityModule = typeof import('@auditstream/integrity');

export const command: Command = {
  name: 'keys',
  summary: 'create checkpoint signing keys (generate) or show a key id (id)',
  help,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      'out-dir': { type: 'string' },
      force: { type: 'boolean' },
      'master-key': { type: 'boolean' },
      ...configOption,
    });
    const [sub, file] = positionals;
    if (sub === 'generate' && values['master-key']) {
      if (file !== undefined) throw new AuditstreamError('USAGE', `unexpected argument "${file}"`, { field: 'argument' });
      const out = join(values['out-dir'] ?? '.', 'master.key');
      if (existsSync(out) && !values.force)
        throw new AuditstreamError('USAGE', `${out} exists; a master key is never overwritten without --force (data keys wrapped by it would be lost)`, {
          field: 'force',
        });
      const hex = generateMasterKeyHex();
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, `${hex}\n`, { mode: 0o600 });
      chmodSync(out, 0o600);
      console.error(`master key: ${out} (mode 0600; keep it secret and backed up: losing it makes every encrypted field unreadable)`);
      console.log(masterKeyId(Buffer.from(hex, 'hex')));
      return 0;
    }
    const mod = (await import(INTEGRITY_MODULE)) as IntegrityModule;
    if (sub === 'generate') {
      if (file !== undefined) throw new AuditstreamError('USAGE', `unexpected argument "${file}"`, { field: 'argument' });
      const res = mod.generateKeyFiles(values['out-dir'] ?? '.', { force: values.force ?? false });
      console.error(`private key: ${res.privateKeyFile} (mode 0600; keep it secret, give it to ingest only)`);
      console.error(`public key:  ${res.publicKeyFile} (give it to auditors)`);
      console.log(res.keyId);
      return 0;
    }
    if (sub === 'rewrap') {
      if (file !== undefined) throw new AuditstreamError('USAGE', `unexpected argument "${file}"`, { field: 'argument' });
      const cfg = cliConfig(values.config);
      const keys = loadMasterKeys(cfg.encryption);
      if (!keys)
        throw new AuditstreamError('USAGE', 'keys rewrap needs encryption.master_key_file (the new key) and encryption.previous_master_key_files', {
          field: 'encryption.master_key_file',
        });
      const logger = createLogger({ service: 'cli', level: cfg.log.level === 'info' ? 'warn' : cfg.log.level });
      const ch = createClickHouse(cfg.clickhouse, { logger, component: 'keys' });
      try {
        const wrapper = createLocalKeyWrapper({ keys });
        const res = await rewrapSubjectKeys({ ch, wrapper });
        console.log(
          res.rewrapped === 0
            ? `Every data key is wrapped by master key ${wrapper.keyId}; nothing to do.`
            : `Re-wrapped ${res.rewrapped} data key(s) from master key(s) ${res.fromMasterKeys.join(', ')} to ${wrapper.keyId}; the old master keys can be retired.`,
        );
        return 0;
      } finally {
        await ch.close();
      }
    }
    if (sub === 'id') {
      if (file === undefined) throw new AuditstreamError('USAGE', 'keys id needs a PEM file', { field: 'file' });
      let pem: string;
      try {
        pem = readFileSync(file, 'utf8');
      } catch (cause) {
        throw new AuditstreamError('KEYS_UNREADABLE', `cannot read ${file}`, { cause, field: 'file' });
      }
      console.log(mod.keyIdOfPem(pem));
      return 0;
    }
    throw new AuditstreamError('USAGE', sub === undefined ? 'missing subcommand: generate or id' : `unknown subcommand "${sub}"`, { field: 'subcommand' });
  },
};
