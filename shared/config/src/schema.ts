import { z } from 'zod';
import { clickhouseSection, kafkaSection, logSection, stackSection, topicsSection } from './sections/common.js';

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
    clickhouse: clickhouseSection,
    stack: stackSection,
  })
  .strict();

export type AuditstreamConfig = z.infer<typeof configSchema>;
