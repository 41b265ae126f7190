import { named } from './registry.js';

const hex64 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
const decimal = { type: 'string', pattern: '^[0-9]+$' } as const;

/** A signed tree head: a version 2 checkpoint (docs/integrity.md "Signed tree heads"). */
export const treeHeadSchema = named('SignedTreeHead', {
  type: 'object',
  required: [
    'topic',
    'partition',
    'last_offset',
    'chain_seq',
    'chain_head',
    'created_at_s',
    'prev_checkpoint_hash',
    'key_id',
    'tree_size',
    'tree_root',
    'signature',
  ],
  description: 'A checkpoint with a Merkle tree head; the Ed25519 signature covers every field but itself (canonical payload version 2).',
  properties: {
    topic: { type: 'string' },
    partition: { type: 'integer', minimum: 0 },
    last_offset: decimal,
    chain_seq: decimal,
    chain_head: hex64,
    created_at_s: { type: 'integer' },
    prev_checkpoint_hash: hex64,
    key_id: { type: 'string' },
    tree_size: { ...decimal, description: 'Leaves: the chain entries 1..tree_size.' },
    tree_root: { ...hex64, description: 'RFC 9162 Merkle tree hash over the leaves.' },
    signature: { type: 'string', description: 'Base64 Ed25519 signature over the canonical payload.' },
  },
});

export const inclusionProofSchema = named('InclusionProof', {
  type: 'object',
  required: ['type', 'event_id', 'topic', 'partition', 'offset', 'chain_seq', 'entry', 'prev_hash', 'entry_hash', 'leaf_index', 'path', 'tree_head'],
  properties: {
    type: { type: 'string', enum: ['inclusion'] },
    event_id: { type: 'string' },
    topic: { type: 'string' },
    partition: { type: 'integer', minimum: 0 },
    offset: decimal,
    chain_seq: decimal,
    entry: {
      type: 'string',
      description:
        'The chain entry: RFC 8785 JSON of the stored row, `v` its entry format (docs/integrity.md "Entry formats"); entry_hash is its hash after prev_hash.',
    },
    prev_hash: hex64,
    entry_hash: { ...hex64, description: 'SHA-256(prev_hash as 32 bytes || UTF-8 entry): the leaf data.' },
    leaf_index: { type: 'integer', minimum: 0, description: 'chain_seq - 1.' },
    path: { type: 'array', items: hex64, description: 'Audit path (RFC 9162 2.1.3), the sibling of the leaf first.' },
    tree_head: treeHeadSchema,
  },
});

export const consistencyProofSchema = named('ConsistencyProof', {
  type: 'object',
  required: ['type', 'topic', 'partition', 'from_size', 'to_size', 'path', 'from_tree_head', 'to_tree_head'],
  properties: {
    type: { type: 'string', enum: ['consistency'] },
    topic: { type: 'string' },
    partition: { type: 'integer', minimum: 0 },
    from_size: decimal,
    to_size: decimal,
    path: { type: 'array', items: hex64, description: 'Consistency proof (RFC 9162 2.1.4).' },
    from_tree_head: treeHeadSchema,
    to_tree_head: treeHeadSchema,
  },
});

export { getEventQuerySchema as proofQuerySchema } from './events.js';

export const consistencyQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['partition', 'from_size'],
  properties: {
    partition: { type: 'integer', minimum: 0, description: 'Kafka partition of the chain.' },
    topic: { type: 'string', minLength: 1, description: 'Events topic of the chain (needed only when several topics have tree heads for the partition).' },
    from_size: { type: 'string', pattern: '^[1-9][0-9]{0,15}$', description: 'Tree size of an earlier signed tree head.' },
    to_size: { type: 'string', pattern: '^[1-9][0-9]{0,15}$', description: 'Tree size of a later signed tree head (default: the latest).' },
  },
} as const;
