package glue

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/internal/testenv"
)

// TestConsumerDecodes runs the whole path on kinesis-local: records of all three formats
// (Avro and JSON from the Java serializer's samples, Protobuf and zlib from the independent
// encoder), records without the header and corrupt ones are put into a stream, consumed by
// kcl with a glue Decoder set, and each arrives in order with its decoded value or its own
// error; no bad record stops its shard or loses a neighbour.
func TestConsumerDecodes(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	reg := newRegistry(t)
	// Two shared vectors use one id with two formats: give each vector an id of its own.
	type sample struct {
		data  []byte
		check func(t *testing.T, r kcl.Record)
	}
	var samples []sample
	vectors := loadVectors(t, testenv.SharedFile(t, "testdata/glue/glue_vectors.json"))
	vectors = append(vectors, loadVectors(t, "testdata/independent_vectors.json")...)
	for i, v := range vectors {
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1)
		reg.add(id, v.DataFormat, v.SchemaDefinition)
		data, err := base64.StdEncoding.DecodeString(v.RecordBase64)
		if err != nil {
			t.Fatal(err)
		}
		sid := mustID(t, id)
		data = append(append(data[:2:2], sid[:]...), data[HeaderSize:]...)
		samples = append(samples, sample{data, func(t *testing.T, r kcl.Record) {
			m, ok := From(r)
			if !ok || m.Err != nil {
				t.Errorf("%s: %v", v.Name, m.Err)
				return
			}
			if string(m.DataFormat) != v.DataFormat || m.SchemaVersionID != sid || m.SchemaName != "schema-"+id[:8] {
				t.Errorf("%s: decoded as %s %s %q", v.Name, m.DataFormat, m.SchemaVersionID, m.SchemaName)
			}
		}})
	}
	reg.add(idC, "PROTOBUF", tsProto)
	samples = append(samples,
		sample{[]byte("a plain record"), func(t *testing.T, r kcl.Record) {
			if r.Decoded != nil || string(r.Data) != "a plain record" {
				t.Errorf("plain record: %v %q", r.Decoded, r.Data)
			}
		}},
		sample{frameOf(t, idC, CompressionNone, []byte{0, 0x08}), func(t *testing.T, r kcl.Record) {
			var re *RecordError
			if _, err := As[*timestamppb.Timestamp](r); !errors.As(err, &re) || !errors.Is(err, ErrCorruptPayload) || re.SequenceNumber != r.SequenceNumber {
				t.Errorf("corrupt record: %v", err)
			}
		}},
		sample{frameOf(t, idC, CompressionZlib, []byte{0, 0x08, 0x2a}), func(t *testing.T, r kcl.Record) {
			ts, err := As[*timestamppb.Timestamp](r)
			if err != nil || ts.GetSeconds() != 42 {
				t.Errorf("timestamp: %v, %v", ts, err)
			}
		}},
	)
	const rounds = 20
	var puts []testenv.Put
	check := map[string]func(*testing.T, kcl.Record){}
	var records []testenv.Record
	for round := range rounds {
		for i, s := range samples {
			records = append(records, testenv.Record{PartitionKey: fmt.Sprintf("pk-%d-%d", round, i), Data: s.data})
		}
	}
	puts = stream.Put(t, records...)
	for i, p := range puts {
		check[p.SequenceNumber] = samples[i%len(samples)].check
	}

	d, err := NewDecoder(reg.client(1))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, err := kcl.New(kcl.Config{
		App: testenv.UniqueName(t, "glue"), Stream: stream.Name, Kinesis: env.Kinesis, DynamoDB: env.DynamoDB,
		LeaseTable: env.LeaseTable(t), InitialPosition: kcl.TrimHorizon, ShardSyncInterval: time.Second,
		Decoder: d,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testenv.WithTimeout(t, 2*time.Minute)
	var (
		mu   sync.Mutex
		seen = map[string][]string{}
		n    int
		all  = make(chan struct{})
	)
	// Drain once everything arrived: Process then returns nil.
	drained := make(chan error, 1)
	go func() {
		select {
		case <-all:
		case <-ctx.Done():
		}
		drained <- c.Drain(ctx)
	}()
	err = c.Process(ctx, func(ctx context.Context, b kcl.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range b.Records {
			seen[b.ShardID] = append(seen[b.ShardID], r.SequenceNumber)
			check[r.SequenceNumber](t, r)
			if n++; n == len(puts) {
				close(all)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Process: %v", err)
	}
	if err := <-drained; err != nil {
		t.Fatalf("Drain: %v", err)
	}
	for shard, ps := range testenv.ByShard(puts) {
		if len(seen[shard]) != len(ps) {
			t.Errorf("shard %s: %d records delivered, %d put", shard, len(seen[shard]), len(ps))
			continue
		}
		for i, p := range ps {
			if seen[shard][i] != p.SequenceNumber {
				t.Fatalf("shard %s: record %d is %s, want %s", shard, i, seen[shard][i], p.SequenceNumber)
			}
		}
	}
	st := d.Stats()
	if st.DecodeErrors != rounds || st.PassedThrough != rounds || st.Decoded != int64(len(puts)-2*rounds) {
		t.Errorf("stats %+v", st)
	}
	if calls := st.RegistryCalls; calls != int64(len(vectors)+1) {
		t.Errorf("%d registry calls for %d schema versions", calls, len(vectors)+1)
	}
}
