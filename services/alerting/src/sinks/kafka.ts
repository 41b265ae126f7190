import { AuditstreamError } from '@auditstream/core';
import type { Producer } from 'kafkajs';
import type { AlertEncoder } from './alert-codec.js';
import type { Sink } from './types.js';

/**
 * The alerts topic: key = alert_id (a compacted topic keeps the latest version of each
 * alert), value = the encoded record, header `auditstream-delivery: fired|updated`.
 * It is also the durable record of what was delivered, read back on start (app.ts).
 */
export function createKafkaSink(options: { producer: Producer; topic: string; encode: AlertEncoder; send_updates: boolean }): Sink {
  return {
    name: 'kafka',
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
        throw new AuditstreamError('SINK_KAFKA', `kafka: cannot publish to ${options.topic}`, { retriable, cause });
      }
    },
  };
}
