import { AuditstreamError } from '@auditstream/core';
import type { Producer } from 'kafkajs';
import { z } from 'zod';
import type { AlertEncoder } from './alert-codec.js';
import { defineSink, type Sink, sinkQueueFields } from './types.js';

/**
 * The alerts topic: key = alert_id (a compacted topic keeps the latest version of each
 * alert), value = the encoded record, header `auditstream-delivery: fired|updated`.
 * It is also the durable record of what was delivered, read back on start (app.ts).
 */
export function createKafkaSink(options: { producer: Producer; topic: string; encode: AlertEncoder; send_updates: boolean; name?: string }): Sink {
  const name = options.name ?? 'kafka';
  return {
    name,
    sendUpdates: options.send_updates,
    async send(delivery) {
      const value = options.encode(delivery);
      try {
        await options.producer.send({
          topic: options.topic,
          acks: -1,
          messages: [{ key: delivery.alert.alert_id, value, headers: { 'auditstream-delivery': delivery.kind } }],
        });
      } catch (cause) {
        const retriable = (cause as { retriable?: boolean }).retriable !== false;
        throw new AuditstreamError('SINK_KAFKA', `${name}: cannot publish to ${options.topic}`, { retriable, cause });
      }
    },
  };
}

export const kafkaSink = defineSink({
  name: 'kafka',
  config: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Publish alerts to topics.alerts (Avro, key = alert_id). Also the record read back on restart.'),
      send_updates: z.boolean().default(true).describe('Publish updates of an alert (same alert_id, higher version), not only the first firing.'),
      ...sinkQueueFields,
    })
    .prefault({}),
  create: async (c, ctx) =>
    createKafkaSink({ producer: await ctx.producer(), topic: ctx.topics.alerts, encode: ctx.encodeAlert, send_updates: c.send_updates }),
});
