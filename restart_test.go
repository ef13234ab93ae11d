package kcl_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/aggregation"
	"github.com/kclgo/kcl/internal/testenv"
)

// putAggregates puts n KPL aggregates of per user records each and returns the user records
// in put order, as (aggregate put, sub-sequence number, data).
func putAggregates(t *testing.T, stream *testenv.Stream, n, per int) []userPut {
	t.Helper()
	var records []testenv.Record
	var datas [][]string
	for a := range n {
		enc := aggregation.NewEncoder(0)
		var ds []string
		for u := range per {
			d := fmt.Sprintf("agg%03d-user%02d", a, u)
			ok, err := enc.Add(aggregation.Entry{PartitionKey: fmt.Sprintf("pk-%d-%d", a, u), Data: []byte(d)})
			if err != nil || !ok {
				t.Fatalf("aggregate %d: add user record %d: %v %v", a, u, ok, err)
			}
			ds = append(ds, d)
		}
		records = append(records, testenv.Record{PartitionKey: "a", Data: enc.Encode(nil)})
		datas = append(datas, ds)
	}
	puts := stream.Put(t, records...)
	var users []userPut
	for i, p := range puts {
		for sub, d := range datas[i] {
			users = append(users, userPut{put: p, sub: uint64(sub), data: d})
		}
	}
	return users
}

type userPut struct {
	put  testenv.Put
	sub  uint64
	data string
}

// TestRestartFromCheckpoint stops a worker that checkpointed in the middle of a KPL
// aggregate; the next worker resumes with the user record right after the checkpoint.
func TestRestartFromCheckpoint(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	users := putAggregates(t, stream, 20, 10)
	const checkpointAt = 95 // aggregate 9, user record 5

	cfg := newConfig(t, env, stream, table)
	cfg.Retrieval = kcl.Polling
	first := mustNew(t, cfg)
	ctx := testenv.WithTimeout(t, 2*time.Minute)
	runConsumer(t, ctx, first)
	shard := <-first.Shards()
	var got []kcl.Record
	for b := range shard.Batches() {
		got = append(got, b.Records...)
		if len(got) > checkpointAt {
			if err := b.CheckpointAt(ctx, got[checkpointAt]); err != nil {
				t.Fatalf("CheckpointAt: %v", err)
			}
			break
		}
	}
	for i, u := range users[:checkpointAt+1] {
		if got[i].SequenceNumber != u.put.SequenceNumber || got[i].SubSequenceNumber != u.sub || string(got[i].Data) != u.data {
			t.Fatalf("first worker, record %d: got %s/%d %q, want %s/%d %q", i,
				got[i].SequenceNumber, got[i].SubSequenceNumber, got[i].Data, u.put.SequenceNumber, u.sub, u.data)
		}
	}
	if err := first.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	cfg.WorkerID = "second"
	second := mustNew(t, cfg)
	runConsumer(t, ctx, second)
	shard = <-second.Shards()
	var resumed []kcl.Record
	for b := range shard.Batches() {
		resumed = append(resumed, b.Records...)
		if len(resumed) >= len(users)-checkpointAt-1 {
			break
		}
	}
	want := users[checkpointAt+1:]
	if len(resumed) != len(want) {
		t.Fatalf("second worker got %d user records, want %d", len(resumed), len(want))
	}
	for i, u := range want {
		r := resumed[i]
		if r.SequenceNumber != u.put.SequenceNumber || r.SubSequenceNumber != u.sub || string(r.Data) != u.data {
			t.Fatalf("second worker, record %d: got %s/%d %q, want %s/%d %q", i, r.SequenceNumber, r.SubSequenceNumber, r.Data,
				u.put.SequenceNumber, u.sub, u.data)
		}
	}
}
