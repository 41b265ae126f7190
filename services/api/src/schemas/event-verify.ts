import { named } from './registry.js';

const hex = { type: 'string', description: 'SHA-256, 64 hex characters ("" when the row has no chain values).' } as const;
const offset = { type: 'string', pattern: '^[0-9]+$', description: 'Kafka offset (decimal string: offsets exceed 2^53).' } as const;

/** GET /v1/events/{event_id}/verify: one event's place in its partition's chain and its proof. */
export const eventVerificationSchema = named('EventVerification', {
  type: 'object',
  required: ['event_id', 'tenant_id', 'status', 'reason', 'checked_at', 'chain', 'link', 'checkpoint', 'span', 'findings'],
  properties: {
    event_id: { type: 'string' },
    tenant_id: { type: 'string' },
    status: {
      type: 'string',
      enum: ['verified', 'tampered', 'unverified_yet', 'unchained'],
      description:
        'verified: its content matches its hash, it links into the chain, and the chain through it matches the covering signed checkpoint; ' +
        'tampered: a check failed (reason says which); unverified_yet: nothing is wrong, but no signed checkpoint covers it yet; ' +
        'unchained: stored without chain values (integrity disabled).',
    },
    reason: { type: ['string', 'null'], description: 'Why it is not verified (null when verified).' },
    checked_at: { type: 'string', format: 'date-time' },
    chain: {
      type: 'object',
      required: ['topic', 'partition', 'offset', 'chain_seq', 'prev_hash', 'hash', 'computed_hash'],
      properties: {
        topic: { type: 'string' },
        partition: { type: 'integer' },
        offset,
        chain_seq: { type: 'string', description: 'Position in the partition chain (1 = first).' },
        prev_hash: hex,
        hash: hex,
        computed_hash: { type: ['string', 'null'], description: 'The entry hash recomputed from the stored row now.' },
      },
    },
    link: {
      type: 'object',
      required: ['content_matches_hash', 'previous', 'next'],
      properties: {
        content_matches_hash: { type: 'boolean' },
        previous: {
          type: ['object', 'null'],
          description: 'The stored entry before it; null when none is stored (chain start, or retention dropped it).',
          required: ['offset', 'hash', 'linked'],
          properties: { offset, hash: hex, linked: { type: 'boolean', description: 'This row\u2019s prev_hash is that entry\u2019s hash.' } },
        },
        next: {
          type: ['object', 'null'],
          description: 'The next stored entry; null when none is stored yet.',
          required: ['offset', 'prev_hash', 'linked'],
          properties: { offset, prev_hash: hex, linked: { type: 'boolean', description: 'Its prev_hash is this row\u2019s hash.' } },
        },
      },
    },
    checkpoint: {
      type: ['object', 'null'],
      description: 'The covering signed checkpoint (the first at or after the event\u2019s offset, signature and checkpoint links valid); null when none yet.',
      required: ['last_offset', 'chain_seq', 'chain_head', 'created_at', 'key_id', 'matches'],
      properties: {
        last_offset: offset,
        chain_seq: { type: 'string' },
        chain_head: hex,
        created_at: { type: 'string', format: 'date-time' },
        key_id: { type: 'string' },
        matches: { type: 'boolean', description: 'The stored chain at last_offset has the signed head.' },
      },
    },
    span: {
      type: 'object',
      description: 'The offsets verified: from the event\u2019s own through the covering checkpoint\u2019s (or the next stored row when none covers it yet).',
      required: ['from_offset', 'to_offset'],
      properties: {
        from_offset: { type: 'string' },
        to_offset: { type: 'string' },
      },
    },
    findings: {
      type: 'array',
      description: 'Errors and warnings found in the span (other rows are named by offset only).',
      items: {
        type: 'object',
        required: ['kind', 'severity', 'detail', 'this_event'],
        properties: {
          kind: { type: 'string' },
          severity: { type: 'string', enum: ['error', 'warning'] },
          offset: { type: 'string' },
          detail: { type: 'string' },
          this_event: { type: 'boolean' },
        },
      },
    },
  },
});
