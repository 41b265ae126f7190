import { z } from 'zod';
import { positiveInt } from './common.js';

/**
 * Tamper evidence (docs/integrity.md): ingest hash-chains every stored event per Kafka partition
 * and signs checkpoints of the chains with an Ed25519 key; `auditstream verify` checks them with
 * the public keys. The checkpoints topic is `topics.checkpoints`.
 */
export const integritySection = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        'Hash-chain every stored event per Kafka partition and sign checkpoints; off leaves the chain columns empty (verify reports the rows as unchained).',
      ),
    signing_key_file: z
      .string()
      .min(1)
      .optional()
      .describe('PEM file with the Ed25519 private key (PKCS#8) that signs checkpoints, from `auditstream keys generate`; ingest needs it when enabled.'),
    signing_key: z.string().min(1).optional().describe('The signing key PEM itself (secret: prefer signing_key_file or the environment).'),
    checkpoint_every_events: positiveInt()
      .default(10_000)
      .describe('Sign a checkpoint of a partition once this many events were stored since its last checkpoint.'),
    checkpoint_interval_ms: positiveInt()
      .default(60_000)
      .describe(
        'Sign a checkpoint of a partition this long after its last one if events were stored since (whichever of this and checkpoint_every_events comes first); bounds how long new rows go unsigned.',
      ),
    merkle_enabled: z
      .boolean()
      .default(true)
      .describe(
        "Sign a Merkle tree head (RFC 9162 root over the partition's chain entries) with each checkpoint, for inclusion and consistency proofs (GET /v1/events/{id}/proof); off signs version 1 checkpoints without one.",
      ),
    chain_format: z
      .number()
      .int()
      .min(1)
      .max(2)
      .default(2)
      .describe(
        'Entry format of new chain entries: 2 hashes the binary encodings of the fields and the producer sequence columns, 1 the RFC 8785 JSON text of earlier releases. Verify recognises both, in any mix (docs/integrity.md, "Entry formats").',
      ),
    public_key_files: z
      .array(z.string().min(1))
      .default([])
      .describe('Public keys (PEM files, or directories of *.pem) that `auditstream verify` trusts; several after key rotation (env: comma-separated).'),
    verify_margin_ms: positiveInt()
      .default(900_000)
      .describe('verify --from/--to: slack around the range when picking the checkpoints that anchor the verified span (producer clock skew, ingest delay).'),
    verify_allow_offset_gaps: z
      .boolean()
      .default(false)
      .describe('verify: Kafka offsets neither stored nor dead-lettered are warnings, not errors (events topics written by transactional producers).'),
    verify_require_retention_evidence: z
      .boolean()
      .default(false)
      .describe(
        'verify: a chain whose oldest rows are gone (truncated) is an error unless a trusted retention run explains them (docs/integrity.md); off, it is a warning that says whether one does.',
      ),
  })
  .prefault({});

export type IntegritySection = z.infer<typeof integritySection>;
