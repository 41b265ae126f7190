import type { StoredEvent } from '@auditstream/clickhouse';
import { envelopesOf, type HiddenAs, isEnvelope, type ResolvedKey, revealEventFields, type SubjectKeyStore } from '@auditstream/crypto';
import type { Logger } from '@auditstream/observability';
import type { ApiMaskedField, MaskReason } from '@auditstream/schemas';
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
 * It answers, per event (same order), the paths it did not show in clear and why (ApiEvent.masked),
 * so that clients can tell "withheld from you" from a value that reads like the mask.
 */
export interface FieldRevealer {
  reveal(events: readonly Pick<StoredEvent, 'event'>[], principal: Principal): Promise<ApiMaskedField[][]>;
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

/** The reasons that do not depend on this API's key store (the mask's does). */
const REASON_OF: Partial<Record<HiddenAs, MaskReason>> = { erased: 'erased', invalid: 'unreadable' };

export function canSeePii(principal: Principal): boolean {
  return principal.pii === true && principal.role !== 'service';
}

export function createFieldRevealer(deps: RevealDeps): FieldRevealer {
  return {
    maskValue: (v) => (isEnvelope(v) ? deps.mask : v),
    async reveal(events, principal) {
      const masked: ApiMaskedField[][] = events.map(() => []);
      const ids = new Set<string>();
      let envelopes = 0;
      for (const s of events) {
        for (const [, keyId] of envelopesOf(s.event as never)) {
          envelopes++;
          if (keyId) ids.add(keyId);
        }
      }
      // Envelopes without a key id still go through revealEventFields (the unreadable marker).
      if (envelopes === 0) return masked;
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
      const maskReason: MaskReason = deps.store ? 'no_pii_permission' : 'no_master_key';
      let invalid = 0;
      events.forEach((s, i) => {
        const out = masked[i] as ApiMaskedField[];
        const onHidden = (path: string, as: HiddenAs) => out.push({ path, reason: REASON_OF[as] ?? maskReason });
        invalid += revealEventFields(s.event as never, keys, { clear, mask: deps.mask, erased: deps.erased, invalid: INVALID_MARKER, onHidden });
      });
      if (invalid > 0) deps.logger.warn({ fields: invalid }, 'encrypted fields failed authentication (moved between rows or altered)');
      return masked;
    },
  };
}
