import { AuditstreamError } from '@auditstream/core';
import { loadSigningKey, loadSigningKeyFile, type SigningKey } from './keys.js';

/** The `integrity` config section (shared/config/src/sections/integrity.ts), as this module reads it. */
export interface IntegrityConfig {
  readonly enabled: boolean;
  readonly signing_key_file?: string | undefined;
  readonly signing_key?: string | undefined;
  readonly checkpoint_every_events: number;
  readonly checkpoint_interval_ms: number;
  readonly merkle_enabled?: boolean;
  readonly public_key_files: readonly string[];
  readonly verify_margin_ms: number;
  readonly verify_allow_offset_gaps: boolean;
  readonly verify_require_retention_evidence?: boolean;
}

/**
 * The signing key ingest signs checkpoints with: `signing_key_file`, else `signing_key` (e.g. from
 * AUDITSTREAM_INTEGRITY__SIGNING_KEY). Throws INTEGRITY_KEY_MISSING naming the keys when neither
 * is set: ingest must not store events it cannot cover with signed checkpoints unless
 * integrity.enabled is false.
 */
export function signingKeyFromConfig(cfg: Pick<IntegrityConfig, 'signing_key_file' | 'signing_key'>): SigningKey {
  if (cfg.signing_key_file) return loadSigningKeyFile(cfg.signing_key_file);
  if (cfg.signing_key) return loadSigningKey(cfg.signing_key, 'integrity.signing_key');
  throw new AuditstreamError(
    'INTEGRITY_KEY_MISSING',
    'integrity.signing_key_file (or integrity.signing_key) is not set: create a key with `auditstream keys generate`, or set integrity.enabled=false',
    { field: 'integrity.signing_key_file' },
  );
}
