package efo

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

var (
	trimHorizon = StartPosition{Type: types.ShardIteratorTypeTrimHorizon}
	latest      = StartPosition{Type: types.ShardIteratorTypeLatest}
)

// afterSeq is where a resubscribe must continue: AFTER_SEQUENCE_NUMBER of seq, spelled out
// here rather than taken from the code under test.
func afterSeq(seq string) StartPosition {
	return StartPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: seq}
}

// errBlockCall makes the fake's call hang until its context ends.
var errBlockCall = errors.New("block the call")

// shardEnd is the final event of a closed shard with two children.
func shardEnd(seqs ...int) types.SubscribeToShardEventStream {
	ev := event("", seqs...).(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
	ev.Value.ChildShards = []types.ChildShard{
		{ShardId: aws.String("shardId-000000000001"), ParentShards: []string{"shardId-000000000000"}},
		{ShardId: aws.String("shardId-000000000002"), ParentShards: []string{"shardId-000000000000"}},
	}
	return ev
}

func connReset() error {
	return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
}

// TestResumeAfterEachKindOfEnd: whatever ends a subscription that delivered records (a clean
// end by the server, a reset, ResourceInUse inside the stream, a server fault, silence), the
// next subscribe continues AFTER the last continuation, and no record is lost or repeated.
func TestResumeAfterEachKindOfEnd(t *testing.T) {
	const idle = 10 * time.Second
	tests := []struct {
		name    string
		first   *fakeStream
		minWait time.Duration // from the first call to the second
	}{
		{"clean end", &fakeStream{events: []types.SubscribeToShardEventStream{event(seq(2), 1, 2)}}, time.Second},
		{"reset", &fakeStream{events: []types.SubscribeToShardEventStream{event(seq(2), 1, 2)}, err: connReset()}, time.Second},
		{"ResourceInUse in stream", &fakeStream{events: []types.SubscribeToShardEventStream{event(seq(2), 1, 2)}, err: &types.ResourceInUseException{Message: aws.String("taken over")}}, time.Second},
		{"internal failure in stream", &fakeStream{events: []types.SubscribeToShardEventStream{event(seq(2), 1, 2)}, err: &types.InternalFailureException{}}, time.Second},
		{"idle", &fakeStream{events: []types.SubscribeToShardEventStream{event(seq(2), 1, 2)}, hang: true}, idle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeKinesis{script: func(n int, start StartPosition) (*fakeStream, error) {
					if n == 0 {
						return tt.first, nil
					}
					return &fakeStream{events: []types.SubscribeToShardEventStream{event(seq(4), 3, 4), shardEnd(5)}}, nil
				}}
				sub, err := fakeConsumer(t, f, WithIdleTimeout(idle)).Subscribe(t.Context(), "shardId-000000000000", trimHorizon)
				if err != nil {
					t.Fatal(err)
				}
				got, batches := drain(sub)
				if err := sub.Err(); err != nil {
					t.Fatalf("Err after shard end = %v", err)
				}
				if !slices.Equal(got, seqRange(1, 5)) {
					t.Fatalf("records %v, want 1..5", got)
				}
				if last := batches[len(batches)-1]; !last.ShardEnd || len(last.ChildShards) != 2 {
					t.Fatalf("last batch %+v, want the shard end with 2 children", last)
				}
				calls := f.callLog()
				if len(calls) != 2 {
					t.Fatalf("%d calls, want 2", len(calls))
				}
				if calls[0].start != trimHorizon || calls[1].start != afterSeq(seq(2)) {
					t.Fatalf("started at %v then %v, want TRIM_HORIZON then AFTER %s", calls[0].start, calls[1].start, seq(2))
				}
				if gap := calls[1].at.Sub(calls[0].at); gap < tt.minWait || gap > tt.minWait+time.Second {
					t.Fatalf("resubscribed %v after the first call, want %v", gap, tt.minWait)
				}
			})
		})
	}
}

// TestIdleTimeoutCoversAHangingCall: a SubscribeToShard call that never answers is given up
// after the idle timeout and made again.
func TestIdleTimeoutCoversAHangingCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeKinesis{}
		f.script = func(n int, start StartPosition) (*fakeStream, error) {
			if n == 0 {
				return nil, errBlockCall
			}
			return &fakeStream{events: []types.SubscribeToShardEventStream{shardEnd(1)}}, nil
		}
		c := fakeConsumer(t, f, WithIdleTimeout(5*time.Second))
		base := c.subscribe
		c.subscribe = func(ctx context.Context, in *kinesis.SubscribeToShardInput) (eventStream, transportInfo, error) {
			es, info, err := base(ctx, in)
			if errors.Is(err, errBlockCall) {
				<-ctx.Done()
				return nil, info, context.Cause(ctx)
			}
			return es, info, err
		}
		sub, err := c.Subscribe(t.Context(), "shardId-000000000000", trimHorizon)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := drain(sub)
		calls := f.callLog()
		if sub.Err() != nil || !slices.Equal(got, []string{seq(1)}) || len(calls) != 2 {
			t.Fatalf("Err %v, records %v, %d calls", sub.Err(), got, len(calls))
		}
		// The hung call is retried after the idle timeout plus a backoff (it delivered nothing).
		if gap := calls[1].at.Sub(calls[0].at); gap < 5*time.Second || gap > 5*time.Second+DefaultRetryMin {
			t.Fatalf("second call %v after the first, want 5 s and at most one backoff", gap)
		}
	})
}

// TestStalledConsumer: while nobody takes, the subscription holds at most its buffer plus
// the batch in hand, reads no further, and is not taken for idle however long it waits; when
// the consumer comes back, everything arrives in order.
func TestStalledConsumer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const buffer = 4
		stream := &fakeStream{endless: func(i int) types.SubscribeToShardEventStream { return event(seq(i+1), i+1) }}
		f := &fakeKinesis{script: func(n int, start StartPosition) (*fakeStream, error) { return stream, nil }}
		ctx, cancel := context.WithCancelCause(t.Context())
		sub, err := fakeConsumer(t, f, WithBufferSize(buffer), WithIdleTimeout(35*time.Second)).Subscribe(ctx, "shardId-000000000000", trimHorizon)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if n := stream.taken(); n != buffer+1 {
			t.Fatalf("a stalled subscription took %d events, want %d (buffer + the one in hand)", n, buffer+1)
		}
		if n := len(f.callLog()); n != 1 {
			t.Fatalf("%d calls while the consumer stalled, want 1", n)
		}
		for i := 1; i <= 100; i++ {
			b := <-sub.Batches()
			if len(b.Records) != 1 || aws.ToString(b.Records[0].SequenceNumber) != seq(i) {
				t.Fatalf("batch %d: %v", i, b.Records)
			}
		}
		cause := errors.New("worker stops")
		cancel(cause)
		drain(sub)
		if err := sub.Err(); err != cause {
			t.Fatalf("Err after cancel = %v, want the context's cause", err)
		}
	})
}

// TestSubscribeRate: one SubscribeToShard per second per shard at most, also when two
// subscriptions of the same consumer read the same shard (a lease lost and taken again).
func TestSubscribeRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Every subscription delivers one event and ends cleanly: resubscribes come as fast
		// as they may.
		f := &fakeKinesis{script: func(n int, start StartPosition) (*fakeStream, error) {
			return &fakeStream{events: []types.SubscribeToShardEventStream{event(seq(n+1), n+1)}}, nil
		}}
		c := fakeConsumer(t, f)
		ctx, cancel := context.WithCancel(t.Context())
		var subs []*Subscription
		for range 2 {
			sub, err := c.Subscribe(ctx, "shardId-000000000000", trimHorizon)
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, sub)
			go drain(sub)
		}
		time.Sleep(20*time.Second - time.Nanosecond)
		cancel()
		for _, s := range subs {
			s.Close()
		}
		calls := f.callLog()
		if len(calls) != 20 {
			t.Fatalf("%d calls in 20 s, want 20 (one a second)", len(calls))
		}
		for i := 1; i < len(calls); i++ {
			if gap := calls[i].at.Sub(calls[i-1].at); gap < time.Second {
				t.Fatalf("calls %d and %d %v apart", i-1, i, gap)
			}
		}
	})
}

// TestRetryBackoff: calls refused with ResourceInUse or LimitExceeded are retried after a
// jittered, growing backoff, never sooner than a second, until one succeeds.
func TestRetryBackoff(t *testing.T) {
	for _, refusal := range []error{&types.ResourceInUseException{}, &types.LimitExceededException{}, connReset()} {
		t.Run(errorCode(refusal)+refusal.Error(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const refusals = 6
				f := &fakeKinesis{script: func(n int, start StartPosition) (*fakeStream, error) {
					if n < refusals {
						return nil, refusal
					}
					return &fakeStream{events: []types.SubscribeToShardEventStream{shardEnd(1)}}, nil
				}}
				min, max := time.Second, 8*time.Second
				sub, err := fakeConsumer(t, f, WithRetryBackoff(min, max)).Subscribe(t.Context(), "shardId-000000000000", trimHorizon)
				if err != nil {
					t.Fatal(err)
				}
				if got, _ := drain(sub); sub.Err() != nil || !slices.Equal(got, []string{seq(1)}) {
					t.Fatalf("Err %v, records %v", sub.Err(), got)
				}
				calls := f.callLog()
				if len(calls) != refusals+1 {
					t.Fatalf("%d calls, want %d", len(calls), refusals+1)
				}
				for i := 1; i < len(calls); i++ {
					step := min << (i - 1)
					if step > max {
						step = max
					}
					lo, hi := maxDuration(time.Second, step/2), maxDuration(time.Second, step)
					if gap := calls[i].at.Sub(calls[i-1].at); gap < lo || gap > hi {
						t.Fatalf("retry %d came %v after the call before, want within [%v, %v]", i, gap, lo, hi)
					}
				}
			})
		})
	}
}

func maxDuration(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// TestLatestIsPinned: a LATEST subscription that ends before its first event resumes
// AT_TIMESTAMP of its first call (less the clock allowance), not at a newer LATEST; once an
// event came, it resumes AFTER its continuation.
func TestLatestIsPinned(t *testing.T) {
	for _, firstEnd := range []struct {
		name   string
		stream *fakeStream
		err    error
	}{
		{"refused call", nil, &types.ResourceInUseException{}},
		{"stream error before any event", &fakeStream{err: &types.InternalFailureException{}}, nil},
		{"silent stream", &fakeStream{hang: true}, nil},
	} {
		t.Run(firstEnd.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeKinesis{script: func(n int, start StartPosition) (*fakeStream, error) {
					switch n {
					case 0:
						return firstEnd.stream, firstEnd.err
					case 1:
						return &fakeStream{events: []types.SubscribeToShardEventStream{event(seq(10), 10)}}, nil
					}
					return &fakeStream{events: []types.SubscribeToShardEventStream{shardEnd(11)}}, nil
				}}
				sub, err := fakeConsumer(t, f, WithIdleTimeout(5*time.Second)).Subscribe(t.Context(), "shardId-000000000000", latest)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := drain(sub)
				if sub.Err() != nil || !slices.Equal(got, []string{seq(10), seq(11)}) {
					t.Fatalf("Err %v, records %v", sub.Err(), got)
				}
				calls := f.callLog()
				pinned := StartPosition{Type: types.ShardIteratorTypeAtTimestamp, Timestamp: calls[0].at.Add(-latestSkew)}
				want := []StartPosition{latest, pinned, afterSeq(seq(10))}
				if len(calls) != len(want) {
					t.Fatalf("%d calls, want %d", len(calls), len(want))
				}
				for i, c := range calls {
					if !c.start.Timestamp.Equal(want[i].Timestamp) || c.start.Type != want[i].Type || c.start.SequenceNumber != want[i].SequenceNumber {
						t.Fatalf("call %d started at %v, want %v", i, c.start, want[i])
					}
				}
			})
		})
	}
}

// TestPermanentErrors end the subscription with a *ShardError of the right kind that
// unwraps to the SDK's error, whether the call failed or the stream did, without retrying.
func TestPermanentErrors(t *testing.T) {
	tests := []struct {
		err  error
		kind error
	}{
		{&types.ResourceNotFoundException{}, ErrNotFound},
		{&types.AccessDeniedException{}, ErrAccessDenied},
		{&types.KMSAccessDeniedException{}, ErrAccessDenied},
		{&types.InvalidArgumentException{}, ErrInvalidArgument},
	}
	for _, tt := range tests {
		for _, inStream := range []bool{false, true} {
			name := errorCode(tt.err) + map[bool]string{false: " from the call", true: " in the stream"}[inStream]
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					f := &fakeKinesis{script: func(n int, start StartPosition) (*fakeStream, error) {
						if inStream {
							return &fakeStream{events: []types.SubscribeToShardEventStream{event(seq(1), 1)}, err: tt.err}, nil
						}
						return nil, tt.err
					}}
					sub, err := fakeConsumer(t, f).Subscribe(t.Context(), "shardId-000000000007", trimHorizon)
					if err != nil {
						t.Fatal(err)
					}
					drain(sub)
					var se *ShardError
					if !errors.As(sub.Err(), &se) || se.ShardID != "shardId-000000000007" || !errors.Is(sub.Err(), tt.kind) || !errors.Is(sub.Err(), tt.err) {
						t.Fatalf("Err = %v, want a ShardError of shardId-000000000007, %v, wrapping %T", sub.Err(), tt.kind, tt.err)
					}
					if n := len(f.callLog()); n != 1 {
						t.Fatalf("%d calls, want 1 (no retry of a permanent error)", n)
					}
				})
			})
		}
	}
}

// TestRepeatedRecordsAreDropped: should a resubscribe return a record already handed on,
// it is not handed on twice.
func TestRepeatedRecordsAreDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeKinesis{script: func(n int, start StartPosition) (*fakeStream, error) {
			if n == 0 {
				return &fakeStream{events: []types.SubscribeToShardEventStream{event(seq(3), 1, 2, 3)}}, nil
			}
			return &fakeStream{events: []types.SubscribeToShardEventStream{event(seq(5), 2, 3, 4, 5), shardEnd()}}, nil
		}}
		guard := &repeatsLog{}
		sub, err := fakeConsumer(t, f, WithLogger(slog.New(guard))).Subscribe(t.Context(), "shardId-000000000000", trimHorizon)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := drain(sub); !slices.Equal(got, seqRange(1, 5)) {
			t.Fatalf("records %v, want 1..5 once each", got)
		}
		if n := guard.n.Load(); n != 1 {
			t.Fatalf("the guard logged %q %d times, want once", repeatsGuardMessage, n)
		}
	})
}

// TestCloseAndCancel: Close ends the subscription with ErrClosed, a cancelled context with
// its cause; Subscribe on a done context fails. synctest.Test proves no goroutine is left.
func TestCloseAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeKinesis{script: func(n int, start StartPosition) (*fakeStream, error) {
			return &fakeStream{hang: true, events: []types.SubscribeToShardEventStream{event(seq(1), 1)}}, nil
		}}
		c := fakeConsumer(t, f)
		sub, err := c.Subscribe(t.Context(), "shardId-000000000000", trimHorizon)
		if err != nil {
			t.Fatal(err)
		}
		<-sub.Batches()
		sub.Close()
		if _, ok := <-sub.Batches(); ok || sub.Err() != ErrClosed {
			t.Fatalf("after Close: open %v, Err %v", ok, sub.Err())
		}
		sub.Close() // a second Close is harmless

		ctx, cancel := context.WithCancelCause(t.Context())
		cause := errors.New("lease lost")
		cancel(cause)
		if _, err := c.Subscribe(ctx, "shardId-000000000000", trimHorizon); err != cause {
			t.Fatalf("Subscribe on a cancelled context: %v, want its cause", err)
		}
	})
}

// recordingMetrics keeps every call of the hook.
type recordingMetrics struct {
	mu         sync.Mutex
	subscribed []error
	delivered  []int
	ended      []EndReason
}

func (m *recordingMetrics) Subscribed(_ string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subscribed = append(m.subscribed, err)
}

func (m *recordingMetrics) Delivered(_ string, records int, _ int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delivered = append(m.delivered, records)
}

func (m *recordingMetrics) SessionEnded(_ string, reason EndReason) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ended = append(m.ended, reason)
}

// TestMetrics: the hook hears of every call, every batch taken and every stream's end.
func TestMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		refused := &types.ResourceInUseException{}
		f := &fakeKinesis{script: func(n int, start StartPosition) (*fakeStream, error) {
			switch n {
			case 0:
				return &fakeStream{events: []types.SubscribeToShardEventStream{event(seq(2), 1, 2)}}, nil
			case 1:
				return nil, refused
			case 2:
				return &fakeStream{events: []types.SubscribeToShardEventStream{event(seq(3), 3)}, hang: true}, nil
			}
			return &fakeStream{events: []types.SubscribeToShardEventStream{event(seq(3)), shardEnd(4, 5)}}, nil
		}}
		m := &recordingMetrics{}
		sub, err := fakeConsumer(t, f, WithMetrics(m), WithIdleTimeout(5*time.Second)).Subscribe(t.Context(), "shardId-000000000000", trimHorizon)
		if err != nil {
			t.Fatal(err)
		}
		drain(sub)
		m.mu.Lock()
		defer m.mu.Unlock()
		if !slices.Equal(m.subscribed, []error{nil, refused, nil, nil}) {
			t.Fatalf("Subscribed %v", m.subscribed)
		}
		if !slices.Equal(m.delivered, []int{2, 1, 0, 2}) {
			t.Fatalf("Delivered %v", m.delivered)
		}
		if !slices.Equal(m.ended, []EndReason{EndCompleted, EndIdle, EndShardEnd}) {
			t.Fatalf("SessionEnded %v", m.ended)
		}
	})
}
