package kcl_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/polling"
)

// checkpointCounter counts successful Checkpointed reports.
type checkpointCounter struct {
	kcl.NoMetrics
	mu sync.Mutex
	n  int
}

func (m *checkpointCounter) Checkpointed(_, _ string, _ time.Duration, err error) {
	if err == nil {
		m.mu.Lock()
		m.n++
		m.mu.Unlock()
	}
}

// TestCheckpointedReportsRealWritesOnly: with CheckpointEveryRecords, Metrics.Checkpointed
// fires once per checkpoint written to the lease table, not once per batch processed.
func TestCheckpointedReportsRealWritesOnly(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	puts := stream.PutN(t, "metric", 31)
	inj := faults.New()
	writes := inj.Add(faults.Rule{Op: "UpdateItem", Match: func(c faults.Call) bool {
		return strings.Contains(string(c.Body), "#cp = :seq") // a checkpoint, not a renewal
	}})
	cfg := newConfig(t, env, stream, table)
	cfg.DynamoDB = env.NewDynamoDB(inj.Wrap)
	cfg.Retrieval = kcl.Polling
	cfg.PollingOptions = []polling.Option{polling.WithMaxRecords(3)}
	metrics := &checkpointCounter{}
	cfg.Metrics = metrics
	c := mustNew(t, cfg)
	ctx := testenv.WithTimeout(t, time.Minute)
	col := newCollector()
	done := make(chan error, 1)
	go func() {
		done <- c.Process(ctx, func(_ context.Context, b kcl.Batch) error {
			col.add("w", b.ShardID, b)
			return nil
		}, kcl.CheckpointEveryRecords(10))
	}()
	col.waitFor(t, puts, 30*time.Second)
	if err := c.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Process: %v", err)
	}
	metrics.mu.Lock()
	reported := metrics.n
	metrics.mu.Unlock()
	if w := writes.Hits(); reported != w || w < 3 {
		t.Errorf("Checkpointed reported %d checkpoints; the lease table got %d checkpoint writes (want at least 3)", reported, w)
	}
}
