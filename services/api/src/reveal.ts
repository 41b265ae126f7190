import type { StoredEvent } from '@auditstream/clickhouse';
import { envelopesOf, isEnvelope, type ResolvedKey, revealEventFields, type SubjectKeyStore } from '@auditstream/crypto';
import type { Logger } from '@auditstream/observability';
import { ProblemError } from './problem.js';
import type { Principal } from './scope.js';

/**
 * Personal fields on the way out (docs/field-encryption.md). Every read path (search, single
 * event, export) passes the stored events through reveal() before presenting them:
 * - an encrypted value whose subject key was destroyed → the erased marker, for everyone;
 * - otherwise, for a principal with the PII permission → the clear value;
 * - otherwise → the mask.
 * Raw envelopes never leave the API. Without a subject key store (no master key configured),
 * every encrypted value is masked, for everyone.
 */
export interface FieldRevealer {
  reveal(events: readonly Pick<StoredEvent, 'event'>[], principal: Principal): Promise<void>;
  /** A stats value that may be an envelope (top source IPs): the mask, never the ciphertext. */
  maskValue(value: string): string;
}

export interface RevealDeps {
  store?: SubjectKeyStore | undefined;
  mask: string;
  erased: string;
  logger: Logger;
}

export const INVALID_MARKER = '[unreadable]';

export function canSeePii(principal: Principal): boolean {
  return principal.pii === true && principal.role !== 'service';
}

export function createFieldRevealer(deps: RevealDeps): FieldRevealer {
  return {
    maskValue: (v) => (isEnvelope(v) ? deps.mask : v),
    async reveal(events, principal) {
      const ids = new Set<string>();
      for (const s of events) for (const [, keyId] of envelopesOf(s.event as never)) if (keyId) ids.add(keyId);
      if (ids.size === 0) return;
      let keys: Map<string, ResolvedKey>;
      if (deps.store) {
        try {
          keys = await deps.store.resolve([...ids]);
        } catch (err) {
          // Fail closed without a 500 that leaks details: the store is unavailable, retry later.
          deps.logger.warn({ err_code: (err as { code?: string }).code ?? 'unknown' }, 'resolving subject keys failed');
          throw new ProblemError('unavailable', 'the subject keys needed to present personal fields could not be read; retry later', { cause: err });
        }
      } else {
        // No master key here: nothing can be decrypted; mask everything (erasure cannot be told apart).
        keys = new Map();
        for (const id of ids) keys.set(id, { status: 'live', key: undefined as never, tenant: '', subject: '' });
      }
      const clear = deps.store !== undefined && canSeePii(principal);
      let invalid = 0;
      for (const s of events) invalid += revealEventFields(s.event as never, keys, { clear, mask: deps.mask, erased: deps.erased, invalid: INVALID_MARKER });
      if (invalid > 0) deps.logger.warn({ fields: invalid }, 'encrypted fields failed authentication (moved between rows or altered)');
    },
  };
}
