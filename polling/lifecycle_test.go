package polling_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/polling"
)

// newFaultyClient returns a Kinesis client whose calls pass through inj, on a transport of
// its own that the test can close. sdkRetries false turns the SDK's retries off, so the
// reader itself sees every fault; true keeps the SDK's 3 attempts, with short backoffs.
func newFaultyClient(env *testenv.Env, inj *faults.Injector, sdkRetries bool) (*kinesis.Client, *http.Transport) {
	tr := testenv.NewTransport()
	client := env.NewKinesis(nil, func(o *kinesis.Options) {
		o.HTTPClient = &http.Client{Transport: inj.Wrap(tr)}
		if sdkRetries {
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = 3
				so.MaxBackoff = 50 * time.Millisecond
			})
		} else {
			o.Retryer = aws.NopRetryer{}
		}
	})
	return client, tr
}

var errTestOver = errors.New("test cancelled the reader")

// TestCancelStopsEveryGoroutine cancels readers in each state they can wait in and checks
// that Batches closes, Err is the cancellation's cause, and no goroutine is left.
func TestCancelStopsEveryGoroutine(t *testing.T) {
	env := testenv.New(t)
	busy := env.CreateStream(t, 1)
	puts := busy.PutN(t, "lc", 40)
	idle := env.CreateStream(t, 1)
	idleShard := aws.ToString(idle.OpenShards(t)[0].ShardId)
	stalled := &metricsLog{} // of the stalled consumer's reader

	tests := map[string]struct {
		stream, shard string
		opts          []polling.Option
		rule          *faults.Rule
		// reach waits until the reader is in the state to cancel it in.
		reach func(t *testing.T, r *polling.ShardReader, inj *faults.Injector, h *faults.Handle)
		close bool // stop with Close instead of cancelling the context
	}{
		"stalled consumer": {
			stream: busy.Name, shard: puts[0].ShardID,
			opts: []polling.Option{polling.WithMaxRecords(10), polling.WithReadAhead(2, 1<<20), polling.WithMetrics(stalled)},
			reach: func(t *testing.T, r *polling.ShardReader, inj *faults.Injector, _ *faults.Handle) {
				// Both responses arrived (the metrics hear of each before it is held): the
				// read-ahead is full and the reader waits for room.
				deadline := time.Now().Add(30 * time.Second)
				for stalled.count() < 20 {
					if time.Now().After(deadline) {
						t.Fatalf("%d records fetched after 30 s, want the read-ahead's 20", stalled.count())
					}
					time.Sleep(10 * time.Millisecond)
				}
				if n := len(inj.Calls("GetRecords")); n != 2 {
					t.Fatalf("%d GetRecords calls with a read-ahead of 2 and nothing taken", n)
				}
			},
		},
		"idle wait": {
			stream: idle.Name, shard: idleShard,
			opts: []polling.Option{polling.WithIdleDelay(time.Hour)},
			reach: func(t *testing.T, r *polling.ShardReader, inj *faults.Injector, _ *faults.Handle) {
				next(t, r)
			},
		},
		"GetRecords in flight": {
			stream: busy.Name, shard: puts[0].ShardID,
			rule: &faults.Rule{Op: "GetRecords", Fault: faults.Stall{For: time.Hour}},
			reach: func(t *testing.T, r *polling.ShardReader, _ *faults.Injector, h *faults.Handle) {
				waitHits(t, h, 1)
			},
		},
		"GetShardIterator in flight": {
			stream: busy.Name, shard: puts[0].ShardID,
			rule: &faults.Rule{Op: "GetShardIterator", Fault: faults.Stall{For: time.Hour}},
			reach: func(t *testing.T, r *polling.ShardReader, _ *faults.Injector, h *faults.Handle) {
				waitHits(t, h, 1)
			},
		},
		"throttle backoff": {
			stream: busy.Name, shard: puts[0].ShardID,
			opts: []polling.Option{polling.WithRetryBackoff(time.Hour, time.Hour)},
			rule: &faults.Rule{Op: "GetRecords", Fault: faults.Throttle()},
			reach: func(t *testing.T, r *polling.ShardReader, _ *faults.Injector, h *faults.Handle) {
				waitHits(t, h, 1)
			},
		},
		"Close while delivering": {
			stream: busy.Name, shard: puts[0].ShardID,
			opts: []polling.Option{polling.WithMaxRecords(10)},
			reach: func(t *testing.T, r *polling.ShardReader, inj *faults.Injector, _ *faults.Handle) {
				next(t, r)
			},
			close: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			inj := faults.New()
			var h *faults.Handle
			if tc.rule != nil {
				h = inj.Add(*tc.rule)
			}
			client, tr := newFaultyClient(env, inj, false)
			p := newPoller(t, client, tc.opts...)
			ctx, cancel := context.WithCancelCause(testenv.WithTimeout(t, time.Minute))
			defer cancel(nil)
			r, err := p.ReadShard(ctx, tc.stream, tc.shard, polling.TrimHorizon())
			if err != nil {
				t.Fatal(err)
			}
			tc.reach(t, r, inj, h)

			want := errTestOver
			if tc.close {
				r.Close()
				want = polling.ErrClosed
			} else {
				cancel(errTestOver)
			}
			waitClosed(t, r)
			if err := r.Err(); !errors.Is(err, want) {
				t.Fatalf("Err after stopping: %v, want %v", err, want)
			}
			tr.CloseIdleConnections()
			checkGoroutinesSettle(t, before)
		})
	}
}

// waitClosed drains r until Batches closes, failing t with the goroutines' stacks when that
// takes more than 10 s.
func waitClosed(t *testing.T, r *polling.ShardReader) {
	t.Helper()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for range r.Batches() {
		}
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("reader did not stop within 10 s:\n%s", stacks())
	}
}

func stacks() string {
	var sb strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&sb, 1)
	return sb.String()
}

func waitHits(t *testing.T, h *faults.Handle, n int) {
	t.Helper()
	if err := h.Wait(testenv.WithTimeout(t, 30*time.Second), n); err != nil {
		t.Fatal(err)
	}
}

// checkGoroutinesSettle waits until no more goroutines run than before, and fails t with
// the goroutines' stacks when they do not settle within 5 s.
func checkGoroutinesSettle(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left running, %d before the reader:\n%s", runtime.NumGoroutine(), before, stacks())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestErrIsNilAfterShardEndEvenWhenCancelledLater: once the shard-end batch was taken, a
// later cancellation does not change Err.
func TestErrIsNilAfterShardEndEvenWhenCancelledLater(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	puts := stream.PutN(t, "end", 20)
	stream.Split(t, puts[0].ShardID)
	ctx, cancel := context.WithCancelCause(testenv.WithTimeout(t, time.Minute))
	p := newPoller(t, env.Kinesis)
	r := startReader(t, ctx, p, stream.Name, puts[0].ShardID, polling.TrimHorizon())
	var last polling.Batch
	for !last.ShardEnd {
		last = next(t, r)
	}
	for range r.Batches() {
		t.Fatal("a batch after the shard-end batch")
	}
	cancel(errTestOver)
	if err := r.Err(); err != nil {
		t.Fatalf("Err after the shard end: %v", err)
	}
}
