package kcl_test

import (
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
	processAll(t, ctx, c, puts, 30*time.Second, kcl.CheckpointEveryRecords(10))
	if t.Failed() {
		t.FailNow()
	}
	metrics.mu.Lock()
	reported := metrics.n
	metrics.mu.Unlock()
	if w := writes.Hits(); reported != w || w < 3 {
		t.Errorf("Checkpointed reported %d checkpoints; the lease table got %d checkpoint writes (want at least 3)", reported, w)
	}
}
