export { CANONICAL_VERSION, CHAIN_FIELDS, type ChainEntryFields, canonicalEntry, entryHash, GENESIS_HASH, sha256Hex } from './chain.js';
export {
  type Checkpoint,
  type CheckpointCheck,
  type CheckpointPayload,
  checkpointHash,
  checkpointSigningInput,
  GENESIS_CHECKPOINT_HASH,
  signCheckpoint,
  verifyCheckpoint,
} from './checkpoint.js';
export { chainFieldsFromStored } from './fields.js';
export { canonicalJson, type JcsValue } from './jcs.js';
export { generateSigningKey, keyIdOf, loadPublicKeys, loadSigningKey, loadSigningKeyFile, type SigningKey, signBytes, verifyBytes } from './keys.js';
export { type Finding, type FindingKind, type PartitionReport, PartitionVerifier, type StoredChainRow } from './verifier.js';
