import { z } from 'zod';
import { alertJson } from './http.js';
import { createKafkaSink } from './kafka.js';
import { defineSink, requiredWhenEnabled, sinkQueueFields } from './types.js';

/**
 * Alerts as JSON on a Kafka topic of their own, for consumers that want JSON rather than the
 * Avro records of topics.alerts: key = alert_id, value = {"kind": "fired"|"updated", "alert":
 * {...}} with times as ISO-8601 (the webhook's body), header `auditstream-delivery`. Published
 * with the service's idempotent producer (acks=all); the topic must exist.
 */
export const jsonSink = defineSink({
  name: 'json',
  config: z
    .strictObject({
      enabled: z.boolean().default(false).describe('Publish alerts as JSON to `topic` (key = alert_id), for consumers that do not read Avro.'),
      topic: z.string().min(1).optional().describe('Kafka topic the JSON alerts go to (create it first, like every auditstream topic).'),
      send_updates: z.boolean().default(true).describe('Publish updates of an alert (same alert_id, higher version), not only the first firing.'),
      ...sinkQueueFields,
    })
    .superRefine(requiredWhenEnabled('topic'))
    .prefault({}),
  create: async (c, ctx) =>
    createKafkaSink({
      name: 'json',
      producer: await ctx.producer(),
      topic: c.topic as string,
      encode: ({ kind, alert }) => Buffer.from(JSON.stringify({ kind, alert: alertJson(alert) })),
      send_updates: c.send_updates,
    }),
});
