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
	if cerr := c.Err(); cerr != err {
		t.Fatalf("Err() = %v after Process returned %v: it must say why the consumer ended", cerr, err)
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

// TestShardAll reads a shard through the iterator view with the plain loop the docs show:
// neither Stop nor a Drain is an error to it, while Err still says ErrShutdown.
func TestShardAll(t *testing.T) {
	for _, end := range []string{"stop", "drain"} {
		t.Run(end, func(t *testing.T) {
			env := testenv.New(t)
			stream := env.CreateStream(t, 1)
			puts := stream.PutN(t, "iter", 50)
			cfg := newConfig(t, env, stream, env.LeaseTable(t))
			cfg.Retrieval = kcl.Polling
			c := mustNew(t, cfg)
			ctx := testenv.WithTimeout(t, time.Minute)
			runConsumer(t, ctx, c)
			shard, ok := <-c.Shards()
			if !ok {
				t.Fatalf("no shard: the consumer ended with %v", c.Err())
			}
			n := 0
			loop := func() error {
				for b, err := range shard.All() {
					if err != nil {
						return err
					}
					n += len(b.Records)
					if err := b.Checkpoint(ctx); err != nil {
						return err
					}
					if n == len(puts) {
						if end == "stop" {
							go c.Stop()
						} else {
							go c.Drain(ctx)
						}
					}
				}
				return nil
			}
			if err := loop(); err != nil || n != len(puts) {
				t.Fatalf("loop returned %v after %d records; want nil after %d", err, n, len(puts))
			}
			if !errors.Is(shard.Err(), kcl.ErrShutdown) {
				t.Fatalf("Err() = %v, want ErrShutdown", shard.Err())
			}
			<-c.Done()
			if err := c.Err(); err != nil {
				t.Fatalf("consumer Err() = %v after a %s", err, end)
			}
		})
	}
}
