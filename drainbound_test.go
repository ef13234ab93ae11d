package kcl_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
)

// drainWithin calls Drain with a context of d and fails t unless it returns before the test's
// own deadline, saying that its context cut it short: what it waits for is stalled for far
// longer, and a drain cut short is not a success.
func drainWithin(t *testing.T, ctx context.Context, c *kcl.Consumer, d time.Duration) {
	t.Helper()
	dctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Drain(dctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Drain cut short by its %v context returned %v; want context.DeadlineExceeded", d, err)
		}
	case <-ctx.Done():
		t.Fatalf("Drain with a %v context did not return", d)
	}
}

// TestDrainContextBoundsSetUpAndShardSync: a Drain's context bounds what the consumer is
// doing when it comes, not only the readers' final checkpoints: a set-up still under way,
// and a shard sync in flight.
func TestDrainContextBoundsSetUpAndShardSync(t *testing.T) {
	env := testenv.New(t)
	stall := faults.Stall{For: 10 * time.Minute, BeforeRequest: true}
	t.Run("set-up", func(t *testing.T) {
		stream := env.CreateStream(t, 1)
		table := env.LeaseTable(t)
		inj := faults.New()
		h := inj.Add(faults.Rule{Op: "DescribeStreamSummary", Fault: stall})
		cfg := newConfig(t, env, stream, table)
		cfg.Kinesis = env.NewKinesis(inj.Wrap)
		cfg.Retrieval = kcl.Polling
		c := mustNew(t, cfg)
		ctx := testenv.WithTimeout(t, time.Minute)
		runConsumer(t, ctx, c)
		if err := h.Wait(ctx, 1); err != nil {
			t.Fatal(err)
		}
		drainWithin(t, ctx, c, time.Second)
	})
	t.Run("shard sync", func(t *testing.T) {
		stream := env.CreateStream(t, 1)
		table := env.LeaseTable(t)
		stream.PutN(t, "sync", 5)
		inj := faults.New()
		cfg := newConfig(t, env, stream, table)
		cfg.Kinesis = env.NewKinesis(inj.Wrap)
		cfg.Retrieval = kcl.Polling
		c := mustNew(t, cfg)
		ctx := testenv.WithTimeout(t, time.Minute)
		runConsumer(t, ctx, c)
		shard, ok := <-c.Shards()
		if !ok {
			t.Fatalf("no shard: %v", c.Err())
		}
		go func() {
			for range shard.Batches() {
				_ = shard.Checkpoint(ctx)
			}
		}()
		h := inj.Add(faults.Rule{Op: "ListShards", Fault: stall})
		if err := h.Wait(ctx, 1); err != nil { // the next shard sync is stuck
			t.Fatal(err)
		}
		drainWithin(t, ctx, c, 2*time.Second)
	})
}
