// Command produce publishes audit events to auditstream's Kafka topic with franz-go and
// hamba/avro.
//
// The wire contract is docs/producers.md: Avro single-object encoding (hamba/avro's soe
// package writes C3 01, the schema's CRC-64-AVRO fingerprint in little-endian byte order, and
// the Avro body; see parseForFingerprint for the one adjustment it needs), message key "<tenant_id>:<actor.id>" (UTF-8), and Kafka's murmur2
// partitioner, so each actor's events share a partition with the ones the Node SDK publishes.
// Exits 0 only when Kafka acknowledged every event.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/soe"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Actor, Resource and AuditEvent mirror shared/schemas/audit_event.avsc; optional fields are
// pointers (nil is the union's null branch), enums are their symbols as strings.
type Actor struct {
	ID        string  `avro:"id"`
	Type      string  `avro:"type"`
	Name      *string `avro:"name"`
	SessionID *string `avro:"session_id"`
	IP        *string `avro:"ip"`
	UserAgent *string `avro:"user_agent"`
}

type Resource struct {
	Type string  `avro:"type"`
	ID   string  `avro:"id"`
	Name *string `avro:"name"`
}

type AuditEvent struct {
	EventID    string            `avro:"event_id"`
	TenantID   string            `avro:"tenant_id"`
	OccurredAt int64             `avro:"occurred_at"` // timestamp-micros: microseconds since the epoch, UTC
	Actor      Actor             `avro:"actor"`
	Action     string            `avro:"action"`
	Category   string            `avro:"category"`
	Outcome    string            `avro:"outcome"`
	Reason     *string           `avro:"reason"`
	Service    string            `avro:"service"`
	Host       *string           `avro:"host"`
	Region     *string           `avro:"region"`
	Resource   *Resource         `avro:"resource"`
	RequestID  *string           `avro:"request_id"`
	TraceID    *string           `avro:"trace_id"`
	Severity   string            `avro:"severity"`
	Attributes map[string]string `avro:"attributes"`
}

// parseForFingerprint parses the schema with its logicalType attributes removed. hamba/avro
// (v2.31) keeps logicalType in the canonical form it fingerprints; the Avro specification's
// Parsing Canonical Form, and so Java, fastavro and ingest, strip it. A logical type never
// changes the binary encoding (occurred_at is a long either way), so the stripped schema writes
// the same bytes and its fingerprint is the one ingest knows.
func parseForFingerprint(path string) (avro.Schema, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	stripped, err := json.Marshal(stripLogicalTypes(doc))
	if err != nil {
		return nil, err
	}
	return avro.Parse(string(stripped))
}

func stripLogicalTypes(v any) any {
	switch t := v.(type) {
	case map[string]any:
		delete(t, "logicalType")
		for k, child := range t {
			t[k] = stripLogicalTypes(child)
		}
	case []any:
		for i, child := range t {
			t[i] = stripLogicalTypes(child)
		}
	}
	return v
}

func main() {
	os.Exit(run())
}

func run() int {
	brokers := flag.String("bootstrap-servers", "127.0.0.1:9092", "Kafka bootstrap servers, comma-separated")
	topic := flag.String("topic", "audit.events", "events topic")
	tenant := flag.String("tenant", "demo", "tenant_id of the events")
	count := flag.Int("count", 1000, "number of events to publish")
	actorList := flag.String("actors", "alice,bob,carol", "comma-separated actor ids, used in turn")
	schemaPath := flag.String("schema", "../../shared/schemas/audit_event.avsc", "path to audit_event.avsc")
	flag.Parse()
	var actors []string
	for _, a := range strings.Split(*actorList, ",") {
		if a != "" {
			actors = append(actors, a)
		}
	}
	if *count < 1 || len(actors) == 0 {
		fmt.Fprintln(os.Stderr, "-count must be at least 1 and -actors must name at least one actor")
		return 2
	}

	schema, err := parseForFingerprint(*schemaPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "reading the schema: %v\n", err)
		return 1
	}
	codec, err := soe.NewCodec(schema)
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the single-object codec: %v\n", err)
		return 1
	}

	client, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.DefaultProduceTopic(*topic),
		kgo.ClientID("auditstream-example-go"),
		// Kafka's own partitioning of keyed records (murmur2, high bit masked, modulo the
		// partition count), as the Java client and the Node SDK do.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		// Idempotent (franz-go's default) implies acks=all and keeps order on retries.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// franz-go's default batch compression (snappy) is kept: ingest reads every Kafka codec.
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordDeliveryTimeout(30*time.Second),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating the Kafka client: %v\n", err)
		return 1
	}
	defer client.Close()

	ip := "203.0.113.7"
	var mu sync.Mutex
	var acked, failed int
	var firstErr error
	ctx := context.Background()
	for seq := 0; seq < *count; seq++ {
		actor := actors[seq%len(actors)]
		id, err := uuid.NewV7()
		if err != nil {
			fmt.Fprintf(os.Stderr, "generating an event id: %v\n", err)
			return 1
		}
		event := AuditEvent{
			EventID:    id.String(),
			TenantID:   *tenant,
			OccurredAt: time.Now().UnixMicro(),
			Actor:      Actor{ID: actor, Type: "user", IP: &ip},
			Action:     "document.read",
			Category:   "resource_access",
			Outcome:    "success",
			Service:    "example-go",
			Resource:   &Resource{Type: "document", ID: fmt.Sprintf("doc-%d", seq)},
			Severity:   "info",
			Attributes: map[string]string{"example": "go", "seq": fmt.Sprint(seq)},
		}
		value, err := codec.Encode(event)
		if err != nil {
			fmt.Fprintf(os.Stderr, "encoding event %d: %v\n", seq, err)
			return 1
		}
		record := &kgo.Record{Key: []byte(*tenant + ":" + actor), Value: value}
		client.Produce(ctx, record, func(_ *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			acked++
		})
	}
	if err := client.Flush(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "flushing: %v\n", err)
		return 1
	}
	mu.Lock()
	defer mu.Unlock()
	if failed > 0 || acked != *count {
		fmt.Fprintf(os.Stderr, "not every event was acknowledged: %d acked, %d failed; first error: %v\n", acked, failed, firstErr)
		return 1
	}
	out, _ := json.Marshal(map[string]any{"published": acked, "topic": *topic, "tenant": *tenant})
	fmt.Println(string(out))
	return 0
}
