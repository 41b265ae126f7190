package io.auditstream.examples;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Publishes audit events to auditstream's Kafka topic with kafka-clients and Avro's own
 * single-object encoder ({@link BinaryMessageEncoder}: C3 01, the schema's CRC-64-AVRO
 * fingerprint in little-endian byte order, the Avro body). The wire contract is
 * docs/producers.md. The key is "tenant_id:actor.id" (UTF-8), partitioned by the client's
 * built-in murmur2 partitioner, as the Node SDK's. Exits 0 only when Kafka acknowledged every
 * event.
 */
public final class Produce {
  private static final SecureRandom RANDOM = new SecureRandom();

  public static void main(String[] argv) throws Exception {
    System.exit(run(argv));
  }

  static int run(String[] argv) throws Exception {
    Map<String, String> args = new HashMap<>(Map.of(
        "bootstrap-servers", "127.0.0.1:9092",
        "topic", "audit.events",
        "tenant", "demo",
        "count", "1000",
        "actors", "alice,bob,carol"));
    for (int i = 0; i < argv.length; i += 2) {
      String name = argv[i].replaceFirst("^--?", "");
      if (i + 1 >= argv.length || !(args.containsKey(name) || name.equals("schema"))) {
        System.err.println("usage: Produce [--bootstrap-servers H:P] [--topic T] [--tenant T] [--count N] [--actors a,b] [--schema audit_event.avsc]");
        return 2;
      }
      args.put(name, argv[i + 1]);
    }
    int count = Integer.parseInt(args.get("count"));
    List<String> actors = new ArrayList<>();
    for (String a : args.get("actors").split(",")) if (!a.isEmpty()) actors.add(a);
    if (count < 1 || actors.isEmpty()) {
      System.err.println("--count must be at least 1 and --actors must name at least one actor");
      return 2;
    }
    String topic = args.get("topic");
    String tenant = args.get("tenant");

    Schema schema = loadSchema(args.get("schema"));
    Schema actorSchema = schema.getField("actor").schema();
    Schema resourceSchema = schema.getField("resource").schema().getTypes().get(1);
    BinaryMessageEncoder<GenericRecord> encoder = new BinaryMessageEncoder<>(GenericData.get(), schema);

    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args.get("bootstrap-servers"));
    props.put(ProducerConfig.CLIENT_ID_CONFIG, "auditstream-example-java");
    // Idempotent with acks=all (the defaults since Kafka 3.0, set here to be explicit): no
    // duplicates and no reordering when a batch is retried. Keyed records are partitioned by
    // murmur2 of the key bytes, the client's built-in default.
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "zstd"); // any Kafka codec works: ingest reads them all
    props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "60000"); // at least linger.ms + request.timeout.ms (30 s)

    AtomicInteger acked = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    AtomicReference<Exception> firstError = new AtomicReference<>();
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer())) {
      for (int seq = 0; seq < count; seq++) {
        String actorId = actors.get(seq % actors.size());
        GenericRecord actor = new GenericData.Record(actorSchema);
        actor.put("id", actorId);
        actor.put("type", new GenericData.EnumSymbol(actorSchema.getField("type").schema(), "user"));
        actor.put("ip", "203.0.113.7");
        GenericRecord resource = new GenericData.Record(resourceSchema);
        resource.put("type", "document");
        resource.put("id", "doc-" + seq);
        GenericRecord event = new GenericData.Record(schema);
        event.put("event_id", uuidV7());
        event.put("tenant_id", tenant);
        event.put("occurred_at", currentMicros()); // timestamp-micros: microseconds since the epoch, UTC
        event.put("actor", actor);
        event.put("action", "document.read");
        event.put("category", new GenericData.EnumSymbol(schema.getField("category").schema(), "resource_access"));
        event.put("outcome", new GenericData.EnumSymbol(schema.getField("outcome").schema(), "success"));
        event.put("service", "example-java");
        event.put("resource", resource);
        event.put("severity", new GenericData.EnumSymbol(schema.getField("severity").schema(), "info"));
        event.put("attributes", Map.of("example", "java", "seq", Integer.toString(seq)));
        // Fields left unset are the optional ones: their union's null branch.
        ByteBuffer encoded = encoder.encode(event);
        byte[] value = new byte[encoded.remaining()];
        encoded.get(value);
        producer.send(new ProducerRecord<>(topic, tenant + ":" + actorId, value), (metadata, err) -> {
          if (err != null) {
            failed.incrementAndGet();
            firstError.compareAndSet(null, err);
          } else {
            acked.incrementAndGet();
          }
        });
      }
      producer.flush();
    }
    if (failed.get() > 0 || acked.get() != count) {
      System.err.printf("not every event was acknowledged: %d acked, %d failed; first error: %s%n", acked.get(), failed.get(), firstError.get());
      return 1;
    }
    System.out.printf("{\"published\":%d,\"topic\":\"%s\",\"tenant\":\"%s\"}%n", acked.get(), topic, tenant);
    return 0;
  }

  /** --schema PATH, else the contract the build put on the classpath. */
  private static Schema loadSchema(String path) throws IOException {
    if (path != null) return new Schema.Parser().parse(Files.readString(Path.of(path)));
    try (InputStream in = Produce.class.getResourceAsStream("/audit_event.avsc")) {
      if (in == null) throw new IOException("audit_event.avsc is not on the classpath: pass --schema");
      return new Schema.Parser().parse(in);
    }
  }

  private static long currentMicros() {
    java.time.Instant now = java.time.Instant.now();
    return TimeUnit.SECONDS.toMicros(now.getEpochSecond()) + now.getNano() / 1_000;
  }

  /** RFC 9562 UUIDv7, lowercase: 48-bit Unix ms, version 7, 74 random bits, variant 10. */
  static String uuidV7() {
    long ms = System.currentTimeMillis();
    long msb = (ms << 16) | 0x7000L | (RANDOM.nextInt() & 0x0fffL);
    long lsb = (RANDOM.nextLong() & 0x3fffffffffffffffL) | 0x8000000000000000L;
    return new java.util.UUID(msb, lsb).toString();
  }
}
