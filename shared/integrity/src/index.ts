export {
  CANONICAL_VERSION,
  CHAIN_FIELDS,
  type ChainContent,
  type ChainEntryFields,
  canonicalEntry,
  canonicalEntryText,
  entryHash,
  GENESIS_HASH,
  sha256Hex,
} from './chain.js';
export { type ChainedInsertDeps, createChainedInsert } from './chained-insert.js';
export { type Chainer, type ChainerDeps, type ChainHead, type ChainLink, createChainer, type LinkStatus } from './chainer.js';
export {
  type Checkpoint,
  type CheckpointCheck,
  type CheckpointPayload,
  checkpointHash,
  checkpointSigningInput,
  GENESIS_CHECKPOINT_HASH,
  signCheckpoint,
  signedCheckpoint,
  verifyCheckpoint,
} from './checkpoint.js';
export {
  type Checkpointer,
  type CheckpointerDeps,
  type CheckpointPublisher,
  checkpointMessageKey,
  checkpointMessageValue,
  createCheckpointer,
  type InsertedEntry,
  type InsertedHead,
  kafkaCheckpointPublisher,
  parseCheckpointMessage,
} from './checkpointer.js';
export { formatReport, generateKeyFiles, type KeysGenerateResult, runVerifyCommand, VERIFY_EXIT, type VerifyCommandInput } from './cli.js';
export { type IntegrityConfig, signingKeyFromConfig } from './config.js';
export { type ConflictSource, conflictFindings, type EventIdConflict, findEventIdConflicts } from './conflicts.js';
export { type DlqDecision, rawSha256, recordDlqDecisions } from './dlq.js';
export { type ChainFormat, entryJson, entryJsonHash, type StoredEntryHash, storedEntryHash } from './entry.js';
export { INTEGRITY_ERROR_CODES, type IntegrityErrorCode } from './error-codes.js';
export { chainContentFromRow, chainContentFromStored } from './fields.js';
export { canonicalJson, type JcsValue } from './jcs.js';
export { readCheckpointsTopic, readCommittedOffsets, readHighWatermarks, type TopicCheckpoints } from './kafka.js';
export {
  generateSigningKey,
  keyIdOf,
  keyIdOfPem,
  loadPublicKeyFiles,
  loadPublicKeys,
  loadSigningKey,
  loadSigningKeyFile,
  type SigningKey,
  signBytes,
  verifyBytes,
} from './keys.js';
export {
  ExportDigest,
  type ExportManifest,
  type ExportManifestPayload,
  MANIFEST_TYPE,
  MANIFEST_VERSION,
  type ManifestCoverage,
  type ManifestDigest,
  type ManifestSignatureCheck,
  manifestSigningInput,
  RecordSplitter,
  signManifest,
  verifyManifestSignature,
} from './manifest.js';
export {
  EXPORT_VERIFY_EXIT,
  type ExportCheck,
  type ExportProblem,
  exportCheckExit,
  formatExportCheck,
  parseManifest,
  verifyExportFile,
} from './manifest-verify.js';
export {
  consistencyProof,
  EMPTY_ROOT,
  inclusionProof,
  leafHash,
  MerkleFrontier,
  nodeHash,
  subtreeRoot,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';
export { type IntegrityMetrics, integrityMetrics } from './metrics.js';
export {
  type ChainAnchor,
  type CheckpointCheckResult,
  checkCheckpoints,
  type EntryFormatCounts,
  type Finding,
  type FindingKind,
  type PartitionReport,
  PartitionVerifier,
  type PartitionVerifierOptions,
  type Severity,
  type StoredChainRow,
} from './partition-verifier.js';
export {
  buildConsistencyProof,
  buildInclusionProof,
  type ConsistencyProof,
  type InclusionProof,
  type ProofCheck,
  type ProofDocument,
  readTreeHeads,
  type TreeHead,
  verifyProofDocument,
} from './proofs.js';
export { type ChainStore, type CheckpointStore, clickhouseIntegrityStore, type StoredLink, storedChainRow } from './store.js';
export { readLeafEntries } from './tree-store.js';
export { type EventVerification, type EventVerificationStatus, verifyEvent } from './verify-event.js';
export { sortFindings, type VerifiedPartition, type VerifyProgress, type VerifyReport, type VerifyStoreOptions, verifyStore } from './verify-store.js';
