package kcl_test

import (
	"context"
	"crypto/md5"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/aggregation"
	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/leases"
	"github.com/kclgo/kcl/polling"
)

// TestShardCheckpointCoversWhatWasTaken: Shard.Checkpoint records the batches the reader
// took, never ones the consumer had fetched but not handed over.
func TestShardCheckpointCoversWhatWasTaken(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	puts := stream.PutN(t, "taken", 100)
	cfg := newConfig(t, env, stream, table)
	cfg.Retrieval = kcl.Polling
	cfg.PollingOptions = []polling.Option{polling.WithMaxRecords(10)}
	c := mustNew(t, cfg)
	ctx := testenv.WithTimeout(t, time.Minute)
	runConsumer(t, ctx, c)
	shard := <-c.Shards()
	first := <-shard.Batches()
	time.Sleep(500 * time.Millisecond) // let the reader fetch ahead
	if err := shard.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	tbl, _ := leases.NewTable(env.DynamoDB, table)
	l, err := tbl.GetLease(ctx, puts[0].ShardID)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := checkpointer.ParseSequenceNumber(first.Records[len(first.Records)-1].SequenceNumber, 0)
	if l.Checkpoint != want {
		t.Fatalf("checkpoint %v after taking one batch, want its last record %v", l.Checkpoint, want)
	}
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

// TestCorruptAggregate: the records before a corrupt aggregate are processed; the shard
// then fails with a *ShardError wrapping the *aggregation.CorruptError, Process reports it,
// nothing is checkpointed past the record, and the lease is released.
func TestCorruptAggregate(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	good := stream.PutN(t, "good", 5)
	stream.Put(t, testenv.Record{PartitionKey: "a", Data: corruptAggregate()})
	cfg := newConfig(t, env, stream, table)
	cfg.Retrieval = kcl.Polling
	c := mustNew(t, cfg)
	err := c.Process(testenv.WithTimeout(t, time.Minute), func(context.Context, kcl.Batch) error { return nil })
	var corrupt *aggregation.CorruptError
	var se *kcl.ShardError
	if !errors.As(err, &corrupt) || !errors.As(err, &se) {
		t.Fatalf("Process: %v, want a *ShardError wrapping *aggregation.CorruptError", err)
	}
	tbl, _ := leases.NewTable(env.DynamoDB, table)
	l, err := tbl.GetLease(t.Context(), good[0].ShardID)
	if err != nil {
		t.Fatal(err)
	}
	if l.Owner != "" {
		t.Errorf("lease still owned by %q", l.Owner)
	}
	if l.Checkpoint.IsSequenceNumber() && checkpointer.CompareSequenceNumbers(l.Checkpoint.SequenceNumber(), good[len(good)-1].SequenceNumber) > 0 {
		t.Errorf("checkpoint %v is past the last good record", l.Checkpoint)
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
	runConsumer(t, ctx, c)
	shard := <-c.Shards()
	<-shard.Batches() // taken, never checkpointed
	drained := make(chan error, 1)
	go func() {
		dctx, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		drained <- c.Drain(dctx)
	}()
	time.Sleep(300 * time.Millisecond) // the drain is waiting for the checkpoint
	if err := c.Stop(); err != nil {
		t.Logf("Stop: %v", err)
	}
	select {
	case <-drained:
	case <-time.After(30 * time.Second):
		t.Fatal("Drain still waiting 30 s after Stop")
	}
	<-c.Done()
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
