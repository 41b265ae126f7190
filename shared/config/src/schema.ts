import { z } from 'zod';
import { alertingSection } from './sections/alerting.js';
import { apiSection } from './sections/api.js';
import { clickhouseSection, kafkaSection, logSection, stackSection, topicsSection } from './sections/common.js';
import { encryptionSection } from './sections/encryption.js';
import { ingestSection } from './sections/ingest.js';
import { integritySection } from './sections/integrity.js';
import { producerSection } from './sections/producer.js';

/**
 * The whole configuration, one section per component. A service parses it once at
 * start (loadConfig), then passes the frozen sections it needs to its factories.
 * Sections for services live beside this file in sections/, one file each.
 */
export const configSchema = z
  .object({
    log: logSection,
    kafka: kafkaSection,
    topics: topicsSection,
    producer: producerSection,
    clickhouse: clickhouseSection,
    stack: stackSection,
    ingest: ingestSection,
    alerting: alertingSection,
    api: apiSection,
    integrity: integritySection,
    encryption: encryptionSection,
  })
  .strict();

export type AuditstreamConfig = z.infer<typeof configSchema>;
