import type { ApiEvent, MaskReason } from '@auditstream/schemas';
import { html } from './router.js';

/** What each reason of ApiEvent.masked means to the reader (the badge's tooltip and hidden text). */
export const MASK_WHY: Record<MaskReason, string> = {
  no_pii_permission: 'hidden from you: encrypted personal data, and your credential lacks the PII permission',
  no_master_key: 'hidden from everyone here: encrypted, and this API has no master key to decrypt it',
  erased: "erased: the subject's key was destroyed, the value can no longer be read",
  unreadable: 'unreadable: the stored ciphertext does not authenticate for this event',
};

const LABEL: Record<MaskReason, string> = { no_pii_permission: 'masked', no_master_key: 'masked', erased: 'erased', unreadable: 'unreadable' };

/** path → reason of the values the API withheld from this event (an older API answers none). */
export function maskedOf(e: ApiEvent): Map<string, MaskReason> {
  return new Map((e.masked ?? []).map((m) => [m.path, m.reason]));
}

/**
 * A withheld value: a badge instead of the mask text, never a link (a filter on the mask would
 * match every masked event). The reason is the tooltip and, for screen readers, hidden text.
 */
export function Masked(props: { reason: MaskReason; path: string }) {
  const why = MASK_WHY[props.reason] ?? props.reason;
  return html`<span class="masked" data-masked=${props.reason} data-path=${props.path} title=${why}>${LABEL[props.reason] ?? 'masked'}<span class="sr-only">: ${why}</span></span>`;
}
