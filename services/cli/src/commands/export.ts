import { createReadStream, readFileSync } from 'node:fs';
import { AuditstreamError } from '@auditstream/core';
import { type Command, parseOptions } from '../command.js';
import { cliConfig, configOption } from '../config.js';

const help = `Usage: auditstream export verify <file> <manifest> [--public-key <file|dir>]… [--checkpoint-key <file|dir>]…
                                [--json] [--config <file>]

  verify   checks an export file (the body of GET /v1/export, NDJSON or CSV, as downloaded) against
           its signed manifest (GET /v1/export/manifest?export_id=…, the X-Manifest-Url of the export):
           the manifest's Ed25519 signature with a trusted API public key, then the file's rows: their
           number and the SHA-256 over the bytes in order. Names what differs: rows omitted, rows added,
           rows reordered, rows altered, the CSV header altered; or a manifest signed by another key
           (or altered after signing). Format: docs/integrity.md#export-manifests.

Options:
  --public-key <path>      trusted public key of the API's manifest key (PEM), or a directory of *.pem;
                           repeat after key rotation (default api.export_manifest_public_key_files)
  --checkpoint-key <path>  also check the signatures of the checkpoints the manifest carries with these
                           checkpoint public keys (those of \`auditstream verify\`)
  --json                   print the machine-readable result on stdout
  --config <file>          config file (or AUDITSTREAM_CONFIG)

Exit status: 0 the file is exactly the export, 1 it is not (omitted, added, reordered or altered rows, or a
checkpoint in the manifest not signed by a trusted key), 2 usage, 3 could not verify (unreadable file,
not a manifest), 4 the manifest is not signed by a trusted key or was altered.`;

// Loaded by name at run time, like verify and keys (see there).
const INTEGRITY_MODULE = '@auditstream/integrity';
type IntegrityModule = typeof import('@auditstream/integrity');

export const command: Command = {
  name: 'export',
  summary: 'verify an export file against its signed manifest (export verify)',
  help,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      ...configOption,
      'public-key': { type: 'string', multiple: true },
      'checkpoint-key': { type: 'string', multiple: true },
      json: { type: 'boolean' },
    });
    const [sub, file, manifestFile, ...rest] = positionals;
    if (sub !== 'verify')
      throw new AuditstreamError('USAGE', sub ? `unknown subcommand "${sub}"` : 'a subcommand is required (verify)', { field: 'subcommand' });
    if (!file || !manifestFile) throw new AuditstreamError('USAGE', 'export verify needs <file> and <manifest>', { field: 'argument' });
    if (rest.length > 0) throw new AuditstreamError('USAGE', `unexpected argument "${rest[0]}"`, { field: 'argument' });
    const integrity = (await import(INTEGRITY_MODULE)) as IntegrityModule;
    const { EXPORT_VERIFY_EXIT: EXIT } = integrity;
    const keyPaths = values['public-key'] ?? [...cliConfig(values.config).api.export_manifest_public_key_files];
    if (keyPaths.length === 0)
      throw new AuditstreamError('USAGE', 'no public key: pass --public-key <file|dir> (or set api.export_manifest_public_key_files)', { field: 'public-key' });

    let manifest: ReturnType<IntegrityModule['parseManifest']>;
    let check: Awaited<ReturnType<IntegrityModule['verifyExportFile']>>;
    try {
      const manifestKeys = integrity.loadPublicKeyFiles(keyPaths);
      if (manifestKeys.size === 0) throw new AuditstreamError('USAGE', 'no public key found in the given --public-key paths', { field: 'public-key' });
      const checkpointKeys = values['checkpoint-key'] ? integrity.loadPublicKeyFiles(values['checkpoint-key']) : undefined;
      manifest = integrity.parseManifest(readFileSync(manifestFile, 'utf8'));
      check = await integrity.verifyExportFile({ file: createReadStream(file), manifest, manifestKeys, checkpointKeys });
    } catch (err) {
      if ((err as { code?: string }).code === 'USAGE') throw err;
      const what = (err as { code?: string }).code === 'ENOENT' ? `cannot read ${(err as { path?: string }).path ?? 'a file'}` : (err as Error).message;
      process.stderr.write(`auditstream export verify: could not verify: ${what}\n`);
      return EXIT.unverifiable;
    }
    if (values.json) process.stdout.write(`${JSON.stringify({ export_file: file, export_id: manifest.export_id, ...check }, null, 2)}\n`);
    else process.stdout.write(`${integrity.formatExportCheck(check, manifest, file)}\n`);
    return integrity.exportCheckExit(check);
  },
};
