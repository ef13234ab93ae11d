package kcl

import (
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/aggregation"
	"github.com/kclgo/kcl/leases"
)

// testDelivery is the delivery of one shard as runShard builds it, without a reader.
func testDelivery(t testing.TB, m Metrics) *delivery {
	t.Helper()
	c := &Consumer{log: slog.New(slog.DiscardHandler), cfg: Config{Metrics: m}}
	w := &worker{c: c, stream: streamInfo{name: "stream"}}
	deagg, err := w.deaggregator(leases.Lease{})
	if err != nil {
		t.Fatal(err)
	}
	return &delivery{w: w, shard: &Shard{stream: "stream", id: "shardId-000000000000"}, deagg: deagg}
}

// aggregateRecord is a Kinesis record holding a KPL aggregate of n user records of size
// bytes each, with distinct partition keys prefix-0, prefix-1, ...
func aggregateRecord(t testing.TB, seq int, prefix string, n, size int) types.Record {
	t.Helper()
	e := aggregation.NewEncoder(1 << 30)
	for i := range n {
		if ok, err := e.Add(aggregation.Entry{Data: make([]byte, size), PartitionKey: prefix + "-" + strconv.Itoa(i)}); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	return types.Record{
		Data:           e.Encode(nil),
		PartitionKey:   aws.String(prefix + "-0"),
		SequenceNumber: aws.String(fmt.Sprintf("4959033827149025660855969253836157109592157598913%07d", seq)),
	}
}

// TestKeptPartitionKeysDoNotPinAggregates: an application that keeps the partition keys
// of delivered records (a map of counts, a dedupe cache) keeps the keys, not the Kinesis
// records they came from. 200 keys of 900 kB aggregates must not hold 180 MB.
func TestKeptPartitionKeysDoNotPinAggregates(t *testing.T) {
	const (
		aggregates = 200
		userRecs   = 9
		size       = 100 << 10 // 9 x 100 KiB: a 900 kB aggregate
	)
	d := testDelivery(t, NoMetrics{})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	kept := make(map[string]int, aggregates)
	for i := range aggregates {
		recs, _, err := d.userRecords([]types.Record{aggregateRecord(t, i, "key"+strconv.Itoa(i), userRecs, size)})
		if err != nil || len(recs) != userRecs {
			t.Fatalf("aggregate %d: %d records, %v", i, len(recs), err)
		}
		kept[recs[0].PartitionKey]++ // what an application keeps; the batch itself is dropped
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %d kB keeping %d keys of %d aggregates of %d kB", grown>>10, len(kept), aggregates, userRecs*size>>10)
	// The keys and their buffers (at most 16 KiB each) and the map: a few MB. Pinned
	// aggregates would be 180 MB.
	if limit := int64(16 << 20); grown > limit {
		t.Errorf("heap grew by %d MB keeping %d partition keys: the keys pin their aggregates", grown>>20, len(kept))
	}
	runtime.KeepAlive(kept)
}

// BenchmarkUserRecords measures the consumer's deaggregation of one raw batch (op = batch)
// of 10 aggregates of 100 user records with distinct keys: allocations are per batch (the
// Records slice, key buffers), none per user record.
func BenchmarkUserRecords(b *testing.B) {
	const aggregates, userRecs = 10, 100
	batch := make([]types.Record, aggregates)
	for i := range batch {
		batch[i] = aggregateRecord(b, i, fmt.Sprintf("%08x-4e5f-a1b2-%012x", i, i), userRecs, 100)
	}
	d := testDelivery(b, NoMetrics{})
	b.ReportAllocs()
	for b.Loop() {
		recs, _, err := d.userRecords(batch)
		if err != nil || len(recs) != aggregates*userRecs {
			b.Fatal(len(recs), err)
		}
	}
	b.ReportMetric(aggregates*userRecs, "records/op")
}
