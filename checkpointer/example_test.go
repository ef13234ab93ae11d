package checkpointer_test

import (
	"context"
	"fmt"

	"github.com/kclgo/kcl/checkpointer"
)

// printWriter stands in for the lease coordinator.
type printWriter struct{}

func (printWriter) Checkpoint(_ context.Context, leaseKey string, p checkpointer.ExtendedSequenceNumber) error {
	fmt.Printf("write %s: %s sub %d\n", leaseKey, p.SequenceNumber(), p.SubSequenceNumber())
	return nil
}

func Example() {
	ctx := context.Background()
	cp, err := checkpointer.New(printWriter{}, "shardId-000000000001", checkpointer.TrimHorizon,
		checkpointer.WithStrategy(checkpointer.EveryRecords(3)))
	if err != nil {
		fmt.Println(err)
		return
	}
	// The consumer delivers two user records of one KPL aggregate, then a plain record.
	for _, sub := range []int64{0, 1} {
		p, _ := checkpointer.ParseSequenceNumber("49590338271490256608559692538361571095921575989136588898", sub)
		_ = cp.Delivered(p)
		_ = cp.Processed(ctx, p, 1)
	}
	p, _ := checkpointer.ParseSequenceNumber("49590338271490256608559692538361571095921575989136588899", 0)
	_ = cp.Delivered(p)
	_ = cp.Processed(ctx, p, 1) // third record: the strategy writes

	// A checkpoint past what was delivered is refused.
	ahead, _ := checkpointer.ParseSequenceNumber("49590338271490256608559692538361571095921575989136588900", 0)
	fmt.Println(cp.CheckpointAt(ctx, ahead) != nil)
	// Output:
	// write shardId-000000000001: 49590338271490256608559692538361571095921575989136588899 sub 0
	// true
}

func ExampleExtendedSequenceNumber_Compare() {
	a, _ := checkpointer.ParseSequenceNumber("99", 0)
	b, _ := checkpointer.ParseSequenceNumber("100", 0)
	fmt.Println(a.Compare(b), checkpointer.Latest.Compare(a), checkpointer.ShardEnd.Compare(b))
	// Output: -1 -1 1
}
