package kcl_test

import (
	"errors"
	"testing"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/leases"
)

// TestOneWorker reads a stream end to end with each retrieval, then drains: every record put
// arrives once, in order per shard, and the drain leaves the leases released with their
// checkpoints at the last records.
func TestOneWorker(t *testing.T) {
	for _, tc := range []struct {
		name      string
		retrieval kcl.Retrieval
	}{
		{"polling", kcl.Polling},
		{"enhanced fan-out", kcl.EnhancedFanOut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testenv.New(t)
			stream := env.CreateStream(t, 2)
			table := env.LeaseTable(t)
			before := stream.PutN(t, "before", 300)

			cfg := newConfig(t, env, stream, table)
			cfg.Retrieval = tc.retrieval
			c := mustNew(t, cfg)
			ctx := testenv.WithTimeout(t, 2*time.Minute)
			runErr := runConsumer(t, ctx, c)
			col := newCollector()
			readers := col.consume(c, "w1", 0)

			col.waitFor(t, before, 20*time.Second)
			after := stream.PutN(t, "after", 200)
			all := append(before, after...)
			col.waitFor(t, all, 60*time.Second)

			if len(libraryGoroutines()) == 0 {
				t.Fatal("the goroutine check sees none of the running consumer's goroutines")
			}
			if err := c.Drain(ctx); err != nil {
				t.Fatalf("Drain: %v", err)
			}
			if err := <-runErr; err != nil {
				t.Fatalf("Run after Drain: %v", err)
			}
			readers.Wait()
			checkNoGoroutinesLeft(t)
			checkOrder(t, col.snapshot(), all, false)
			col.checkCheckpoints(t)
			for shard, err := range col.ends {
				if !errors.Is(err, kcl.ErrShutdown) {
					t.Errorf("shard %s ended with %v, want ErrShutdown", shard, err)
				}
			}

			table2, err := leases.NewTable(env.DynamoDB, table)
			if err != nil {
				t.Fatal(err)
			}
			ls, _, err := table2.ListLeases(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			byShard := testenv.ByShard(all)
			for _, l := range ls {
				if l.Owner != "" {
					t.Errorf("lease %s still owned by %q after Drain", l.Key, l.Owner)
				}
				ps := byShard[l.ShardID]
				want, _ := checkpointer.ParseSequenceNumber(ps[len(ps)-1].SequenceNumber, 0)
				if l.Checkpoint != want {
					t.Errorf("lease %s checkpoint %v, want %v (the shard's last record)", l.Key, l.Checkpoint, want)
				}
			}
			if len(ls) != 2 {
				t.Errorf("%d leases, want 2 (%s)", len(ls), shardList(all))
			}
		})
	}
}
