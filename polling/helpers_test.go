package polling_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/polling"
)

// newPoller returns a Poller for client, failing t on a bad option.
func newPoller(t testing.TB, client polling.GetRecordsAPI, opts ...polling.Option) *polling.Poller {
	t.Helper()
	p, err := polling.New(client, opts...)
	if err != nil {
		t.Fatalf("polling.New: %v", err)
	}
	return p
}

// startReader starts a reader that is closed when t ends.
func startReader(t testing.TB, ctx context.Context, p *polling.Poller, stream, shardID string, pos polling.StartPosition) *polling.ShardReader {
	t.Helper()
	r, err := p.ReadShard(ctx, stream, shardID, pos)
	if err != nil {
		t.Fatalf("ReadShard %s %s: %v", shardID, pos, err)
	}
	t.Cleanup(r.Close)
	return r
}

// next takes the reader's next batch, failing t when the reader ends instead.
func next(t testing.TB, r *polling.ShardReader) polling.Batch {
	t.Helper()
	b, ok := <-r.Batches()
	if !ok {
		t.Fatalf("shard %s: reader ended early: %v", r.ShardID(), r.Err())
	}
	if b.ShardID != r.ShardID() {
		t.Fatalf("batch of shard %s from the reader of %s", b.ShardID, r.ShardID())
	}
	return b
}

// readCaughtUp reads until it has n records and then a batch that shows the shard caught up
// with nothing more to read, so that any record beyond the n would have shown up.
func readCaughtUp(t testing.TB, r *polling.ShardReader, n int) []types.Record {
	t.Helper()
	var got []types.Record
	for {
		b := next(t, r)
		got = append(got, b.Records...)
		if len(got) >= n && len(b.Records) == 0 && b.MillisBehindLatest == 0 {
			return got
		}
		if b.ShardEnd {
			t.Fatalf("shard %s ended after %d records, want %d on an open shard", r.ShardID(), len(got), n)
		}
	}
}

// readToEnd reads until the reader ends and returns the records and the last batch.
func readToEnd(t testing.TB, r *polling.ShardReader) ([]types.Record, polling.Batch) {
	t.Helper()
	var got []types.Record
	var last polling.Batch
	for b := range r.Batches() {
		if last.ShardEnd {
			t.Fatalf("shard %s: batch after the shard-end batch", r.ShardID())
		}
		got = append(got, b.Records...)
		last = b
	}
	return got, last
}

// checkRecords fails t unless got is exactly want, in order.
func checkRecords(t testing.TB, shardID string, got []types.Record, want []testenv.Put) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if aws.ToString(g.SequenceNumber) != w.SequenceNumber || string(g.Data) != string(w.Data) ||
			aws.ToString(g.PartitionKey) != w.PartitionKey {
			t.Fatalf("shard %s record %d: got %s %q (key %s), want %s %q (key %s)", shardID, i,
				aws.ToString(g.SequenceNumber), g.Data, aws.ToString(g.PartitionKey), w.SequenceNumber, w.Data, w.PartitionKey)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("shard %s: got %d records, want %d", shardID, len(got), len(want))
	}
}
