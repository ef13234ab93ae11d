package kcl_test

import (
	"testing"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/aggregation"
	"github.com/kclgo/kcl/internal/testenv"
)

// TestDroppedUserRecordsCounted: user records of an aggregate that lie outside the hash-key
// range of the shard it was routed to (as the KPL leaves them after a reshard, re-sending
// them to the right shard) are left out and counted in the metrics, not only logged.
func TestDroppedUserRecordsCounted(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 2) // shardId-0: hash keys [0, 2^127), shardId-1: the rest
	const (
		low  = "5"                                       // shard 0
		high = "300000000000000000000000000000000000000" // shard 1
	)
	entries := []aggregation.Entry{
		{PartitionKey: "a", ExplicitHashKey: low, Data: []byte("kept-0")},
		{PartitionKey: "b", ExplicitHashKey: high, Data: []byte("elsewhere-0")},
		{PartitionKey: "c", ExplicitHashKey: low, Data: []byte("kept-1")},
		{PartitionKey: "d", ExplicitHashKey: high, Data: []byte("elsewhere-1")},
		{PartitionKey: "e", ExplicitHashKey: low, Data: []byte("kept-2")},
	}
	aggs, err := aggregation.Aggregate(entries, 0)
	if err != nil || len(aggs) != 1 {
		t.Fatalf("Aggregate: %d aggregates, %v", len(aggs), err)
	}
	put := stream.Put(t, testenv.Record{PartitionKey: aggs[0].PartitionKey, ExplicitHashKey: aggs[0].ExplicitHashKey, Data: aggs[0].Data})
	cfg := newConfig(t, env, stream, env.LeaseTable(t))
	cfg.Retrieval = kcl.Polling
	m := &recordCounter{}
	cfg.Metrics = m
	c := mustNew(t, cfg)
	ctx := testenv.WithTimeout(t, time.Minute)
	runConsumer(t, ctx, c)
	got := make(chan []string, 10)
	go func() {
		for s := range c.Shards() {
			go func() {
				for b := range s.Batches() {
					var data []string
					for _, r := range b.Records {
						data = append(data, string(r.Data))
					}
					select {
					case got <- data:
					default:
					}
					_ = b.Checkpoint(s.Context()) // fails only once the test is over
				}
			}()
		}
	}()
	select {
	case data := <-got:
		if len(data) != 3 || data[0] != "kept-0" || data[2] != "kept-2" {
			t.Fatalf("shard %s delivered %q, want the 3 user records in its range", put[0].ShardID, data)
		}
	case <-ctx.Done():
		t.Fatal("nothing delivered")
	}
	if _, dropped := m.counts(); dropped != 2 {
		t.Errorf("UserRecordsDropped counted %d, want 2", dropped)
	}
}
