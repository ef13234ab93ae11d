package polling_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/polling"
)

// TestLatestPinnedAcrossExpiredIterators starts a reader at LATEST whose iterators keep
// expiring before it hands anything on, while records are put: the fresh iterators must not
// jump to a newer LATEST, or those records would be skipped.
func TestLatestPinnedAcrossExpiredIterators(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	shard := stream.Shards(t)[0]
	inj := faults.New()
	expire := inj.Add(faults.Rule{Op: "GetRecords", Skip: 1, Fault: faults.ExpireIterator()})
	kc := env.NewKinesis(inj.Wrap, func(o *kinesis.Options) { o.RetryMaxAttempts = 1 })
	p := newPoller(t, kc)
	ctx := testenv.WithTimeout(t, time.Minute)
	r := startReader(t, ctx, p, stream.Name, *shard.ShardId, polling.Latest())

	// The first GetRecords went through at LATEST; every later one finds its iterator
	// expired. Put the records once an expiry happened, and let more fresh iterators come.
	if err := expire.Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	puts := stream.PutN(t, "while-expired", 20)
	deadline := time.Now().Add(30 * time.Second)
	for n := len(iteratorRequests(t, inj)); len(iteratorRequests(t, inj)) < n+2; {
		if time.Now().After(deadline) {
			t.Fatalf("no two fresh iterators within 30 s of the expiry (%d requests)", len(iteratorRequests(t, inj)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	expire.Remove()
	got := readCaughtUp(t, r, len(puts))
	if len(got) != len(puts) {
		t.Fatalf("read %d records, want the %d put while the iterators kept expiring", len(got), len(puts))
	}
	checkRecords(t, *shard.ShardId, got, puts)
	for i, req := range iteratorRequests(t, inj)[1:] {
		if req.ShardIteratorType != "AT_TIMESTAMP" {
			t.Errorf("iterator request %d after expiry: %s, want AT_TIMESTAMP pinned at the first call", i+1, req.ShardIteratorType)
		}
	}
}
