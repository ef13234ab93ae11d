package faults_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
)

// TestSkipTimes shows a rule lets Skip calls through, injects Times, then lets calls through again.
func TestSkipTimes(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	inj := faults.New()
	client := env.NewKinesis(inj.Wrap, noRetries)
	list := func() error {
		_, err := client.ListShards(t.Context(), &kinesis.ListShardsInput{StreamName: aws.String(stream.Name)})
		return err
	}

	h := inj.Add(faults.Rule{Op: "ListShards", Skip: 2, Times: 3, Fault: faults.Throttle()})
	var got []bool
	for range 7 {
		err := list()
		if err != nil && !errorAs[*types.ProvisionedThroughputExceededException](err) {
			t.Fatalf("ListShards: unexpected error %v", err)
		}
		got = append(got, err != nil)
	}
	want := []bool{false, false, true, true, true, false, false}
	if !slices.Equal(got, want) {
		t.Errorf("calls failed %v, want %v", got, want)
	}
	if !slices.Equal(injected(inj, "ListShards"), want) {
		t.Errorf("log says injected %v, want %v", injected(inj, "ListShards"), want)
	}
	if h.Hits() != 3 || h.Seen() != 7 {
		t.Errorf("Hits() = %d, Seen() = %d, want 3 and 7", h.Hits(), h.Seen())
	}

	h.Remove()
	every := inj.Add(faults.Rule{Op: "ListShards", Fault: faults.Throttle()}) // Times 0: until removed
	for i := range 3 {
		if err := list(); err == nil {
			t.Fatalf("call %d under a Times-0 rule got through", i)
		}
	}
	every.Remove()
	if err := list(); err != nil {
		t.Fatalf("after Remove: %v", err)
	}
	if every.Hits() != 3 {
		t.Errorf("Hits() = %d, want 3", every.Hits())
	}
	// Another operation never fitted.
	if _, err := client.DescribeStreamSummary(t.Context(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream.Name)}); err != nil {
		t.Errorf("DescribeStreamSummary: %v", err)
	}
	log := inj.Log()
	for i, c := range log {
		if c.Seq != i+1 || c.Service != faults.ServiceKinesis || c.Stream != stream.Name || c.Time.IsZero() {
			t.Errorf("log[%d] = %+v: want Seq %d, Kinesis, stream %s, a time", i, c, i+1, stream.Name)
		}
	}
	if last := log[len(log)-1]; last.Op != "DescribeStreamSummary" || last.Injected {
		t.Errorf("last call %+v, want DescribeStreamSummary, not injected", last)
	}
}

// TestRuleOrder shows that the first due rule with a fault wins, every fitting rule counts
// the call, and an observer rule (no fault) counts without taking the call.
func TestRuleOrder(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	inj := faults.New()
	client := env.NewKinesis(inj.Wrap, noRetries)

	observer := inj.Add(faults.Rule{Op: "ListShards"})
	first := inj.Add(faults.Rule{Op: "ListShards", Skip: 1, Times: 1, Fault: faults.Throttle()})
	second := inj.Add(faults.Rule{Op: "ListShards", Times: 2, Fault: faults.LimitExceeded()})
	var got []string
	for range 4 {
		_, err := client.ListShards(t.Context(), &kinesis.ListShardsInput{StreamName: aws.String(stream.Name)})
		switch {
		case err == nil:
			got = append(got, "ok")
		case errorAs[*types.ProvisionedThroughputExceededException](err):
			got = append(got, "throttle")
		case errorAs[*types.LimitExceededException](err):
			got = append(got, "limit")
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	// Call 1: first skips, second injects. Call 2: first injects, second is due but loses.
	// Call 3: first is spent, second injects its second hit. Call 4: nothing is due.
	want := []string{"limit", "throttle", "limit", "ok"}
	if !slices.Equal(got, want) {
		t.Errorf("results %v, want %v", got, want)
	}
	if observer.Hits() != 4 || observer.Seen() != 4 {
		t.Errorf("observer: Hits %d Seen %d, want 4 and 4", observer.Hits(), observer.Seen())
	}
	if first.Hits() != 1 || second.Hits() != 2 || second.Seen() != 4 {
		t.Errorf("first.Hits %d, second.Hits %d, second.Seen %d; want 1, 2, 4", first.Hits(), second.Hits(), second.Seen())
	}
	if c := inj.Calls("ListShards")[1]; c.Fault != "ProvisionedThroughputExceededException" {
		t.Errorf("call 2 logged fault %q, want ProvisionedThroughputExceededException", c.Fault)
	}

	inj.RemoveAll()
	if _, err := client.ListShards(t.Context(), &kinesis.ListShardsInput{StreamName: aws.String(stream.Name)}); err != nil {
		t.Errorf("after RemoveAll: %v", err)
	}
	if observer.Seen() != 4 {
		t.Errorf("a removed observer still counts: Seen %d", observer.Seen())
	}
}

// TestInvalidRule shows a rule with a negative count fails the calls it fits, naming the field.
func TestInvalidRule(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	inj := faults.New()
	client := env.NewKinesis(inj.Wrap, noRetries)
	inj.Add(faults.Rule{Op: "ListStreams", Times: -1, Fault: faults.Throttle()})
	_, err := client.ListStreams(t.Context(), &kinesis.ListStreamsInput{})
	if err == nil || !strings.Contains(err.Error(), "Times -1") {
		t.Fatalf("ListStreams under an invalid rule: %v, want an error naming Times -1", err)
	}
}

// TestPerShard shows a rule for one shard leaves the other alone, for GetShardIterator (by
// ShardId) and for GetRecords (by the iterator, followed through NextShardIterator).
func TestPerShard(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	byShard := testenv.ByShard(stream.PutN(t, "per-shard", 40))
	shards := stream.Shards(t)
	s0, s1 := aws.ToString(shards[0].ShardId), aws.ToString(shards[1].ShardId)
	if len(byShard[s0]) == 0 || len(byShard[s1]) == 0 {
		t.Fatalf("records did not land on both shards: %d and %d", len(byShard[s0]), len(byShard[s1]))
	}

	inj := faults.New()
	client := env.NewKinesis(inj.Wrap, noRetries)
	getRecs := inj.Add(faults.Rule{Op: "GetRecords", Shard: s1, Skip: 1, Fault: faults.Throttle()})
	getIter := inj.Add(faults.Rule{Op: "GetShardIterator", Shard: s1, Skip: 1, Times: 1, Fault: faults.ResourceInUse()})

	// Shard 0: every call gets through, iterator after iterator.
	it0 := iterator(t, client, stream.Name, s0)
	for i := range 3 {
		out, err := client.GetRecords(t.Context(), &kinesis.GetRecordsInput{ShardIterator: it0, Limit: aws.Int32(5)})
		if err != nil {
			t.Fatalf("shard 0 GetRecords %d: %v", i, err)
		}
		it0 = out.NextShardIterator
	}
	// Shard 1: the first GetRecords is skipped, the next one, with the iterator the first
	// returned, is throttled.
	it1 := iterator(t, client, stream.Name, s1)
	out, err := client.GetRecords(t.Context(), &kinesis.GetRecordsInput{ShardIterator: it1, Limit: aws.Int32(5)})
	if err != nil {
		t.Fatalf("shard 1 GetRecords 1 (skipped): %v", err)
	}
	_, err = client.GetRecords(t.Context(), &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator, Limit: aws.Int32(5)})
	if !errorAs[*types.ProvisionedThroughputExceededException](err) {
		t.Fatalf("shard 1 GetRecords 2: %v, want ProvisionedThroughputExceededException", err)
	}
	// The second GetShardIterator of shard 1 fails; shard 0's still works.
	_, err = client.GetShardIterator(t.Context(), &kinesis.GetShardIteratorInput{
		StreamName: aws.String(stream.Name), ShardId: aws.String(s1), ShardIteratorType: types.ShardIteratorTypeLatest,
	})
	if !errorAs[*types.ResourceInUseException](err) {
		t.Fatalf("shard 1 GetShardIterator 2: %v, want ResourceInUseException", err)
	}
	iterator(t, client, stream.Name, s0)

	if getRecs.Seen() != 2 || getRecs.Hits() != 1 || getIter.Seen() != 2 || getIter.Hits() != 1 {
		t.Errorf("GetRecords rule Seen %d Hits %d, GetShardIterator rule Seen %d Hits %d; want 2 1 2 1",
			getRecs.Seen(), getRecs.Hits(), getIter.Seen(), getIter.Hits())
	}
	var shardsSeen []string
	for _, c := range inj.Calls("GetRecords") {
		if c.Stream != stream.Name {
			t.Errorf("GetRecords call %d: stream %q, want %q", c.Seq, c.Stream, stream.Name)
		}
		shardsSeen = append(shardsSeen, c.Shard)
	}
	if want := []string{s0, s0, s0, s1, s1}; !slices.Equal(shardsSeen, want) {
		t.Errorf("GetRecords calls were for shards %v, want %v", shardsSeen, want)
	}
}

// TestWait shows Handle.Wait returns once the rule has its hits, and gives up with the context.
func TestWait(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	inj := faults.New()
	client := env.NewKinesis(inj.Wrap, noRetries)
	h := inj.Add(faults.Rule{Op: "ListStreams", Times: 1, Fault: faults.Throttle()})

	ctx := testenv.WithTimeout(t, 50*time.Millisecond)
	if err := h.Wait(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait before any call: %v, want the context's error", err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Wait(t.Context(), 1) }()
	_, _ = client.ListStreams(t.Context(), &kinesis.ListStreamsInput{})
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after the hit")
	}
}
