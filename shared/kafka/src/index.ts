export { createKafkaClient, type KafkaClientConfig } from './client.js';
export { registerCompressionCodecs } from './compression.js';
export { defaultTopicSpecs, type EnsureTopicsOptions, type EnsureTopicsResult, ensureTopics, type TopicSpec, type TopicsConfig } from './topics.js';
