export { createKafkaClient, type KafkaClientConfig } from './client.js';
