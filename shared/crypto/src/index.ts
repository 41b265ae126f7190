export {
  type DataKey,
  dataKey,
  decryptField,
  ENVELOPE_PREFIX,
  encryptField,
  type FieldContext,
  isEnvelope,
  isValidKeyId,
  type ParsedEnvelope,
  parseEnvelope,
} from './envelope.js';
export { blockingHold, type EraseOptions, type EraseResult, eraseSubject } from './erase.js';
export { CRYPTO_ERROR_CODES, type CryptoErrorCode } from './error-codes.js';
export {
  checkFieldPath,
  ENCRYPTABLE_FIELDS,
  encryptEventFields,
  envelopesOf,
  type HiddenAs,
  needsEncryption,
  type RevealOptions,
  revealEventFields,
  SUBJECT_FIELDS,
  subjectOf,
} from './fields.js';
export {
  createLocalKeyWrapper,
  generateMasterKeyHex,
  type KeyWrapper,
  loadMasterKey,
  loadMasterKeys,
  masterKeyId,
  parseMasterKey,
  type WrapContext,
} from './key-wrapper.js';
export { rewrapSubjectKeys } from './rewrap.js';
export {
  createSubjectKeyStore,
  liveKey,
  loadErasures,
  type ResolvedKey,
  type StoredSubjectKey,
  type SubjectKeyStore,
  type SubjectKeyStoreOptions,
  type SubjectRef,
  subjectKey,
} from './store.js';
