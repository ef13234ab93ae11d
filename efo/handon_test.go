package efo

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// TestBatchAllocatesNothing: turning an event into a batch allocates nothing, whatever the
// number of records.
func TestBatchAllocatesNothing(t *testing.T) {
	f := &fakeKinesis{}
	sub := &Subscription{c: fakeConsumer(t, f), shardID: "shardId-000000000000", log: defaultConfig().logger}
	var seqs []int
	for i := 1; i <= 500; i++ {
		seqs = append(seqs, i)
	}
	e := event(seq(500), seqs...).(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
	var b Batch
	before := seq(0)
	allocs := testing.AllocsPerRun(100, func() {
		cur := cursor{lastSeq: before}
		b = sub.batch(&e.Value, &cur)
	})
	if allocs != 0 || len(b.Records) != 500 {
		t.Fatalf("batch of %d records: %v allocations, want 0", len(b.Records), allocs)
	}
}

// BenchmarkHandOn measures the package's own cost on the way from the event stream to the
// consumer (the subscription's loop, its bounded channel, the metrics hook) with events from
// a scripted stream. "stream alone" drains the scripted stream directly: the difference
// between the two is what this package adds per event; the allocations of both are the
// script's making of events.
func BenchmarkHandOn(b *testing.B) {
	for _, perEvent := range []int{1, 100} {
		newStream := func() *fakeStream {
			return &fakeStream{endless: func(i int) types.SubscribeToShardEventStream {
				seqs := make([]int, perEvent)
				for j := range seqs {
					seqs[j] = i*perEvent + j + 1
				}
				return event(seq((i+1)*perEvent), seqs...)
			}}
		}
		name := fmt.Sprintf("%d records per event", perEvent)
		b.Run(name+"/stream alone", func(b *testing.B) {
			stream := newStream()
			ctx, cancel := context.WithCancel(b.Context())
			defer cancel()
			stream.run(ctx)
			defer stream.Close()
			b.ReportAllocs()
			for b.Loop() {
				<-stream.Events()
			}
		})
		b.Run(name+"/through efo", func(b *testing.B) {
			stream := newStream()
			f := &fakeKinesis{script: func(int, StartPosition) (*fakeStream, error) { return stream, nil }}
			ctx, cancel := context.WithCancel(b.Context())
			defer cancel()
			sub, err := fakeConsumer(b, f).Subscribe(ctx, "shardId-000000000000", trimHorizon)
			if err != nil {
				b.Fatal(err)
			}
			defer sub.Close()
			b.ReportAllocs()
			for b.Loop() {
				<-sub.Batches()
			}
		})
	}
}
