package efo_test

import (
	"encoding/json"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/google/go-cmp/cmp"

	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
)

// Tests of how subscriptions live through what kinesis-local does not do by itself: short
// subscriptions, resets, silence, refusals and the end of a shard, injected by
// internal/faults around the real emulator. Each test checks that exactly the records put
// arrive, in order.

// faultEnv is a stream with one shard, a consumer registered through an injector, and the
// shard's id.
type faultEnv struct {
	env    *testenv.Env
	inj    *faults.Injector
	stream *testenv.Stream
	c      *efo.Consumer
	shard  string
}

func newFaultEnv(t *testing.T, opts ...efo.Option) *faultEnv {
	t.Helper()
	env := testenv.New(t)
	inj := faults.New()
	stream := env.CreateStream(t, 1)
	f := &faultEnv{env: env, inj: inj, stream: stream, shard: *stream.Shards(t)[0].ShardId}
	f.c = newConsumer(t, env.NewKinesis(inj.Wrap), stream, opts...)
	return f
}

// starts returns where each SubscribeToShard call the injector saw started.
func starts(t *testing.T, inj *faults.Injector) []efo.StartPosition {
	t.Helper()
	var out []efo.StartPosition
	for _, c := range inj.Calls("SubscribeToShard") {
		var in struct {
			StartingPosition struct {
				Type           types.ShardIteratorType
				SequenceNumber string
				Timestamp      *float64
			}
		}
		if err := json.Unmarshal(c.Body, &in); err != nil {
			t.Fatalf("SubscribeToShard body %s: %v", c.Body, err)
		}
		p := efo.StartPosition{Type: in.StartingPosition.Type, SequenceNumber: in.StartingPosition.SequenceNumber}
		if ts := in.StartingPosition.Timestamp; ts != nil {
			sec, frac := math.Modf(*ts)
			p.Timestamp = time.Unix(int64(sec), int64(math.Round(frac*1e3))*1e6)
		}
		out = append(out, p)
	}
	return out
}

// expectPaced fails t when two SubscribeToShard calls came less than a second apart.
func expectPaced(t *testing.T, inj *faults.Injector) {
	t.Helper()
	calls := inj.Calls("SubscribeToShard")
	for i := 1; i < len(calls); i++ {
		// 100 ms of slack: the injector stamps a call after the SDK prepared it, which takes
		// varying time; TestSubscribeRate checks the exact spacing.
		if gap := calls[i].Time.Sub(calls[i-1].Time); gap < time.Second-100*time.Millisecond {
			t.Fatalf("SubscribeToShard calls %d and %d came %v apart", i-1, i, gap)
		}
	}
}

// TestRenewal: subscriptions that end (as at the 5-minute limit, made short by cutting each
// stream after its first event) are renewed AFTER the last continuation, and each batch of
// records put meanwhile arrives exactly. kinesis-local refuses a resubscribe for ~3 s after
// a close, with ResourceInUseException inside the stream: that is waited out too.
func TestRenewal(t *testing.T) {
	t.Parallel()
	delivered := &deliveryClock{}
	f := newFaultEnv(t, efo.WithMetrics(delivered))
	const rounds = 3
	cut := f.inj.Add(faults.Rule{Op: "SubscribeToShard", Times: rounds, Fault: faults.CutStream{AfterEvents: 1}})
	r := newReader(t, subscribe(t, f.c, f.shard, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon}))
	var want []testenv.Put
	for i := range rounds + 1 {
		want = append(want, f.stream.PutN(t, "round"+string(rune('a'+i)), 20)...)
		r.until(len(want), 30*time.Second)
	}
	expectExactly(t, r.records, want)
	if cut.Hits() != rounds {
		t.Fatalf("%d subscriptions cut, want %d", cut.Hits(), rounds)
	}
	// Every subscribe after the first continues AFTER exactly the last record handed on
	// before it was made (or at the start, while none was): one further back repeats
	// records, one further on skips them. The subscription reports each batch taken
	// (Delivered) before it can subscribe again, so the count it had reported when the
	// injector saw a call says which record that was.
	calls := f.inj.Calls("SubscribeToShard")
	for i, p := range starts(t, f.inj) {
		n := delivered.before(calls[i].Time)
		if n == 0 {
			if p.Type != types.ShardIteratorTypeTrimHorizon {
				t.Fatalf("subscribe %d, before any record, started at %v, want TRIM_HORIZON", i, p)
			}
			continue
		}
		want := efo.StartPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: aws.ToString(r.records[n-1].SequenceNumber)}
		if p != want {
			t.Fatalf("subscribe %d, after %d records, started at %v, want %v", i, n, p, want)
		}
	}
	expectPaced(t, f.inj)
}

// TestResourceInUse: SubscribeToShard refused with ResourceInUseException, from the call
// (injected) and from inside the stream (injected, and kinesis-local's own for a second
// live subscriber), is waited out and retried; no record is lost.
func TestResourceInUse(t *testing.T) {
	t.Parallel()
	t.Run("from the call and in the stream", func(t *testing.T) {
		t.Parallel()
		f := newFaultEnv(t)
		f.inj.Add(faults.Rule{Op: "SubscribeToShard", Times: 2, Fault: faults.ResourceInUse()})
		f.inj.Add(faults.Rule{Op: "SubscribeToShard", Times: 2, Fault: faults.StreamException{Type: "ResourceInUseException"}})
		want := f.stream.PutN(t, "riu", 30)
		r := newReader(t, subscribe(t, f.c, f.shard, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon}))
		expectExactly(t, r.until(len(want), 30*time.Second), want)
		if n := len(f.inj.Calls("SubscribeToShard")); n != 5 {
			t.Fatalf("%d SubscribeToShard calls, want 5 (4 refused)", n)
		}
		expectPaced(t, f.inj)
	})
	t.Run("second live subscriber", func(t *testing.T) {
		t.Parallel()
		f := newFaultEnv(t)
		first := subscribe(t, f.c, f.shard, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon})
		newReader(t, first).next(10 * time.Second) // live
		// Another worker's Consumer for the same consumer ARN: kinesis-local refuses it
		// inside the stream while the first subscription lives.
		other, err := efo.NewConsumerFromARN(f.env.NewKinesis(f.inj.Wrap), f.c.ARN(), fast()...)
		if err != nil {
			t.Fatal(err)
		}
		second := subscribe(t, other, f.shard, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon})
		want := f.stream.PutN(t, "two", 25)
		time.Sleep(2 * time.Second)
		select {
		case b := <-second.Batches():
			t.Fatalf("the second subscriber got a batch (%d records) while the first lived", len(b.Records))
		default:
		}
		first.Close()
		expectExactly(t, newReader(t, second).until(len(want), 30*time.Second), want)
	})
}

// TestResets: a connection reset before the call or in the middle of the event stream ends
// in a resubscribe from the last continuation.
func TestResets(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t)
	f.inj.Add(faults.Rule{Op: "SubscribeToShard", Times: 1, Fault: faults.ResetBefore()})
	mid := f.inj.Add(faults.Rule{Op: "SubscribeToShard", Times: 2, Fault: faults.CutStream{AfterEvents: 1, Err: faults.ConnReset(nil)}})
	r := newReader(t, subscribe(t, f.c, f.shard, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon}))
	var want []testenv.Put
	for _, round := range []string{"a", "b", "c"} {
		want = append(want, f.stream.PutN(t, "reset"+round, 20)...)
		r.until(len(want), 30*time.Second)
	}
	expectExactly(t, r.records, want)
	if mid.Hits() != 2 {
		t.Fatalf("%d streams reset, want 2", mid.Hits())
	}
	expectPaced(t, f.inj)
}

// TestIdleTimeout: a stream that goes silent (half-open) and a call that never answers are
// given up after the idle timeout, and the next subscription continues where the silent
// one stopped.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = 1500 * time.Millisecond
	f := newFaultEnv(t, efo.WithIdleTimeout(idle))
	hang := f.inj.Add(faults.Rule{Op: "SubscribeToShard", Times: 1, Fault: faults.HangStream{AfterEvents: 1}})
	stall := f.inj.Add(faults.Rule{Op: "SubscribeToShard", Times: 1, Fault: faults.Stall{For: time.Minute}})
	first := f.stream.PutN(t, "idle-a", 10)
	r := newReader(t, subscribe(t, f.c, f.shard, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon}))
	r.until(len(first), 20*time.Second)
	more := f.stream.PutN(t, "idle-b", 10)
	expectExactly(t, r.until(len(first)+len(more), 30*time.Second), append(first, more...))
	if hang.Hits() != 1 || stall.Hits() != 1 {
		t.Fatalf("hang hit %d times, stall %d, want 1 each", hang.Hits(), stall.Hits())
	}
	calls := f.inj.Calls("SubscribeToShard")
	if gap := calls[1].Time.Sub(calls[0].Time); gap < idle {
		t.Fatalf("resubscribed %v after a stream that went silent, want the idle timeout %v", gap, idle)
	}
	if gap := calls[2].Time.Sub(calls[1].Time); gap < idle {
		t.Fatalf("gave up a hanging call after %v, want the idle timeout %v", gap, idle)
	}
	if p := starts(t, f.inj)[1]; p.Type != types.ShardIteratorTypeAfterSequenceNumber || p.SequenceNumber != first[len(first)-1].SequenceNumber {
		t.Fatalf("after the silent stream resubscribed at %v, want AFTER %s", p, first[len(first)-1].SequenceNumber)
	}
}

// TestLatestPinnedOnEmulator: a LATEST subscription refused before its first event retries
// pinned to the time of its first call, so records put right after that call arrive, while
// records put well before it do not.
func TestLatestPinnedOnEmulator(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t)
	f.stream.PutN(t, "old", 10)
	time.Sleep(2 * time.Second) // beyond the clock allowance of the pin
	refused := f.inj.Add(faults.Rule{Op: "SubscribeToShard", Times: 1, Fault: faults.StreamException{Type: "ResourceInUseException"}})
	r := newReader(t, subscribe(t, f.c, f.shard, efo.StartPosition{Type: types.ShardIteratorTypeLatest}))
	if err := refused.Wait(testenv.WithTimeout(t, 10*time.Second), 1); err != nil {
		t.Fatal(err)
	}
	want := f.stream.PutN(t, "new", 10) // after the first call, before the retry
	expectExactly(t, r.until(len(want), 30*time.Second), want)
	r.quiet(1200 * time.Millisecond)
	if p := starts(t, f.inj); len(p) < 2 || p[0].Type != types.ShardIteratorTypeLatest || p[1].Type != types.ShardIteratorTypeAtTimestamp {
		t.Fatalf("started at %v, want LATEST then AT_TIMESTAMP", p)
	}
}

// TestShardEnd: the final event of a closed shard (ChildShards, no continuation; injected,
// since kinesis-local never sends it) hands on a ShardEnd batch with the children after
// every record of the shard, and ends the subscription with a nil Err.
func TestShardEnd(t *testing.T) {
	t.Parallel()
	f := newFaultEnv(t)
	want := f.stream.PutN(t, "parent", 40)
	f.stream.Split(t, f.shard)
	children, err := faults.ChildrenOf(t.Context(), f.env.Kinesis, f.stream.Name, f.shard)
	if err != nil || len(children) != 2 {
		t.Fatalf("children of %s: %v, %v", f.shard, children, err)
	}
	f.inj.Add(faults.Rule{Op: "SubscribeToShard", Shard: f.shard,
		Fault: faults.EndShard{Children: children, LastSequenceNumber: want[len(want)-1].SequenceNumber}})
	sub := subscribe(t, f.c, f.shard, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon})
	r := newReader(t, sub)
	for r.end == nil {
		r.next(30 * time.Second)
	}
	expectExactly(t, r.records, want)
	if diff := cmp.Diff(childIDs(children), childIDs(r.end.ChildShards)); diff != "" {
		t.Fatalf("children (-want +got):\n%s", diff)
	}
	if err := waitEnded(t, sub, 10*time.Second); err != nil {
		t.Fatalf("Err after the shard's end = %v, want nil", err)
	}
}

func childIDs(cs []types.ChildShard) [][]string {
	var ids [][]string
	for _, c := range cs {
		ids = append(ids, append([]string{aws.ToString(c.ShardId)}, c.ParentShards...))
	}
	return ids
}

// TestPermanentServiceErrors reach the caller as a *ShardError of the right kind that
// unwraps to the SDK's error: a consumer deregistered meanwhile (kinesis-local's own
// ResourceNotFoundException), and access denied from the call or inside the stream.
func TestPermanentServiceErrors(t *testing.T) {
	t.Parallel()
	t.Run("consumer deregistered", func(t *testing.T) {
		t.Parallel()
		f := newFaultEnv(t)
		if err := efo.DeregisterConsumer(t.Context(), f.env.Kinesis, f.stream.ARN, f.c.Name()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond) // DELETING, then gone
		sub := subscribe(t, f.c, f.shard, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon})
		err := waitEnded(t, sub, 20*time.Second)
		var se *efo.ShardError
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &se) || se.ShardID != f.shard || !errors.Is(err, efo.ErrNotFound) || !errors.As(err, &nf) {
			t.Fatalf("Err = %v, want a ShardError of %s with ErrNotFound and ResourceNotFoundException", err, f.shard)
		}
	})
	t.Run("stream deleted while subscribed", func(t *testing.T) {
		t.Parallel()
		f := newFaultEnv(t)
		// kinesis-local keeps a live subscription going after its stream is deleted; real
		// Kinesis ends it. Short subscriptions make the package resubscribe and learn.
		f.inj.Add(faults.Rule{Op: "SubscribeToShard", Fault: faults.CutStream{AfterEvents: 2}})
		want := f.stream.PutN(t, "doomed", 10)
		sub := subscribe(t, f.c, f.shard, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon})
		r := newReader(t, sub)
		r.until(len(want), 20*time.Second)
		if _, err := f.env.Kinesis.DeleteStream(t.Context(), &kinesis.DeleteStreamInput{
			StreamName: aws.String(f.stream.Name), EnforceConsumerDeletion: aws.Bool(true),
		}); err != nil {
			t.Fatal(err)
		}
		err := waitEnded(t, sub, 30*time.Second)
		expectExactly(t, r.records, want)
		if !errors.Is(err, efo.ErrNotFound) {
			t.Fatalf("Err = %v, want ErrNotFound", err)
		}
	})
	for _, fault := range []faults.Fault{faults.AccessDenied(), faults.StreamException{AfterEvents: 1, Type: "AccessDeniedException"}} {
		t.Run(fault.(interface{ String() string }).String(), func(t *testing.T) {
			t.Parallel()
			f := newFaultEnv(t)
			f.stream.PutN(t, "denied", 5)
			f.inj.Add(faults.Rule{Op: "SubscribeToShard", Fault: fault})
			sub := subscribe(t, f.c, f.shard, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon})
			err := waitEnded(t, sub, 20*time.Second)
			var denied *types.AccessDeniedException
			if !errors.Is(err, efo.ErrAccessDenied) || !errors.As(err, &denied) {
				t.Fatalf("Err = %v, want ErrAccessDenied wrapping AccessDeniedException", err)
			}
			if n := len(f.inj.Calls("SubscribeToShard")); n != 1 {
				t.Fatalf("%d SubscribeToShard calls, want 1: a permanent error is not retried", n)
			}
		})
	}
}

// waitEnded waits until Batches is closed (draining it) and returns Err.
func waitEnded(t *testing.T, sub *efo.Subscription, d time.Duration) error {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-sub.Batches():
			if !ok {
				return sub.Err()
			}
		case <-timer.C:
			t.Fatalf("subscription still running after %v", d)
		}
	}
}

// deliveryClock is a Metrics that notes when each batch was taken and how many records had
// been taken by then.
type deliveryClock struct {
	mu    sync.Mutex
	at    []time.Time
	total []int
}

func (d *deliveryClock) Subscribed(string, error)           {}
func (d *deliveryClock) SessionEnded(string, efo.EndReason) {}
func (d *deliveryClock) Delivered(_ string, records int, _ int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := records
	if k := len(d.total); k > 0 {
		n += d.total[k-1]
	}
	d.at = append(d.at, time.Now())
	d.total = append(d.total, n)
}

// before is how many records had been taken before t.
func (d *deliveryClock) before(t time.Time) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for i, at := range d.at {
		if at.Before(t) {
			n = d.total[i]
		}
	}
	return n
}
