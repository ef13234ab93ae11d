package kcl_test

import (
	"context"
	"crypto/md5"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/aggregation"
	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/leases"
)

// TestShardCheckpointCoversWhatWasTaken: Shard.Checkpoint right after receiving a batch
// records that batch, never the previous one (what was taken is known the moment the reader
// has it), nor one the consumer fetched but did not hand over; then a Drain with readers
// that receive and checkpoint at once ends without waiting for its timeout.
func TestShardCheckpointCoversWhatWasTaken(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	puts := stream.PutN(t, "taken", 100)
	// An observer of GetRecords: with a read-ahead of one response, call n+2 starts only
	// once the consumer took response n+1 from the poller, which it has not handed over
	// while the reader has taken n batches.
	cfg, gets := readAheadOfOne(t, env, stream, table)
	c := mustNew(t, cfg)
	ctx := testenv.WithTimeout(t, time.Minute)
	runErr := runConsumer(t, ctx, c)
	shard, ok := <-c.Shards()
	if !ok {
		t.Fatalf("the consumer ended without a shard: %v", c.Err())
	}
	tbl, _ := leases.NewTable(env.DynamoDB, table)
	for taken := range 4 {
		if err := gets.Wait(ctx, taken+2); err != nil {
			t.Fatalf("no read-ahead after %d batches taken: %v", taken, err)
		}
		b := <-shard.Batches()
		if err := shard.Checkpoint(ctx); err != nil { // at once, as readers do
			t.Fatal(err)
		}
		l, err := tbl.GetLease(ctx, puts[0].ShardID)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := checkpointer.ParseSequenceNumber(b.Records[len(b.Records)-1].SequenceNumber, 0)
		if l.Checkpoint != want {
			t.Fatalf("batch %d: checkpoint %v right after taking it, want its last record %v", taken+1, l.Checkpoint, want)
		}
	}
	// The natural loop for the rest; the drain must find it caught up.
	var reader sync.WaitGroup
	reader.Go(func() {
		for range shard.Batches() {
			if err := shard.Checkpoint(ctx); err != nil {
				t.Errorf("Shard.Checkpoint: %v", err)
			}
		}
	})
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := c.Drain(dctx); err != nil {
		t.Errorf("Drain: %v", err)
	}
	reader.Wait()
	<-runErr
}

// corruptAggregate is a KPL aggregate with a valid checksum whose user record refers past
// the end of the partition-key table.
func corruptAggregate() []byte {
	var rec []byte
	rec = protowire.AppendTag(rec, 1, protowire.VarintType)
	rec = protowire.AppendVarint(rec, 5) // partition_key_index: no such entry
	rec = protowire.AppendTag(rec, 3, protowire.BytesType)
	rec = protowire.AppendBytes(rec, []byte("lost?"))
	var msg []byte
	msg = protowire.AppendTag(msg, 1, protowire.BytesType)
	msg = protowire.AppendString(msg, "pk")
	msg = protowire.AppendTag(msg, 3, protowire.BytesType)
	msg = protowire.AppendBytes(msg, rec)
	sum := md5.Sum(msg)
	out := append([]byte{0xF3, 0x89, 0x9A, 0xC2}, msg...)
	return append(out, sum[:]...)
}

// TestCorruptAggregate: with the default HaltShard, the 5 records put before a corrupt
// aggregate (in the same raw batch) are processed and checkpointed, none after it; the
// shard halts with the error counted, and its lease stays with the worker that halted,
// renewed, instead of going around the workers: neither Process stops, and the second
// worker never takes the shard.
func TestCorruptAggregate(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	good := stream.PutN(t, "good", 5)
	stream.Put(t, testenv.Record{PartitionKey: "a", Data: corruptAggregate()})
	stream.PutN(t, "after", 3)
	ctx := testenv.WithTimeout(t, 2*time.Minute)

	type worker struct {
		c         *kcl.Consumer
		m         *recordCounter
		mu        sync.Mutex
		processed []string
		done      chan error
	}
	start := func() *worker {
		w := &worker{m: &recordCounter{}, done: make(chan error, 1)}
		cfg := newConfig(t, env, stream, table)
		cfg.Retrieval = kcl.Polling
		cfg.FailoverTime = 1500 * time.Millisecond // renewals every 0.5 s
		cfg.Metrics = w.m
		w.c = mustNew(t, cfg)
		go func() {
			w.done <- w.c.Process(ctx, func(_ context.Context, b kcl.Batch) error {
				w.mu.Lock()
				for _, r := range b.Records {
					w.processed = append(w.processed, string(r.Data))
				}
				w.mu.Unlock()
				return nil
			})
		}()
		t.Cleanup(func() { _ = w.c.Stop() })
		return w
	}
	first := start()
	tbl, _ := leases.NewTable(env.DynamoDB, table)
	lease := func() leases.Lease {
		t.Helper()
		l, err := tbl.GetLease(ctx, good[0].ShardID)
		var noTable *ddbtypes.ResourceNotFoundException
		if err != nil && !errors.Is(err, leases.ErrLeaseNotFound) && !errors.As(err, &noTable) {
			t.Fatal(err)
		}
		return l
	}
	lastGood, _ := checkpointer.ParseSequenceNumber(good[len(good)-1].SequenceNumber, 0)
	// Halted, and the good records checkpointed.
	for {
		n, _ := first.m.counts()
		if l := lease(); n == 1 && l.Checkpoint == lastGood {
			break
		}
		select {
		case err := <-first.done:
			t.Fatalf("Process returned %v before the good records were checkpointed", err)
		case <-ctx.Done():
			t.Fatalf("corrupt records counted %d, checkpoint %v; want 1 and %v", n, lease().Checkpoint, lastGood)
		case <-time.After(50 * time.Millisecond):
		}
	}
	second := start()
	// Two failover times of renewals: the lease stays with the first worker, halted.
	halted := lease()
	for l := lease(); l.Counter < halted.Counter+6; l = lease() {
		if l.Owner != first.c.WorkerID() || l.Checkpoint != lastGood {
			t.Fatalf("lease of the halted shard: owner %q checkpoint %v, want %q and %v", l.Owner, l.Checkpoint, first.c.WorkerID(), lastGood)
		}
		select {
		case err := <-first.done:
			t.Fatalf("the first worker's Process returned %v: a halted shard must not stop it", err)
		case err := <-second.done:
			t.Fatalf("the second worker's Process returned %v", err)
		case <-ctx.Done():
			t.Fatalf("lease counter stuck at %d: not renewed", l.Counter)
		case <-time.After(100 * time.Millisecond):
		}
	}
	first.mu.Lock()
	got := strings.Join(first.processed, ",")
	first.mu.Unlock()
	if want := "good-0,good-1,good-2,good-3,good-4"; got != want {
		t.Errorf("processed %s, want %s", got, want)
	}
	second.mu.Lock()
	if len(second.processed) > 0 {
		t.Errorf("second worker processed %v", second.processed)
	}
	second.mu.Unlock()
	var corrupt *aggregation.CorruptError
	first.m.mu.Lock()
	errs := first.m.corrupt
	first.m.mu.Unlock()
	if len(errs) != 1 || !errors.As(errs[0], &corrupt) {
		t.Errorf("CorruptRecord metric got %v, want one *aggregation.CorruptError", errs)
	}
	for _, w := range []*worker{first, second} {
		if err := w.c.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if err := <-w.done; err != nil {
			t.Errorf("Process after Stop: %v", err)
		}
	}
}

// TestStopDuringDrain: a drain waiting for a reader that never checkpoints ends at once when
// Stop is called, instead of waiting out the drain's deadline.
func TestStopDuringDrain(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	stream.PutN(t, "stuck", 10)
	cfg := newConfig(t, env, stream, env.LeaseTable(t))
	cfg.Retrieval = kcl.Polling
	c := mustNew(t, cfg)
	ctx := testenv.WithTimeout(t, 2*time.Minute)
	runErr := runConsumer(t, ctx, c)
	shard := <-c.Shards()
	<-shard.Batches() // taken, never checkpointed
	drained := make(chan error, 1)
	go func() {
		dctx, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		drained <- c.Drain(dctx)
	}()
	// The drain has begun once the shard's channel, flushed, closes with ErrShutdown; from
	// then on it waits for the checkpoint that never comes.
	deadline := time.After(30 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-shard.Batches():
		case <-deadline:
			t.Fatal("the shard's channel did not close within 30 s of Drain")
		}
	}
	if !errors.Is(shard.Err(), kcl.ErrShutdown) {
		t.Fatalf("shard Err %v, want ErrShutdown", shard.Err())
	}
	select {
	case err := <-drained:
		t.Fatalf("Drain returned %v before the reader checkpointed or Stop", err)
	default:
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop during a drain: %v", err)
	}
	select {
	case err := <-drained:
		if err != nil {
			t.Fatalf("Drain interrupted by Stop: %v, want Run's result (nil)", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Drain still waiting 30 s after Stop")
	}
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	<-c.Done()
	// Stop released the lease without the checkpoint the reader never made.
	tbl, err := leases.NewTable(env.DynamoDB, cfg.LeaseTable)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tbl.GetLease(t.Context(), shard.ID())
	if err != nil {
		t.Fatal(err)
	}
	if l.Owner != "" || l.Checkpoint != checkpointer.TrimHorizon {
		t.Fatalf("lease after Stop: owner %q checkpoint %v, want released at TRIM_HORIZON", l.Owner, l.Checkpoint)
	}
}

// TestStopDuringSetUp: Stop while Run is still creating the lease table returns promptly,
// and Run reports no error.
func TestStopDuringSetUp(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	inj := faults.New()
	stalled := inj.Add(faults.Rule{Op: "CreateTable", Fault: faults.Stall{For: time.Hour, BeforeRequest: true}})
	cfg := newConfig(t, env, stream, env.LeaseTable(t))
	cfg.DynamoDB = env.NewDynamoDB(inj.Wrap)
	c := mustNew(t, cfg)
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(testenv.WithTimeout(t, 2*time.Minute)) }()
	if err := stalled.Wait(testenv.WithTimeout(t, 30*time.Second), 1); err != nil {
		t.Fatalf("CreateTable never called: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run after Stop during set-up: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run still setting up 30 s after Stop")
	}
}
