import { schemaFingerprint } from '@auditstream/codec';
import { AuditstreamError } from '@auditstream/core';
import { alertSchema } from '@auditstream/schemas';
import avro from 'avsc';
import type { Alert, AlertDelivery } from '../alert.js';

/**
 * Avro encoding of alerts for the alerts topic, as Avro "single object encoding"
 * (0xC3 0x01, the schema's CRC-64-AVRO fingerprint little-endian, then the binary record):
 * self-describing without a registry, fingerprinted with @auditstream/codec's schemaFingerprint.
 * The Kafka sink takes `encode` as a dependency. (@auditstream/codec's createCodec cannot take
 * this schema yet: it always adds the audit-event history as writer schemas.)
 */
/** alert.avsc, the published contract, lives in @auditstream/schemas beside audit_event.avsc. */
export const ALERT_SCHEMA = alertSchema as avro.Schema;
export const alertType = avro.Type.forSchema(ALERT_SCHEMA);
const fingerprint = schemaFingerprint(ALERT_SCHEMA as never);
const MAGIC = Buffer.from([0xc3, 0x01]);

export type AlertEncoder = (delivery: AlertDelivery) => Buffer;
export type AlertDecoder = (buf: Buffer) => AlertDelivery;

export const encodeAlert: AlertEncoder = ({ kind, alert }) => {
  const record = { ...alert, kind, window_start: ms(alert.window_start), window_end: ms(alert.window_end) };
  record.first_event_at = ms(alert.first_event_at);
  record.last_event_at = ms(alert.last_event_at);
  record.fired_at = ms(alert.fired_at);
  record.updated_at = ms(alert.updated_at);
  return Buffer.concat([MAGIC, fingerprint, alertType.toBuffer(record)]);
};

export const decodeAlert: AlertDecoder = (buf) => {
  if (buf.length < 10 || buf[0] !== 0xc3 || buf[1] !== 0x01) throw new AuditstreamError('ALERT_UNDECODABLE', 'alert record is not Avro single-object encoded');
  if (!buf.subarray(2, 10).equals(fingerprint)) throw new AuditstreamError('ALERT_UNDECODABLE', 'alert record has an unknown schema fingerprint');
  const { kind, ...alert } = alertType.fromBuffer(buf.subarray(10)) as Alert & { kind: AlertDelivery['kind'] };
  return { kind, alert: { ...alert, group: { ...alert.group }, details: { ...alert.details } } };
};

function ms(v: number): number {
  return Math.floor(v);
}
