package kcl_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/leases"
)

// TestProcessCheckpointsEveryRecords runs the callback runner with a records strategy, then
// drains it: the drain checkpoints what the strategy had not yet.
func TestProcessCheckpointsEveryRecords(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	puts := stream.PutN(t, "process", 120)
	cfg := newConfig(t, env, stream, table)
	cfg.Retrieval = kcl.Polling
	c := mustNew(t, cfg)
	ctx := testenv.WithTimeout(t, 2*time.Minute)
	var (
		mu   sync.Mutex
		got  int
		done = make(chan struct{})
	)
	processErr := make(chan error, 1)
	go func() {
		processErr <- c.Process(ctx, func(_ context.Context, b kcl.Batch) error {
			mu.Lock()
			defer mu.Unlock()
			got += len(b.Records)
			if got == len(puts) {
				close(done)
			}
			return nil
		}, kcl.CheckpointEveryRecords(1000))
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("not every record was processed")
	}
	tbl, err := leases.NewTable(env.DynamoDB, table)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tbl.GetLease(ctx, puts[0].ShardID)
	if err != nil {
		t.Fatal(err)
	}
	if l.Checkpoint != checkpointer.TrimHorizon {
		t.Fatalf("checkpoint %v before the drain; 120 records are fewer than the strategy's 1000", l.Checkpoint)
	}
	if err := c.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if err := <-processErr; err != nil {
		t.Fatalf("Process: %v", err)
	}
	l, err = tbl.GetLease(ctx, puts[0].ShardID)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := checkpointer.ParseSequenceNumber(puts[len(puts)-1].SequenceNumber, 0)
	if l.Checkpoint != want || l.Owner != "" {
		t.Fatalf("after the drain: checkpoint %v owner %q, want %v and no owner", l.Checkpoint, l.Owner, want)
	}
}

// TestProcessStopsOnError: an error from the function stops the consumer and is returned;
// the failed batch is not checkpointed.
func TestProcessStopsOnError(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	stream.PutN(t, "fail", 10)
	cfg := newConfig(t, env, stream, table)
	cfg.Retrieval = kcl.Polling
	c := mustNew(t, cfg)
	boom := errors.New("boom")
	err := c.Process(testenv.WithTimeout(t, time.Minute), func(context.Context, kcl.Batch) error { return boom })
	var se *kcl.ShardError
	if !errors.Is(err, boom) || !errors.As(err, &se) || se.ShardID == "" {
		t.Fatalf("Process: %v, want a *ShardError wrapping boom", err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("consumer still running after Process returned")
	}
	tbl, _ := leases.NewTable(env.DynamoDB, table)
	ls, _, err := tbl.ListLeases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.Checkpoint != checkpointer.TrimHorizon {
			t.Errorf("lease %s checkpointed at %v although the batch failed", l.Key, l.Checkpoint)
		}
	}
}

// TestShardAll reads a shard through the iterator view; stopping the consumer ends it with
// ErrShutdown as the final yield.
func TestShardAll(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	puts := stream.PutN(t, "iter", 50)
	cfg := newConfig(t, env, stream, env.LeaseTable(t))
	cfg.Retrieval = kcl.Polling
	c := mustNew(t, cfg)
	ctx := testenv.WithTimeout(t, time.Minute)
	runConsumer(t, ctx, c)
	shard := <-c.Shards()
	n, stopped := 0, false
	var final error
	for b, err := range shard.All() {
		if err != nil {
			final = err
			continue
		}
		n += len(b.Records)
		if n == len(puts) && !stopped {
			stopped = true
			go c.Stop()
		}
	}
	if n != len(puts) || !errors.Is(final, kcl.ErrShutdown) {
		t.Fatalf("iterated %d records, final error %v; want %d and ErrShutdown", n, final, len(puts))
	}
}
