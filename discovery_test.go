package kcl_test

import (
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/leases"
)

// TestHoleAudit starts a worker on a lease table that covers only one of two open shards: the
// audit finds the other shard's hash-key range uncovered, and after HoleAuditThreshold syncs in
// a row creates its lease, at the initial position, so its records are read too.
func TestHoleAudit(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	table := env.LeaseTable(t)
	ctx := testenv.WithTimeout(t, 2*time.Minute)
	tbl, err := leases.NewTable(env.DynamoDB, table)
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.CreateLeaseIfAbsent(ctx, leases.Lease{Key: "shardId-000000000000", ShardID: "shardId-000000000000", Checkpoint: checkpointer.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	puts := stream.PutN(t, "hole", 100)

	cfg := newConfig(t, env, stream, table)
	cfg.Retrieval = kcl.Polling
	cfg.ShardSyncInterval = 200 * time.Millisecond
	c := mustNew(t, cfg)
	runConsumer(t, ctx, c)
	col := newCollector()
	readers := col.consume(c, "w1", 0)
	col.waitFor(t, puts, 60*time.Second)

	l, err := tbl.GetLease(ctx, "shardId-000000000001")
	if err != nil {
		t.Fatalf("the uncovered shard has no lease: %v", err)
	}
	if l.HashKeyRange.IsZero() {
		t.Errorf("the audit's lease has no hash-key range")
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	readers.Wait()
	checkOrder(t, col.snapshot(), puts, false)
	col.checkCheckpoints(t)
}

// TestEnhancedFanOutShardEnd reads a split stream over enhanced fan-out. kinesis-local never
// ends a subscription to a closed shard, so the injector ends it as Kinesis does (a final event
// with ChildShards and no continuation): the parent finishes and its children are read after it.
func TestEnhancedFanOutShardEnd(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	table := env.LeaseTable(t)
	ctx := testenv.WithTimeout(t, 2*time.Minute)
	before := stream.PutN(t, "parent", 100)
	stream.Split(t, "shardId-000000000000")
	after := stream.PutN(t, "children", 100)
	all := append(before, after...)

	children, err := faults.ChildrenOf(ctx, env.Kinesis, stream.Name, "shardId-000000000000")
	if err != nil || len(children) != 2 {
		t.Fatalf("children of the split shard: %v %v", children, err)
	}
	last := testenv.ByShard(before)["shardId-000000000000"]
	inj := faults.New()
	inj.Add(faults.Rule{Op: "SubscribeToShard", Shard: "shardId-000000000000",
		Fault: faults.EndShard{Children: children, LastSequenceNumber: last[len(last)-1].SequenceNumber}})

	cfg := newConfig(t, env, stream, table)
	cfg.Kinesis = env.NewKinesis(inj.Wrap)
	metrics := &countingMetrics{}
	cfg.Metrics = metrics
	c := mustNew(t, cfg)
	runConsumer(t, ctx, c)
	col := newCollector()
	readers := col.consume(c, "w1", 0)
	col.waitFor(t, all, 60*time.Second)
	if err := c.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	readers.Wait()
	got := col.snapshot()
	checkOrder(t, got, all, false)
	col.checkCheckpoints(t)

	lastParent, firstChild := -1, len(got)
	for i, s := range got {
		switch s.shard {
		case "shardId-000000000000":
			lastParent = i
		case aws.ToString(children[0].ShardId), aws.ToString(children[1].ShardId):
			firstChild = min(firstChild, i)
		}
	}
	if lastParent > firstChild {
		t.Errorf("a child record (#%d) was delivered before the parent's last (#%d)", firstChild, lastParent)
	}
	if !errorsIsShardEnded(col, "shardId-000000000000") {
		t.Errorf("the parent's channel closed with %v, want ErrShardEnded", col.ends["shardId-000000000000"])
	}
	tbl, _ := leases.NewTable(env.DynamoDB, table)
	if l, err := tbl.GetLease(ctx, "shardId-000000000000"); err == nil && !l.Finished() {
		t.Errorf("the parent's lease is not finished: %v", l.Checkpoint)
	}
	// The hooks saw what the readers saw.
	if n := metrics.records(); n != len(got) {
		t.Errorf("BatchDelivered counted %d records, readers got %d", n, len(got))
	}
	if a := metrics.acquired(); a < 4 {
		t.Errorf("LeaseAcquired %d times, want at least 4 (two shards, two children)", a)
	}
}

func errorsIsShardEnded(col *collector, shard string) bool {
	col.mu.Lock()
	defer col.mu.Unlock()
	return col.ends[shard] == kcl.ErrShardEnded
}

// countingMetrics counts what the consumer reports.
type countingMetrics struct {
	kcl.NoMetrics
	mu                   sync.Mutex
	delivered, acquireds int
}

func (m *countingMetrics) BatchDelivered(_, _ string, records int, _ int64) {
	m.mu.Lock()
	m.delivered += records
	m.mu.Unlock()
}

func (m *countingMetrics) LeaseAcquired(string, string) {
	m.mu.Lock()
	m.acquireds++
	m.mu.Unlock()
}

func (m *countingMetrics) records() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.delivered
}

func (m *countingMetrics) acquired() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.acquireds
}
