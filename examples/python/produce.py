#!/usr/bin/env python3
"""Publishes audit events to auditstream's Kafka topic with confluent-kafka and fastavro.

The wire contract is docs/producers.md: Avro single-object encoding (C3 01, the schema's
CRC-64-AVRO fingerprint in little-endian byte order, the Avro body), message key
"<tenant_id>:<actor.id>" (UTF-8), and the murmur2 partitioner, so each actor's events share a
partition with the ones the Node SDK publishes. Exits 0 only when Kafka acknowledged every event.
"""

import argparse
import io
import json
import secrets
import sys
import time
from pathlib import Path

import fastavro
from confluent_kafka import KafkaException, Producer
from fastavro.schema import fingerprint, to_parsing_canonical_form

DEFAULT_SCHEMA = Path(__file__).resolve().parent.parent.parent / "shared" / "schemas" / "audit_event.avsc"


def uuid7(now_ms: int) -> str:
    """RFC 9562 UUIDv7: 48-bit Unix ms, version 7, 74 random bits, variant 10 (lowercase, as ingest requires)."""
    value = (now_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= secrets.randbits(12) << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    h = f"{value:032x}"
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def single_object_encoder(schema_path: Path):
    """Returns encode(event) -> bytes in Avro single-object encoding."""
    with open(schema_path, encoding="utf-8") as f:
        parsed = fastavro.parse_schema(json.load(f))
    # fastavro returns the CRC-64-AVRO fingerprint as the hex of its little-endian bytes,
    # which is exactly the byte order single-object encoding puts on the wire.
    header = b"\xc3\x01" + bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))

    def encode(event: dict) -> bytes:
        buf = io.BytesIO()
        buf.write(header)
        fastavro.schemaless_writer(buf, parsed, event)
        return buf.getvalue()

    return encode


def make_event(tenant: str, actor: str, seq: int) -> dict:
    now_ms = time.time_ns() // 1_000_000
    return {
        "event_id": uuid7(now_ms),
        "tenant_id": tenant,
        "occurred_at": time.time_ns() // 1_000,  # timestamp-micros: an integer, UTC
        "actor": {"id": actor, "type": "user", "name": None, "session_id": None, "ip": "203.0.113.7", "user_agent": None},
        "action": "document.read",
        "category": "resource_access",
        "outcome": "success",
        "reason": None,
        "service": "example-python",
        "host": None,
        "region": None,
        "resource": {"type": "document", "id": f"doc-{seq}", "name": None},
        "request_id": None,
        "trace_id": None,
        "severity": "info",
        "attributes": {"example": "python", "seq": str(seq)},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description="Publish audit events to auditstream (Avro single-object encoding).")
    ap.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    ap.add_argument("--topic", default="audit.events")
    ap.add_argument("--tenant", default="demo")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--actors", default="alice,bob,carol", help="comma-separated actor ids, used in turn")
    ap.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA, help="path to audit_event.avsc")
    args = ap.parse_args()
    actors = [a for a in args.actors.split(",") if a]
    if args.count < 1 or not actors:
        ap.error("--count must be at least 1 and --actors must name at least one actor")

    encode = single_object_encoder(args.schema)
    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap_servers,
            # librdkafka's default is consistent_random (CRC32): keys would land on other
            # partitions than the Java client's and the Node SDK's. murmur2_random is the Java
            # client's murmur2 for keyed messages.
            "partitioner": "murmur2_random",
            "enable.idempotence": True,  # acks=all, no duplicates or reordering on retries
            "compression.type": "lz4",  # any Kafka codec works: ingest reads none, gzip, snappy, lz4 and zstd
            "linger.ms": 5,
            "message.timeout.ms": 30_000,
            "client.id": "auditstream-example-python",
        }
    )

    failed: list[str] = []
    acked = 0

    def on_delivery(err, msg):
        nonlocal acked
        if err is not None:
            failed.append(str(err))
        else:
            acked += 1

    for seq in range(args.count):
        actor = actors[seq % len(actors)]
        event = make_event(args.tenant, actor, seq)
        key = f"{args.tenant}:{actor}".encode("utf-8")
        while True:
            try:
                producer.produce(args.topic, value=encode(event), key=key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)  # local queue full: serve delivery reports, then retry
            except KafkaException as e:
                print(f"produce failed: {e}", file=sys.stderr)
                return 1
        producer.poll(0)

    remaining = producer.flush(60)
    if remaining or failed or acked != args.count:
        print(
            f"not every event was acknowledged: {acked} acked, {len(failed)} failed, {remaining} still queued"
            + (f"; first error: {failed[0]}" if failed else ""),
            file=sys.stderr,
        )
        return 1
    print(json.dumps({"published": acked, "topic": args.topic, "tenant": args.tenant}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
