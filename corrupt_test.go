package kcl_test

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/leases"
)

// TestCorruptAggregatePolicies: DeliverCorrupt hands the corrupt Kinesis record over whole,
// in its place and marked Corrupt, for a dead-letter queue; SkipCorrupt leaves it out with
// an error-level log line. Either way the count reaches the metrics, every other record is
// delivered in order, and checkpoints move past the corrupt record.
func TestCorruptAggregatePolicies(t *testing.T) {
	for _, policy := range []kcl.CorruptRecordPolicy{kcl.DeliverCorrupt, kcl.SkipCorrupt} {
		t.Run(policy.String(), func(t *testing.T) {
			env := testenv.New(t)
			stream := env.CreateStream(t, 1)
			table := env.LeaseTable(t)
			bad := corruptAggregate()
			puts := stream.PutN(t, "good", 5)
			corrupt := stream.Put(t, testenv.Record{PartitionKey: "a", Data: bad})
			puts = append(puts, stream.PutN(t, "after", 3)...)
			cfg := newConfig(t, env, stream, table)
			cfg.Retrieval = kcl.Polling
			cfg.CorruptRecords = policy
			m := &recordCounter{}
			cfg.Metrics = m
			logger, logs := newLogCapture(t)
			cfg.Logger = logger
			c := mustNew(t, cfg)
			ctx := testenv.WithTimeout(t, time.Minute)
			runConsumer(t, ctx, c)

			var got, deadLetter []kcl.Record
			shard := <-c.Shards()
			for len(got) < len(puts) {
				var b kcl.Batch
				select {
				case b = <-shard.Batches():
				case <-ctx.Done():
					t.Fatalf("got %d of %d records; shard: %v", len(got), len(puts), shard.Err())
				}
				for _, r := range b.Records {
					if r.Corrupt {
						deadLetter = append(deadLetter, r)
						if len(got) != 5 {
							t.Errorf("corrupt record after %d records, want after the 5 before it", len(got))
						}
						continue
					}
					got = append(got, r)
				}
				if err := b.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for i, r := range got {
				if string(r.Data) != string(puts[i].Data) {
					t.Fatalf("record %d is %q, want %q", i, r.Data, puts[i].Data)
				}
			}
			switch policy {
			case kcl.DeliverCorrupt:
				if len(deadLetter) != 1 || !bytes.Equal(deadLetter[0].Data, bad) || deadLetter[0].SequenceNumber != corrupt[0].SequenceNumber ||
					deadLetter[0].PartitionKey != "a" || deadLetter[0].SubSequenceNumber != 0 {
					t.Errorf("delivered as corrupt: %+v, want the whole record %s", deadLetter, corrupt[0].SequenceNumber)
				}
			case kcl.SkipCorrupt:
				if len(deadLetter) != 0 {
					t.Errorf("%d records marked Corrupt with SkipCorrupt", len(deadLetter))
				}
				lines := logs.find(slog.LevelError, "corrupt KPL aggregate")
				if len(lines) != 1 || lines[0].attrs["sequenceNumber"] != corrupt[0].SequenceNumber {
					t.Errorf("error-level log lines about the skipped record: %+v", lines)
				}
			}
			if n, _ := m.counts(); n != 1 {
				t.Errorf("CorruptRecord metric counted %d, want 1", n)
			}
			tbl, _ := leases.NewTable(env.DynamoDB, table)
			l, err := tbl.GetLease(ctx, puts[0].ShardID)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := checkpointer.ParseSequenceNumber(puts[len(puts)-1].SequenceNumber, 0); l.Checkpoint != want {
				t.Errorf("checkpoint %v, want the last record %v", l.Checkpoint, want)
			}
		})
	}
}
