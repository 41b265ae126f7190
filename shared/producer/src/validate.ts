// The validator is the contract's (@auditstream/schemas), shared with ingest, alerting and the
// HTTP collector; re-exported here so the SDK's imports and public names stay as they were.
export {
  ACTION_RE,
  createEventNormalizer,
  isIpAddress,
  isUuidV7,
  type NormalizedEvent,
  type PublishInput,
  type ValidationOptions,
} from '@auditstream/schemas';
