export { createKafkaClient, type KafkaClientConfig } from './client.js';
export { registerCompressionCodecs } from './compression.js';
export { KAFKA_ERROR_CODES, type KafkaErrorCode } from './error-codes.js';
export { committedOffsets, offsetsAtTime, topicWatermarks, type Watermarks, withAdmin } from './offsets.js';
export { type OffsetRange, type ReadRangesOptions, rangesToEnd, readRanges } from './range-reader.js';
export { isRetriableKafkaError } from './retriable.js';
export {
  defaultTopicSpecs,
  deleteTopics,
  type EnsureTopicsOptions,
  type EnsureTopicsResult,
  ensureTopics,
  type TopicSpec,
  type TopicsConfig,
} from './topics.js';
