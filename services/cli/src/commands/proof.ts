import { readFileSync } from 'node:fs';
import { AuditstreamError } from '@auditstream/core';
import { loadPublicKeyFiles, type ProofDocument, verifyProofDocument } from '@auditstream/integrity';
import { type Command, parseOptions } from '../command.js';

const help = `Usage: auditstream proof verify --public-key <file|dir>… <proof.json | ->

Checks a Merkle proof offline, with nothing but the public key(s): an inclusion proof
(GET /v1/events/{id}/proof: the event's entry hashes to its leaf, the audit path leads to the
root of a signed tree head) or a consistency proof (GET /v1/integrity/consistency: the later
signed tree extends the earlier one). Formats: docs/integrity.md "Proofs".

Options:
  --public-key <path>   trusted Ed25519 public key (PEM), or a directory of *.pem (repeat after rotation)
  --json                print {"ok":…,"detail":…} on stdout

Exit status: 0 the proof holds, 1 it does not, 2 usage.`;

export const command: Command = {
  name: 'proof',
  summary: 'check an inclusion or consistency proof offline (verify)',
  help,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, { 'public-key': { type: 'string', multiple: true }, json: { type: 'boolean' } });
    const [sub, file, extra] = positionals;
    if (sub !== 'verify') throw new AuditstreamError('USAGE', 'the subcommand must be verify', { field: 'subcommand' });
    if (file === undefined || extra !== undefined) throw new AuditstreamError('USAGE', 'give exactly one proof file (or - for stdin)', { field: 'argument' });
    const keyFiles = values['public-key'] ?? [];
    if (keyFiles.length === 0) throw new AuditstreamError('USAGE', '--public-key is required', { field: 'public-key' });
    let doc: ProofDocument;
    try {
      doc = JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8')) as ProofDocument;
    } catch (cause) {
      throw new AuditstreamError('USAGE', `${file} is not a readable JSON proof`, { field: 'argument', cause });
    }
    const result = verifyProofDocument(doc, loadPublicKeyFiles(keyFiles));
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else process.stdout.write(`${result.ok ? 'OK' : 'FAILED'}: ${result.detail}\n`);
    return result.ok ? 0 : 1;
  },
};
