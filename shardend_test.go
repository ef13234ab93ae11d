package kcl_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/leases"
	"github.com/kclgo/kcl/polling"
)

// readLoop is one way users read a shard; it records what it got into col.
type readLoop func(t *testing.T, shard *kcl.Shard, col *collector)

// The reading loops users write. Each must finish a closed shard, so that its children start.
// Over enhanced fan-out the last batch of a closed shard is empty; over polling it may hold
// the last records.
var naturalLoops = []struct {
	name string
	efo  bool
	loop readLoop
}{
	{"Shard.Checkpoint on receipt", false, func(t *testing.T, shard *kcl.Shard, col *collector) {
		for b := range shard.Batches() {
			if err := shard.Checkpoint(shard.Context()); err != nil {
				t.Errorf("Shard.Checkpoint: %v", err)
			}
			col.add("w", shard.ID(), b)
		}
	}},
	{"CheckpointAt the last record, empty batches skipped", true, func(t *testing.T, shard *kcl.Shard, col *collector) {
		for b := range shard.Batches() {
			if len(b.Records) == 0 {
				continue
			}
			col.add("w", shard.ID(), b)
			if err := b.CheckpointAt(shard.Context(), b.Records[len(b.Records)-1]); err != nil {
				t.Errorf("CheckpointAt: %v", err)
			}
		}
	}},
	{"Batch.Checkpoint, empty batches skipped", true, func(t *testing.T, shard *kcl.Shard, col *collector) {
		for b := range shard.Batches() {
			if len(b.Records) == 0 {
				continue
			}
			col.add("w", shard.ID(), b)
			if err := b.Checkpoint(shard.Context()); err != nil {
				t.Errorf("Batch.Checkpoint: %v", err)
			}
		}
	}},
	{"All with Shard.Checkpoint after the loop", false, func(t *testing.T, shard *kcl.Shard, col *collector) {
		for b, err := range shard.All() {
			if err != nil {
				break // the shard stopped (a drain): checkpoint what was processed
			}
			col.add("w", shard.ID(), b)
		}
		// Processed everything the iterator gave: one checkpoint at the end.
		if err := shard.Checkpoint(context.Background()); err != nil {
			t.Errorf("Shard.Checkpoint after the loop (%v): %v", shard.Err(), err)
		}
	}},
}

// splitStream puts records into a one-shard stream, splits it, and puts more, which land in
// the children. It returns every record put.
func splitStream(t *testing.T, stream *testenv.Stream) []testenv.Put {
	t.Helper()
	before := stream.PutN(t, "parent", 35)
	stream.Split(t, "shardId-000000000000")
	return append(before, stream.PutN(t, "child", 35)...)
}

// TestNaturalLoopsFinishClosedShard: however the reader checkpoints (Shard.Checkpoint right
// after receiving, CheckpointAt on the last record, skipping the empty last batch, the
// iterator), a closed shard is finished once all its records are checkpointed, and its
// children start. Before, only Batch.Checkpoint on the ShardEnd batch finished it.
func TestNaturalLoopsFinishClosedShard(t *testing.T) {
	env := testenv.New(t)
	for _, tc := range naturalLoops {
		t.Run(tc.name, func(t *testing.T) {
			stream := env.CreateStream(t, 1)
			table := env.LeaseTable(t)
			all := splitStream(t, stream)
			ctx := testenv.WithTimeout(t, 2*time.Minute)
			cfg := newConfig(t, env, stream, table)
			if tc.efo {
				// kinesis-local never ends a subscription to a closed shard: end it as
				// Kinesis does, with an empty final event.
				children, err := faults.ChildrenOf(ctx, env.Kinesis, stream.Name, "shardId-000000000000")
				if err != nil || len(children) != 2 {
					t.Fatalf("children of the split shard: %v %v", children, err)
				}
				parent := testenv.ByShard(all)["shardId-000000000000"]
				inj := faults.New()
				inj.Add(faults.Rule{Op: "SubscribeToShard", Shard: "shardId-000000000000",
					Fault: faults.EndShard{Children: children, LastSequenceNumber: parent[len(parent)-1].SequenceNumber}})
				cfg.Kinesis = env.NewKinesis(inj.Wrap)
			} else {
				cfg.Retrieval = kcl.Polling
				cfg.PollingOptions = []polling.Option{polling.WithMaxRecords(10)}
			}
			c := mustNew(t, cfg)
			runErr := runConsumer(t, ctx, c)
			col := newCollector()
			var readers sync.WaitGroup
			readers.Go(func() {
				for shard := range c.Shards() {
					readers.Go(func() { tc.loop(t, shard, col) })
				}
			})
			col.waitFor(t, all, 60*time.Second)
			tbl, _ := leases.NewTable(env.DynamoDB, table)
			if l, err := tbl.GetLease(ctx, "shardId-000000000000"); err == nil && !l.Finished() {
				t.Errorf("the parent's lease is not finished: %v", l.Checkpoint)
			}
			if err := c.Drain(ctx); err != nil {
				t.Errorf("Drain: %v", err)
			}
			if err := <-runErr; err != nil {
				t.Errorf("Run: %v", err)
			}
			readers.Wait()
			checkOrder(t, col.snapshot(), all, false)
		})
	}
}

// TestProcessFinishesClosedShard: Process with a records strategy finishes the parent too.
func TestProcessFinishesClosedShard(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	all := splitStream(t, stream)
	cfg := newConfig(t, env, stream, table)
	cfg.Retrieval = kcl.Polling
	cfg.PollingOptions = []polling.Option{polling.WithMaxRecords(10)}
	c := mustNew(t, cfg)
	ctx := testenv.WithTimeout(t, 2*time.Minute)
	col := processAll(t, ctx, c, all, 60*time.Second, kcl.CheckpointEveryRecords(7))
	checkOrder(t, col.snapshot(), all, false)
}

// shardEndMetrics records ShardEndHeld reports.
type shardEndMetrics struct {
	kcl.NoMetrics
	held chan string
}

func (m *shardEndMetrics) ShardEndHeld(_, shardID string, _ time.Duration) {
	select {
	case m.held <- shardID:
	default:
	}
}

// TestShardHeldAtItsEndIsLoud: a reader that took a closed shard's last batch and never
// checkpoints its last records holds the shard (SHARD_END is not written: the records are
// not processed) and, after ShardEndWarnAfter, a warning says what to call and the metric
// hears of it. Once the reader checkpoints, the shard finishes.
func TestShardHeldAtItsEndIsLoud(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	before := stream.PutN(t, "parent", 5)
	stream.Split(t, "shardId-000000000000")
	cfg := newConfig(t, env, stream, table)
	cfg.Retrieval = kcl.Polling
	cfg.ShardEndWarnAfter = 300 * time.Millisecond
	logger, logs := newLogCapture(t)
	cfg.Logger = logger
	metrics := &shardEndMetrics{held: make(chan string, 1)}
	cfg.Metrics = metrics
	c := mustNew(t, cfg)
	ctx := testenv.WithTimeout(t, 2*time.Minute)
	runConsumer(t, ctx, c)
	var parent *kcl.Shard
	for s := range c.Shards() {
		if s.ID() == "shardId-000000000000" {
			parent = s
			break
		}
	}
	if parent == nil {
		t.Fatalf("the consumer ended without the parent shard: %v", c.Err())
	}
	var got []kcl.Batch
	for b := range parent.Batches() { // take everything, checkpoint nothing
		got = append(got, b)
	}
	n := 0
	for _, b := range got {
		n += len(b.Records)
	}
	if n != len(before) || !got[len(got)-1].ShardEnd {
		t.Fatalf("got %d records, last batch ShardEnd %v; want %d and true", n, got[len(got)-1].ShardEnd, len(before))
	}
	select {
	case id := <-metrics.held:
		if id != parent.ID() {
			t.Errorf("ShardEndHeld for %s, want %s", id, parent.ID())
		}
	case <-ctx.Done():
		t.Fatal("no ShardEndHeld report")
	}
	if len(logs.find(slog.LevelWarn, "checkpoint the last batch")) == 0 {
		t.Errorf("no warning saying what to call")
	}
	tbl, _ := leases.NewTable(env.DynamoDB, table)
	if l, err := tbl.GetLease(ctx, parent.ID()); err != nil || l.Finished() {
		t.Fatalf("parent lease %v, %v: finished before its records were checkpointed", l.Checkpoint, err)
	}
	// The reader catches up: Shard.Checkpoint covers all it took and finishes the shard.
	if err := parent.Checkpoint(ctx); err != nil {
		t.Fatalf("Shard.Checkpoint: %v", err)
	}
	if l, err := tbl.GetLease(ctx, parent.ID()); err != nil || !l.Finished() {
		t.Errorf("parent lease %v, %v after the reader checkpointed, want SHARD_END", l.Checkpoint, err)
	}
}

// TestErrDoesNotWaitForShardEndWrite: while the SHARD_END write is retried (throttled),
// Shard.Err answers at once: the shard's lock is not held across the write.
func TestErrDoesNotWaitForShardEndWrite(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	stream.PutN(t, "parent", 5)
	stream.Split(t, "shardId-000000000000")
	inj := faults.New()
	cfg := newConfig(t, env, stream, table)
	cfg.DynamoDB = env.NewDynamoDB(inj.Wrap)
	cfg.Retrieval = kcl.Polling
	c := mustNew(t, cfg)
	ctx := testenv.WithTimeout(t, time.Minute)
	runConsumer(t, ctx, c)
	var parent *kcl.Shard
	for s := range c.Shards() {
		if s.ID() == "shardId-000000000000" {
			parent = s
			break
		}
	}
	if parent == nil {
		t.Fatalf("the consumer ended without the parent shard: %v", c.Err())
	}
	var last kcl.Batch
	for b := range parent.Batches() { // take everything, checkpoint nothing yet
		last = b
	}
	throttled := inj.Add(faults.Rule{Op: "UpdateItem", Fault: faults.Throttle(), Match: func(c faults.Call) bool {
		return strings.Contains(string(c.Body), "#ch = :children") // SHARD_END
	}})
	cpCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	checkpointed := make(chan error, 1)
	go func() { checkpointed <- last.Checkpoint(cpCtx) }()
	if err := throttled.Wait(ctx, 2); err != nil { // the write is being retried
		t.Fatal(err)
	}
	answered := make(chan error, 1)
	go func() { answered <- parent.Err() }()
	select {
	case err := <-answered:
		if err != kcl.ErrShardEnded {
			t.Errorf("Err %v, want ErrShardEnded", err)
		}
	case err := <-checkpointed:
		t.Fatalf("Err waited for the throttled SHARD_END write to give up (%v)", err)
	}
	throttled.Remove()
	if err := <-checkpointed; err != nil {
		t.Errorf("Batch.Checkpoint of the last batch once the throttling ended: %v", err)
	}
}
