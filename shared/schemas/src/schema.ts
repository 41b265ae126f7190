import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';

/** A parsed Avro schema (JSON). */
export type AvroSchema = avro.Schema;

/** Folder holding audit_event.avsc, alert.avsc and history/. */
export const SCHEMA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const AUDIT_EVENT_SCHEMA_FILE = join(SCHEMA_DIR, 'audit_event.avsc');
export const HISTORY_DIR = join(SCHEMA_DIR, 'history');
/** The alerts the alerting service publishes to `audit.alerts` (Avro single-object encoded). */
export const ALERT_SCHEMA_FILE = join(SCHEMA_DIR, 'alert.avsc');

/**
 * Options every auditstream avsc Type is built with: optional fields (["null", T]) are
 * plain `T | null` values, and the long `occurred_at` (timestamp-micros) stays a number
 * of microseconds: no logical-type class, so encoding is allocation-free and exact up
 * to year 2255 (2^53 µs).
 */
export function typeOptions(): { wrapUnions: 'auto'; omitRecordMethods: true } {
  // A fresh object each time: avsc stores its name registry on the options it is given.
  return { wrapUnions: 'auto', omitRecordMethods: true };
}

export function readSchemaFile(file: string): AvroSchema {
  return JSON.parse(readFileSync(file, 'utf8')) as AvroSchema;
}

export function typeForSchema(schema: AvroSchema): avro.Type {
  return avro.Type.forSchema(schema, typeOptions());
}

/** The current contract, parsed from audit_event.avsc. */
export const auditEventSchema: AvroSchema = readSchemaFile(AUDIT_EVENT_SCHEMA_FILE);
/** The avsc Type of the current contract: the reader schema everyone decodes into. */
export const auditEventType: avro.Type = typeForSchema(auditEventSchema);
/** The alert contract, parsed from alert.avsc (services/alerting/src/sinks/alert_codec.ts encodes it). */
export const alertSchema: AvroSchema = readSchemaFile(ALERT_SCHEMA_FILE);

export interface HistoricSchema {
  /** Major version from the file name, `audit_event.v<N>.avsc`. */
  version: number;
  file: string;
  schema: AvroSchema;
  type: avro.Type;
}

/** Released versions from history/, oldest first. */
export function loadSchemaHistory(dir: string = HISTORY_DIR): HistoricSchema[] {
  const out: HistoricSchema[] = [];
  for (const name of readdirSync(dir)) {
    const m = /^audit_event\.v(\d+)\.avsc$/.exec(name);
    if (!m) continue;
    const file = join(dir, name);
    const schema = readSchemaFile(file);
    out.push({ version: Number(m[1]), file, schema, type: typeForSchema(schema) });
  }
  return out.sort((a, b) => a.version - b.version);
}

export const schemaHistory: readonly HistoricSchema[] = Object.freeze(loadSchemaHistory());
