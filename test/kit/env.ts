import { configSchema, loadConfig } from '@auditstream/config';
import { createKafkaClient } from '@auditstream/kafka';

/**
 * The config integration tests run with: the local stack's defaults, overridable by the
 * same AUDITSTREAM_<SECTION>__<KEY> variables the services read.
 */
export function testConfig() {
  return loadConfig(configSchema, {});
}

export function testKafka(component = 'test') {
  return createKafkaClient(testConfig().kafka, { component });
}
