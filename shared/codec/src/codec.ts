import { AuditstreamError } from '@auditstream/core';
import { type AuditEvent, type AuditEventInput, type AvroSchema, auditEventSchema, auditEventType, schemaHistory, typeForSchema } from '@auditstream/schemas';
import type avro from 'avsc';
import { schemaFingerprint } from './fingerprint.js';
import { asBuffer, CONFLUENT_HEADER_BYTES, CONFLUENT_MAGIC, detectFormat, SINGLE_OBJECT_HEADER_BYTES, type WireFormat } from './frame.js';
import { compileStructureCheck, StructureError } from './guard.js';
import { createRegistryClient, type SchemaRegistryClient } from './registry.js';
import { type CompiledWriter, compileWriter } from './writer.js';

export interface CodecOptions {
  /**
   * Base URL of a Confluent-compatible schema registry (Apicurio: .../apis/ccompat/v7).
   * When set (or `registry` is), encode writes Confluent framing; otherwise single-object.
   */
  registryUrl?: string;
  /** A ready registry client (tests, custom auth); wins over registryUrl. */
  registry?: SchemaRegistryClient;
  registryTimeoutMs?: number;
  /** Extra registry request headers (e.g. authorization). */
  registryHeaders?: Record<string, string>;
  /** Registry subject per topic. Default TopicNameStrategy: `${topic}-value`. */
  subjectFor?: (topic: string) => string;
  /** More writer schemas to accept in single-object payloads, beyond current + history/. */
  writerSchemas?: AvroSchema[];
  /** The reader (and writer) schema. Default: the current contract. */
  schema?: AvroSchema;
}

/** A writer schema the codec can decode, with its resolver into the reader schema. */
interface Writer {
  type: avro.Type;
  /** undefined when the writer is the reader: no resolution needed. */
  resolver: unknown;
  check: (buf: Uint8Array, pos: number) => number;
  label: string;
}

/** Where encodeSliceSync wrote an event. */
export interface EncodedSlice {
  buf: Buffer;
  start: number;
  end: number;
}

export interface AuditCodec {
  /** What encode writes. */
  readonly format: WireFormat;
  /** CRC-64-AVRO fingerprint (8 bytes, little-endian) of the schema encode writes with. */
  readonly fingerprint: Buffer;
  /** Resolves the registry schema id for topic (registers the schema once). No-op for single-object. */
  prepare(topic: string): Promise<void>;
  /** True when encodeSync(event, topic) can run: always for single-object, after prepare(topic) for Confluent. */
  isReady(topic: string): boolean;
  /** Encodes synchronously (hot path). Throws CODEC_NOT_READY for Confluent before prepare(topic). */
  encodeSync(event: AuditEventInput, topic?: string): Buffer;
  /**
   * encodeSync without the Buffer view: the encoding is bytes [out.start, out.end) of out.buf,
   * a slab shared with other encodings (read it, never write to it). `out` is the caller's and
   * may be reused. For callers that hold many encodings before using them (the SDK's buffer):
   * a view costs ~100 bytes of heap each, which the garbage collector copies while they live.
   * Optional in the interface (codecs of another make may lack it); createCodec's has it.
   */
  encodeSliceSync?(event: AuditEventInput, topic: string | undefined, out: EncodedSlice): void;
  encode(event: AuditEventInput, topic: string): Promise<Buffer>;
  /** Decodes either format into the current reader schema (old writers resolved, new fields defaulted). */
  decode(bytes: Uint8Array): Promise<AuditEvent>;
  /** Synchronous decode: single-object, or Confluent ids already seen. Throws CODEC_SCHEMA_NOT_LOADED otherwise. */
  decodeSync(bytes: Uint8Array): AuditEvent;
}

const SLAB_BYTES = 64 * 1024;
const MAX_HEADER_BYTES = SINGLE_OBJECT_HEADER_BYTES;

export function createCodec(options: CodecOptions = {}): AuditCodec {
  const readerSchema = options.schema ?? auditEventSchema;
  const reader = options.schema ? typeForSchema(options.schema) : auditEventType;
  const fingerprint = schemaFingerprint(readerSchema);
  const registry = options.registry ?? (options.registryUrl ? createRegistryClient(registryOptions(options)) : undefined);
  const format: WireFormat = registry ? 'confluent' : 'single-object';
  const subjectFor = options.subjectFor ?? ((topic: string) => `${topic}-value`);
  const self: Writer = { type: reader, resolver: undefined, check: compileStructureCheck(reader), label: 'the current schema' };

  // Single-object writers, looked up by a linear scan over a handful of 8-byte keys (no allocation).
  const fingerprints: Buffer[] = [fingerprint];
  const writers: Writer[] = [self];
  const candidates: Array<{ schema: AvroSchema; label: string }> = [
    ...schemaHistory.map((h) => ({ schema: h.schema, label: `history v${h.version}` })),
    ...(options.writerSchemas ?? []).map((schema, i) => ({ schema, label: `writerSchemas[${i}]` })),
  ];
  for (const c of candidates) {
    const fp = schemaFingerprint(c.schema);
    if (fingerprints.some((f) => f.equals(fp))) continue;
    fingerprints.push(fp);
    writers.push(writerFor(c.schema, c.label));
  }

  // Confluent: topic → id (encode) and id → writer (decode).
  const idByTopic = new Map<string, number>();
  const preparing = new Map<string, Promise<void>>();
  const byId = new Map<number, Writer>();
  const loadingId = new Map<number, Promise<Writer>>();

  function writerFor(schema: AvroSchema, label: string): Writer {
    const type = typeForSchema(schema);
    let resolver: unknown;
    try {
      resolver = reader.createResolver(type);
    } catch (cause) {
      throw new AuditstreamError('CODEC_INCOMPATIBLE_SCHEMA', `writer schema (${label}) cannot be resolved to the reader schema: ${(cause as Error).message}`, {
        cause,
      });
    }
    return { type, resolver, check: compileStructureCheck(type), label };
  }

  // Encoding writes straight into a slab and returns a view of it: no copy, no allocation
  // beyond the view. A slab is released once none of its views is referenced any more (like
  // Node's own 8 KiB Buffer pool, but larger). The compiled writer is used when the schema
  // allows (it does for the contract), else avsc.
  const write: CompiledWriter = compileWriter(reader) ?? ((value, buf, pos) => reader.encode(value, buf, pos));
  let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  let slabPos = 0;

  const scratchSlice: EncodedSlice = { buf: slab, start: 0, end: 0 };

  function encodeWith(event: AuditEventInput, header: (buf: Buffer, at: number) => number): Buffer {
    encodeSliceWith(event, header, scratchSlice);
    return scratchSlice.buf.subarray(scratchSlice.start, scratchSlice.end);
  }

  function encodeSliceWith(event: AuditEventInput, header: (buf: Buffer, at: number) => number, out: EncodedSlice): void {
    for (let size = SLAB_BYTES; ; ) {
      const start = slabPos;
      let end: number;
      try {
        end = slab.length - start >= MAX_HEADER_BYTES ? write(event, slab, header(slab, start)) : -1;
      } catch (cause) {
        throw invalidEvent(reader, event, cause);
      }
      if (end < 0) {
        // Not enough room: a fresh slab, doubling for events larger than a slab.
        if (start === 0) size = slab.length * 2;
        slab = Buffer.allocUnsafeSlow(size);
        slabPos = 0;
        continue;
      }
      slabPos = end;
      out.buf = slab;
      out.start = start;
      out.end = end;
      return;
    }
  }

  function writeSingleObjectHeader(buf: Buffer, at: number): number {
    buf[at] = 0xc3;
    buf[at + 1] = 0x01;
    // Byte by byte: Buffer#copy allocates a view of the source on every call.
    for (let i = 0; i < 8; i++) buf[at + 2 + i] = fingerprint[i] as number;
    return at + SINGLE_OBJECT_HEADER_BYTES;
  }

  function encodeSync(event: AuditEventInput, topic?: string): Buffer {
    if (format === 'single-object') return encodeWith(event, writeSingleObjectHeader);
    return encodeWith(event, confluentHeader(topic));
  }

  function encodeSliceSync(event: AuditEventInput, topic: string | undefined, out: EncodedSlice): void {
    encodeSliceWith(event, format === 'single-object' ? writeSingleObjectHeader : confluentHeader(topic), out);
  }

  function confluentHeader(topic: string | undefined): (buf: Buffer, at: number) => number {
    const id = topic === undefined ? undefined : idByTopic.get(topic);
    if (id === undefined) {
      throw new AuditstreamError('CODEC_NOT_READY', `no registry schema id for topic ${topic ?? '(none)'} yet: await codec.prepare(topic) or use encode()`);
    }
    return (buf, at) => {
      buf[at] = CONFLUENT_MAGIC;
      buf.writeUInt32BE(id, at + 1);
      return at + CONFLUENT_HEADER_BYTES;
    };
  }

  function prepare(topic: string): Promise<void> {
    if (!registry || idByTopic.has(topic)) return Promise.resolve();
    let p = preparing.get(topic);
    if (!p) {
      p = registry.register(subjectFor(topic), readerSchema).then((id) => {
        idByTopic.set(topic, id);
        if (!byId.has(id)) byId.set(id, self);
      });
      preparing.set(topic, p);
      p.then(
        () => preparing.delete(topic),
        () => preparing.delete(topic),
      );
    }
    return p;
  }

  function readBody(buf: Buffer, offset: number, w: Writer): AuditEvent {
    let end: number;
    try {
      end = w.check(buf, offset);
    } catch (err) {
      if (err instanceof StructureError) {
        const code = err.kind === 'truncated' ? 'CODEC_TRUNCATED' : 'CODEC_CORRUPT';
        throw new AuditstreamError(code, `Avro body (writer: ${w.label}) is ${err.kind}: ${err.message}`, { cause: err, field: err.field });
      }
      throw new AuditstreamError('CODEC_CORRUPT', `Avro body (writer: ${w.label}) could not be read`, { cause: err });
    }
    if (end !== buf.length) {
      throw new AuditstreamError('CODEC_CORRUPT', `Avro body (writer: ${w.label}) is followed by ${buf.length - end} unexpected trailing bytes`);
    }
    try {
      const res = reader.decode(buf, offset, w.resolver as never);
      if (res.offset !== buf.length) throw new Error('length mismatch after decoding');
      return res.value as AuditEvent;
    } catch (cause) {
      throw new AuditstreamError('CODEC_CORRUPT', `Avro body (writer: ${w.label}) could not be decoded`, { cause });
    }
  }

  function singleObjectWriter(buf: Buffer): Writer {
    for (let i = 0; i < fingerprints.length; i++) {
      if (buf.compare(fingerprints[i] as Buffer, 0, 8, 2, 10) === 0) return writers[i] as Writer;
    }
    const fp = buf.subarray(2, 10).toString('hex');
    throw new AuditstreamError(
      'CODEC_UNKNOWN_FINGERPRINT',
      `single-object payload names writer schema fingerprint ${fp} (CRC-64-AVRO, little-endian), which is neither the current schema nor one in history/`,
      { details: { fingerprint: fp } },
    );
  }

  function decodeSync(bytes: Uint8Array): AuditEvent {
    const buf = asBuffer(bytes);
    if (detectFormat(buf) === 'single-object') return readBody(buf, SINGLE_OBJECT_HEADER_BYTES, singleObjectWriter(buf));
    const id = buf.readUInt32BE(1);
    const w = byId.get(id);
    if (!w) {
      if (!registry) throw unknownId(id, 'no schema registry is configured');
      throw new AuditstreamError('CODEC_SCHEMA_NOT_LOADED', `schema id ${id} is not loaded yet: use decode() to fetch it from the registry`);
    }
    return readBody(buf, CONFLUENT_HEADER_BYTES, w);
  }

  function loadId(id: number): Promise<Writer> {
    let p = loadingId.get(id);
    if (!p) {
      if (!registry) return Promise.reject(unknownId(id, 'no schema registry is configured'));
      p = registry.getSchema(id).then((schema) => {
        const fp = schemaFingerprint(schema);
        const w = fp.equals(fingerprint) ? self : writerFor(schema, `registry id ${id}`);
        byId.set(id, w);
        return w;
      });
      loadingId.set(id, p);
      p.then(
        () => loadingId.delete(id),
        () => loadingId.delete(id),
      );
    }
    return p;
  }

  return {
    format,
    fingerprint,
    prepare,
    isReady: (topic) => format === 'single-object' || idByTopic.has(topic),
    encodeSync,
    encodeSliceSync,
    async encode(event, topic) {
      await prepare(topic);
      return encodeSync(event, topic);
    },
    decodeSync,
    async decode(bytes) {
      const buf = asBuffer(bytes);
      if (detectFormat(buf) === 'single-object') return readBody(buf, SINGLE_OBJECT_HEADER_BYTES, singleObjectWriter(buf));
      const id = buf.readUInt32BE(1);
      const w = byId.get(id) ?? (await loadId(id));
      return readBody(buf, CONFLUENT_HEADER_BYTES, w);
    },
  };
}

function registryOptions(o: CodecOptions) {
  return {
    url: o.registryUrl as string,
    ...(o.registryTimeoutMs === undefined ? {} : { timeoutMs: o.registryTimeoutMs }),
    ...(o.registryHeaders ? { headers: o.registryHeaders } : {}),
  };
}

function unknownId(id: number, why: string): AuditstreamError {
  return new AuditstreamError('CODEC_UNKNOWN_SCHEMA_ID', `Confluent-framed payload names schema id ${id}, which is unknown: ${why}`, {
    details: { schema_id: id },
  });
}

/** Turns avsc's encode error (which quotes the value) into one naming only the field path. */
function invalidEvent(type: avro.Type, event: unknown, cause: unknown): AuditstreamError {
  let field: string | undefined;
  try {
    type.isValid(event, {
      errorHook: (path: string[]) => {
        field ??= path.join('.') || undefined;
      },
    });
  } catch {
    // isValid itself may throw on very odd input; the generic message stands
  }
  return new AuditstreamError(
    'CODEC_INVALID_EVENT',
    field ? `event field ${field} does not match the AuditEvent schema` : 'event does not match the AuditEvent schema',
    {
      field,
      cause: cause instanceof Error ? new Error('avsc rejected the value') : undefined,
    },
  );
}
