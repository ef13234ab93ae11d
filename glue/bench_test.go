package glue

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	gluesdk "github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/aggregation"
	"github.com/kclgo/kcl/internal/testenv"
)

// staticRegistry answers from a map in-process: benchmarks measure decoding, not HTTP.
type staticRegistry map[string][2]string // id -> format, definition

func (s staticRegistry) GetSchemaVersion(_ context.Context, in *gluesdk.GetSchemaVersionInput, _ ...func(*gluesdk.Options)) (*gluesdk.GetSchemaVersionOutput, error) {
	v, ok := s[aws.ToString(in.SchemaVersionId)]
	if !ok {
		return nil, &types.EntityNotFoundException{Message: aws.String("unknown")}
	}
	return &gluesdk.GetSchemaVersionOutput{
		SchemaVersionId: in.SchemaVersionId, DataFormat: types.DataFormat(v[0]), SchemaDefinition: aws.String(v[1]),
		SchemaArn: aws.String("arn:aws:glue:us-east-1:123456789012:schema/r/bench"), Status: types.SchemaVersionStatusAvailable,
	}, nil
}

const (
	benchAvroSchema = `{"type":"record","name":"Event","fields":[{"name":"id","type":"string"},{"name":"at","type":"long"},{"name":"kind","type":"string"},{"name":"score","type":"double"},{"name":"note","type":"string"}]}`
	benchJSONSchema = `{"type":"object","properties":{"id":{"type":"string"},"at":{"type":"integer"},"kind":{"type":"string"},"score":{"type":"number"},"note":{"type":"string"}},"required":["id","at"]}`
	benchProto      = "syntax = \"proto3\";\npackage bench;\nmessage Event { string id = 1; int64 at = 2; string kind = 3; double score = 4; string note = 5; }\n"
)

type benchEvent struct {
	ID    string  `avro:"id" json:"id"`
	At    int64   `avro:"at" json:"at"`
	Kind  string  `avro:"kind" json:"kind"`
	Score float64 `avro:"score" json:"score"`
	Note  string  `avro:"note" json:"note"`
}

// benchPayloads returns framed records of each format: small (a few dozen bytes) and
// about 1 KiB (a long note).
func benchPayloads(b *testing.B) (map[string][]byte, *Decoder) {
	reg := staticRegistry{idA: {"AVRO", benchAvroSchema}, idB: {"JSON", benchJSONSchema}, idC: {"PROTOBUF", benchProto}}
	d, err := NewDecoder(reg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	sch := avro.MustParse(benchAvroSchema)
	out := map[string][]byte{}
	for _, size := range []struct {
		name string
		note int
	}{{"small", 4}, {"1KiB", 960}} {
		e := benchEvent{ID: "evt-123456", At: 1_700_000_000_000, Kind: "click", Score: 0.75, Note: strings.Repeat("n", size.note)}
		a, err := avro.Marshal(sch, e)
		if err != nil {
			b.Fatal(err)
		}
		j, _ := json.Marshal(e)
		p := protowire.AppendVarint(nil, 0)
		p = protowire.AppendTag(p, 1, protowire.BytesType)
		p = protowire.AppendString(p, e.ID)
		p = protowire.AppendTag(p, 2, protowire.VarintType)
		p = protowire.AppendVarint(p, uint64(e.At))
		p = protowire.AppendTag(p, 3, protowire.BytesType)
		p = protowire.AppendString(p, e.Kind)
		p = protowire.AppendTag(p, 4, protowire.Fixed64Type)
		p = protowire.AppendFixed64(p, 0x3FE8000000000000)
		p = protowire.AppendTag(p, 5, protowire.BytesType)
		p = protowire.AppendString(p, e.Note)
		out["avro/"+size.name] = frameOf(b, idA, CompressionNone, a)
		out["avro-zlib/"+size.name] = frameOf(b, idA, CompressionZlib, a)
		out["json/"+size.name] = frameOf(b, idB, CompressionNone, j)
		out["protobuf/"+size.name] = frameOf(b, idC, CompressionNone, p)
	}
	return out, d
}

// BenchmarkDecode is the cost of one record: framing, the cache hit, decompression if any,
// and decoding into a generic value (JSON also validated).
func BenchmarkDecode(b *testing.B) {
	payloads, d := benchPayloads(b)
	for _, name := range []string{"avro/small", "avro/1KiB", "avro-zlib/small", "avro-zlib/1KiB", "json/small", "json/1KiB", "protobuf/small", "protobuf/1KiB"} {
		data := payloads[name]
		b.Run(name, func(b *testing.B) {
			if _, err := d.Decode(b.Context(), data); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Decode(b.Context(), data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAs decodes into the application's own type instead (Avro and JSON).
func BenchmarkAs(b *testing.B) {
	payloads, d := benchPayloads(b)
	for _, name := range []string{"avro/1KiB", "json/1KiB"} {
		b.Run(name, func(b *testing.B) {
			recs := []aggregation.UserRecord{{Data: payloads[name]}}
			d.DecodeRecords(b.Context(), "s", "shard", recs)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := As[benchEvent](recs[0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeRecords is the consumer hook on a batch of 500 1-KiB Avro records, the
// CPU cost decoding adds to each batch.
func BenchmarkDecodeRecords(b *testing.B) {
	payloads, d := benchPayloads(b)
	recs := make([]aggregation.UserRecord, 500)
	for b.Loop() {
		for i := range recs {
			recs[i] = aggregation.UserRecord{SequenceNumber: "1", Data: payloads["avro/1KiB"]}
		}
		d.DecodeRecords(b.Context(), "s", "shard", recs)
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "records/s")
	if st := d.Stats(); st.DecodeErrors != 0 {
		b.Fatalf("%d errors", st.DecodeErrors)
	}
}

func BenchmarkCacheHit(b *testing.B) {
	_, d := benchPayloads(b)
	id := mustID(b, idA)
	if _, err := d.Schema(b.Context(), id); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := d.Schema(context.Background(), id); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkConsumer is the consumer's throughput on kinesis-local with decoding off and on:
// each iteration puts 2,000 1-KiB Avro records into a fresh one-shard stream and reads them
// all with polling; records/s counts from the shard's lease taken to the last record. It needs the emulators, and measures them too: compare the two, not the
// absolute figures.
func BenchmarkConsumer(b *testing.B) {
	if testing.Short() {
		b.Skip("needs the emulators")
	}
	payloads, _ := benchPayloads(b)
	const n = 2000
	records := make([]testenv.Record, n)
	for i := range records {
		records[i] = testenv.Record{PartitionKey: fmt.Sprint(i), Data: payloads["avro/1KiB"]}
	}
	env := testenv.New(b)
	for _, mode := range []string{"off", "on"} {
		b.Run("decode-"+mode, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				b.StopTimer()
				stream := env.CreateStream(b, 1)
				stream.Put(b, records...)
				cfg := kcl.Config{
					App: testenv.UniqueName(b, "bench"), Stream: stream.Name, Kinesis: env.Kinesis, DynamoDB: env.DynamoDB,
					LeaseTable: env.LeaseTable(b), InitialPosition: kcl.TrimHorizon, Retrieval: kcl.Polling,
				}
				lease := &leaseClock{}
				cfg.Metrics = lease
				var dec *Decoder
				if mode == "on" {
					var err error
					dec, err = NewDecoder(staticRegistry{idA: {"AVRO", benchAvroSchema}})
					if err != nil {
						b.Fatal(err)
					}
					cfg.Decoder = dec
				}
				c, err := kcl.New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				ctx := testenv.WithTimeout(b, 2*time.Minute)
				var once sync.Once
				all := make(chan struct{})
				seen := 0
				b.StartTimer()
				// Drain, not a cancelled context, ends the run: calls cut off mid-request
				// can crash dynalite.
				drained := make(chan error, 1)
				go func() {
					select {
					case <-all:
					case <-ctx.Done():
					}
					drained <- c.Drain(ctx)
				}()
				err = c.Process(ctx, func(_ context.Context, batch kcl.Batch) error {
					for _, r := range batch.Records {
						if dec != nil {
							if _, err := As[map[string]any](r); err != nil {
								return err
							}
						}
						seen++
					}
					if seen >= n {
						once.Do(func() { total += time.Since(lease.start()); close(all) })
					}
					return nil
				})
				b.StopTimer()
				if derr := <-drained; err == nil {
					err = derr
				}
				if dec != nil {
					dec.Close()
				}
				if seen < n || err != nil {
					b.Fatalf("consumed %d of %d: %v", seen, n, err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "records/s")
		})
	}
}

// leaseClock notes when the consumer took the shard's lease: reading starts there.
type leaseClock struct {
	kcl.NoMetrics
	mu sync.Mutex
	t  time.Time
}

func (l *leaseClock) LeaseAcquired(string, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.t.IsZero() {
		l.t = time.Now()
	}
}

func (l *leaseClock) start() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.t
}
