import type { KeyObject } from 'node:crypto';
import { sha256Hex } from './chain.js';
import { canonicalJson } from './jcs.js';
import { type SigningKey, signBytes, verifyBytes } from './keys.js';

/** What a checkpoint commits to: one partition's chain up to an offset, linked to the previous checkpoint. */
export interface CheckpointPayload {
  topic: string;
  partition: number;
  last_offset: string;
  chain_seq: string;
  chain_head: string;
  /** Unix seconds (the checkpoints table keeps whole seconds). */
  created_at_s: number;
  prev_checkpoint_hash: string;
  key_id: string;
  /**
   * The signed tree head (canonical version 2, docs/integrity.md "Merkle tree"): the number of
   * leaves (= chain_seq: entries 1..chain_seq) and the RFC 9162 root over them, lowercase hex.
   * Both absent in version 1 checkpoints (signed before trees existed, or when the partition's
   * tree could not be built: entries removed by retention).
   */
  tree_size?: string;
  tree_root?: string;
}

export interface Checkpoint extends CheckpointPayload {
  /** Base64 Ed25519 signature over the canonical payload. */
  signature: string;
  /**
   * Not signed: the tree's compact range at tree_size (the hex roots of its perfect subtrees,
   * largest first, concatenated), stored so the checkpointer resumes without reading every leaf.
   * It is only trusted when its root equals the signed tree_root.
   */
  tree_frontier?: string;
}

export const GENESIS_CHECKPOINT_HASH = '0'.repeat(64);

/** Checkpoints with a tree head sign version 2 of the payload; version 1 ones verify as before. */
export function checkpointSigningInput(p: CheckpointPayload): Buffer {
  const tree: Record<string, string | number> = p.tree_root !== undefined ? { v: 2, tree_size: p.tree_size ?? '', tree_root: p.tree_root } : { v: 1 };
  return Buffer.from(
    canonicalJson({
      ...tree,
      topic: p.topic,
      partition: p.partition,
      last_offset: p.last_offset,
      chain_seq: p.chain_seq,
      chain_head: p.chain_head,
      created_at_s: p.created_at_s,
      prev_checkpoint_hash: p.prev_checkpoint_hash,
      key_id: p.key_id,
    }),
    'utf8',
  );
}

export function signCheckpoint(key: SigningKey, payload: Omit<CheckpointPayload, 'key_id'>): Checkpoint {
  const full: CheckpointPayload = { ...payload, key_id: key.keyId };
  return { ...full, signature: signBytes(key, checkpointSigningInput(full)) };
}

/** The signed payload fields of a checkpoint, without the unsigned frontier: what proofs and the topic carry. */
export function signedCheckpoint(c: Checkpoint): Checkpoint {
  const { tree_frontier: _unsigned, ...signed } = c;
  if (signed.tree_root === undefined) {
    delete signed.tree_root;
    delete signed.tree_size;
  }
  return signed;
}

/** The hash the next checkpoint links to: over the signed payload and its signature. */
export function checkpointHash(c: Checkpoint): string {
  return sha256Hex(Buffer.concat([checkpointSigningInput(c), Buffer.from(`.${c.signature}`, 'utf8')]));
}

export type CheckpointCheck = { ok: true } | { ok: false; problem: 'unknown_key' | 'bad_signature' };

export function verifyCheckpoint(c: Checkpoint, publicKeys: ReadonlyMap<string, KeyObject>): CheckpointCheck {
  const key = publicKeys.get(c.key_id);
  if (!key) return { ok: false, problem: 'unknown_key' };
  return verifyBytes(key, checkpointSigningInput(c), c.signature) ? { ok: true } : { ok: false, problem: 'bad_signature' };
}
