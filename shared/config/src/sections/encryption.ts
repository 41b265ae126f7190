import { z } from 'zod';
import { positiveInt } from './common.js';

/** Kept in step with ENCRYPTABLE_FIELDS in @auditstream/crypto (config cannot depend on it). */
const ENCRYPTABLE = ['actor.name', 'actor.ip', 'actor.user_agent', 'actor.session_id', 'reason', 'resource.name', 'host'];
const ATTR_RE = /^attributes\.(\*|[A-Za-z0-9_.:-]{1,128})$/;

/**
 * Field-level encryption at rest and erasure by crypto-shredding (docs/field-encryption.md):
 * ingest encrypts the listed fields with AES-256-GCM under a per-subject data key, wrapped by the
 * master key; the API decrypts for credentials with the PII permission; `auditstream erase`
 * destroys a subject's keys.
 */
export const encryptionSection = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        'Encrypt the listed fields in ingest before they are hash-chained and stored; needs master_key_file (or master_key). The API always decrypts or masks stored envelopes, whatever this says.',
      ),
    fields: z
      .array(
        z.string().refine((f) => ENCRYPTABLE.includes(f) || ATTR_RE.test(f), {
          message: `must be one of ${ENCRYPTABLE.join(', ')}, attributes.<key> or attributes.*`,
        }),
      )
      .default(['actor.name', 'actor.ip', 'attributes.email'])
      .describe('Event fields to encrypt (dotted paths; attributes.<key> or attributes.* for every attribute; env: comma-separated).'),
    subject_field: z
      .enum(['actor.id', 'resource.id'])
      .default('actor.id')
      .describe('Field naming the data subject whose key encrypts an event (one key per tenant and subject); erase --subject takes its value.'),
    master_key_file: z
      .string()
      .min(1)
      .optional()
      .describe(
        'File holding the 32-byte master key that wraps data keys (64 hex characters, base64, or 32 raw bytes); `auditstream keys generate --master-key` makes one.',
      ),
    master_key: z.string().min(1).optional().describe('The master key itself, 64 hex characters (secret: prefer master_key_file or the environment).'),
    previous_master_key_files: z
      .array(z.string().min(1))
      .default([])
      .describe('Former master keys, which still unwrap data keys during a rotation until `auditstream keys rewrap` re-wrapped them (env: comma-separated).'),
    key_cache_ttl_ms: positiveInt()
      .default(60_000)
      .describe('How long ingest and the API keep an unwrapped data key (or an erased answer) in memory; an erased key may be used this long after `erase`.'),
    key_cache_max_entries: positiveInt().default(100_000).describe('Data keys cached per process; the oldest is dropped beyond this.'),
    mask: z.string().default('***').describe('What callers without the PII permission see instead of an encrypted value.'),
    erased_marker: z.string().min(1).default('[erased]').describe('What every caller sees instead of a value whose subject was erased.'),
  })
  .prefault({});

export type EncryptionSection = z.infer<typeof encryptionSection>;
