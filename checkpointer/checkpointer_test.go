package checkpointer_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kclgo/kcl/checkpointer"
)

// recordingWriter keeps what was written, in order. fail, when set, decides the outcome of
// each call (1-based) before anything is recorded.
type recordingWriter struct {
	mu      sync.Mutex
	calls   int
	written []checkpointer.ExtendedSequenceNumber
	fail    func(call int) error
}

func (w *recordingWriter) Checkpoint(_ context.Context, _ string, p checkpointer.ExtendedSequenceNumber) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	if w.fail != nil {
		if err := w.fail(w.calls); err != nil {
			return err
		}
	}
	w.written = append(w.written, p)
	return nil
}

func (w *recordingWriter) snapshot() (int, []checkpointer.ExtendedSequenceNumber) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls, append([]checkpointer.ExtendedSequenceNumber(nil), w.written...)
}

func seq(t testing.TB, n int) checkpointer.ExtendedSequenceNumber {
	t.Helper()
	return mustESN(t, "4959033827149025660855969253836157109592157598913658"+fmt.Sprintf("%04d", n), 0)
}

func newCP(t *testing.T, w checkpointer.Writer, start checkpointer.ExtendedSequenceNumber, opts ...checkpointer.Option) *checkpointer.Checkpointer {
	t.Helper()
	cp, err := checkpointer.New(w, "shardId-000000000000", start, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return cp
}

func TestNewValidation(t *testing.T) {
	w := &recordingWriter{}
	tests := map[string]struct {
		w    checkpointer.Writer
		key  string
		opts []checkpointer.Option
		want string
	}{
		"nil writer":          {w: nil, key: "k", want: "nil Writer"},
		"empty key":           {w: w, key: "", want: "empty lease key"},
		"every 0 records":     {w: w, key: "k", opts: []checkpointer.Option{checkpointer.WithStrategy(checkpointer.EveryRecords(0))}, want: "WithStrategy"},
		"every 0 interval":    {w: w, key: "k", opts: []checkpointer.Option{checkpointer.WithStrategy(checkpointer.EveryInterval(0))}, want: "WithStrategy"},
		"zero strategy":       {w: w, key: "k", opts: []checkpointer.Option{checkpointer.WithStrategy(checkpointer.Strategy{})}, want: "WithStrategy"},
		"nil logger":          {w: w, key: "k", opts: []checkpointer.Option{checkpointer.WithLogger(nil)}, want: "WithLogger"},
		"backoff max < first": {w: w, key: "k", opts: []checkpointer.Option{checkpointer.WithThrottleBackoff(time.Second, time.Millisecond)}, want: "WithThrottleBackoff"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := checkpointer.New(tc.w, tc.key, checkpointer.TrimHorizon, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestCheckpointBounds(t *testing.T) {
	tests := map[string]struct {
		start     checkpointer.ExtendedSequenceNumber
		delivered int // 0: nothing delivered
		at        func(t *testing.T) checkpointer.ExtendedSequenceNumber
		wantErr   error
		wantWrite bool
	}{
		"within bounds":      {start: checkpointer.TrimHorizon, delivered: 5, at: func(t *testing.T) checkpointer.ExtendedSequenceNumber { return seq(t, 3) }, wantWrite: true},
		"exactly delivered":  {start: checkpointer.TrimHorizon, delivered: 5, at: func(t *testing.T) checkpointer.ExtendedSequenceNumber { return seq(t, 5) }, wantWrite: true},
		"past delivered":     {start: checkpointer.TrimHorizon, delivered: 5, at: func(t *testing.T) checkpointer.ExtendedSequenceNumber { return seq(t, 6) }, wantErr: checkpointer.ErrCheckpointBeyondDelivered},
		"nothing delivered":  {start: checkpointer.TrimHorizon, at: func(t *testing.T) checkpointer.ExtendedSequenceNumber { return seq(t, 1) }, wantErr: checkpointer.ErrCheckpointBeyondDelivered},
		"before last":        {start: seq(t, 4), delivered: 5, at: func(t *testing.T) checkpointer.ExtendedSequenceNumber { return seq(t, 3) }, wantErr: checkpointer.ErrCheckpointBackwards},
		"sentinel before":    {start: seq(t, 4), delivered: 5, at: func(*testing.T) checkpointer.ExtendedSequenceNumber { return checkpointer.TrimHorizon }, wantErr: checkpointer.ErrCheckpointBackwards},
		"equal to last":      {start: seq(t, 4), delivered: 5, at: func(t *testing.T) checkpointer.ExtendedSequenceNumber { return seq(t, 4) }},
		"SHARD_END too soon": {start: checkpointer.TrimHorizon, delivered: 5, at: func(*testing.T) checkpointer.ExtendedSequenceNumber { return checkpointer.ShardEnd }, wantErr: checkpointer.ErrCheckpointBeyondDelivered},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := &recordingWriter{}
			cp := newCP(t, w, tc.start)
			if tc.delivered > 0 {
				if err := cp.Delivered(seq(t, tc.delivered)); err != nil {
					t.Fatal(err)
				}
			}
			at := tc.at(t)
			err := cp.CheckpointAt(t.Context(), at)
			if tc.wantErr != nil {
				var ce *checkpointer.CheckpointError
				if !errors.Is(err, tc.wantErr) || !errors.As(err, &ce) {
					t.Fatalf("got %v, want a *CheckpointError wrapping %v", err, tc.wantErr)
				}
				if ce.LeaseKey != "shardId-000000000000" || ce.Requested != at || ce.Last != tc.start {
					t.Fatalf("error fields %+v", ce)
				}
			} else if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			calls, written := w.snapshot()
			if tc.wantWrite != (calls == 1 && len(written) == 1 && written[0] == at) {
				t.Fatalf("writes %v (calls %d), want write=%v of %v", written, calls, tc.wantWrite, at)
			}
			wantLast := tc.start
			if tc.wantWrite {
				wantLast = at
			}
			if got := cp.LastCheckpoint(); got != wantLast {
				t.Fatalf("LastCheckpoint %v, want %v", got, wantLast)
			}
		})
	}
}

func TestCheckpointWritesLargestDeliveredOnce(t *testing.T) {
	w := &recordingWriter{}
	cp := newCP(t, w, checkpointer.TrimHorizon)
	for i := 1; i <= 3; i++ {
		if err := cp.Delivered(seq(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := cp.Checkpoint(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if _, written := w.snapshot(); len(written) != 1 || written[0] != seq(t, 3) {
		t.Fatalf("written %v, want exactly [%v]", written, seq(t, 3))
	}
	if err := cp.Delivered(seq(t, 2)); !errors.Is(err, checkpointer.ErrDeliveryOutOfOrder) {
		t.Fatalf("Delivered backwards: %v", err)
	}
}

func TestShardEnd(t *testing.T) {
	w := &recordingWriter{}
	cp := newCP(t, w, seq(t, 1))
	if err := cp.Delivered(seq(t, 9)); err != nil {
		t.Fatal(err)
	}
	if err := cp.Delivered(checkpointer.ShardEnd); err != nil {
		t.Fatal(err)
	}
	if err := cp.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, written := w.snapshot(); len(written) != 1 || !written[0].IsShardEnd() {
		t.Fatalf("written %v, want SHARD_END", written)
	}
	if err := cp.CheckpointAt(t.Context(), seq(t, 9)); !errors.Is(err, checkpointer.ErrCheckpointBackwards) {
		t.Fatalf("after SHARD_END: %v", err)
	}
}

func TestEveryRecords(t *testing.T) {
	w := &recordingWriter{}
	cp := newCP(t, w, checkpointer.TrimHorizon, checkpointer.WithStrategy(checkpointer.EveryRecords(10)))
	// Batches of 4: checkpoints after the 3rd (12 >= 10) and the 5th (8 more... no: 4+4=8 < 10), then the 6th.
	var want []checkpointer.ExtendedSequenceNumber
	for batch := 1; batch <= 6; batch++ {
		last := seq(t, batch*4)
		if err := cp.Delivered(last); err != nil {
			t.Fatal(err)
		}
		if err := cp.Processed(t.Context(), last, 4); err != nil {
			t.Fatal(err)
		}
		if batch == 3 || batch == 6 {
			want = append(want, last)
		}
	}
	if _, written := w.snapshot(); fmt.Sprint(written) != fmt.Sprint(want) {
		t.Fatalf("written %v, want %v", written, want)
	}
	// Processed may not run ahead of delivery nor go back.
	if err := cp.Processed(t.Context(), seq(t, 99), 1); !errors.Is(err, checkpointer.ErrCheckpointBeyondDelivered) {
		t.Fatalf("processed past delivered: %v", err)
	}
	if err := cp.Processed(t.Context(), seq(t, 1), 1); !errors.Is(err, checkpointer.ErrDeliveryOutOfOrder) {
		t.Fatalf("processed backwards: %v", err)
	}
}

func TestEveryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &recordingWriter{}
		cp := newCP(t, w, checkpointer.TrimHorizon, checkpointer.WithStrategy(checkpointer.EveryInterval(time.Minute)))
		step := func(n int, after time.Duration) {
			time.Sleep(after)
			if err := cp.Delivered(seq(t, n)); err != nil {
				t.Fatal(err)
			}
			if err := cp.Processed(t.Context(), seq(t, n), 1); err != nil {
				t.Fatal(err)
			}
		}
		step(1, 10*time.Second) // 10 s since start: not yet
		step(2, 49*time.Second) // 59 s
		if _, written := w.snapshot(); len(written) != 0 {
			t.Fatalf("written %v before the interval", written)
		}
		step(3, time.Second) // 60 s: due
		step(4, 30*time.Second)
		step(5, 29*time.Second) // 59 s after the last write
		step(6, time.Second)    // 60 s after it
		_, written := w.snapshot()
		if want := fmt.Sprint([]checkpointer.ExtendedSequenceNumber{seq(t, 3), seq(t, 6)}); fmt.Sprint(written) != want {
			t.Fatalf("written %v, want %v", written, want)
		}
		// An interval with nothing processed writes nothing.
		time.Sleep(2 * time.Minute)
		if err := cp.Processed(t.Context(), seq(t, 6), 0); err != nil {
			t.Fatal(err)
		}
		if calls, _ := w.snapshot(); calls != 2 {
			t.Fatalf("%d writes, want 2", calls)
		}
	})
}

func TestDrainWritesProcessed(t *testing.T) {
	tests := map[string]struct {
		strategy checkpointer.Strategy
		manualAt int // checkpoint this by hand first (0: no)
		want     []int
	}{
		"manual":                       {strategy: checkpointer.Manual(), want: []int{7}},
		"every 100 records":            {strategy: checkpointer.EveryRecords(100), want: []int{7}},
		"every hour":                   {strategy: checkpointer.EveryInterval(time.Hour), want: []int{7}},
		"already checkpointed further": {strategy: checkpointer.Manual(), manualAt: 9, want: []int{9}},
		"already checkpointed exactly": {strategy: checkpointer.Manual(), manualAt: 7, want: []int{7}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := &recordingWriter{}
			cp := newCP(t, w, checkpointer.TrimHorizon, checkpointer.WithStrategy(tc.strategy))
			if err := cp.Delivered(seq(t, 9)); err != nil { // delivered 9, processed 7
				t.Fatal(err)
			}
			if err := cp.Processed(t.Context(), seq(t, 7), 7); err != nil {
				t.Fatal(err)
			}
			if tc.manualAt > 0 {
				if err := cp.CheckpointAt(t.Context(), seq(t, tc.manualAt)); err != nil {
					t.Fatal(err)
				}
			}
			if err := cp.Drain(t.Context()); err != nil {
				t.Fatal(err)
			}
			var want []checkpointer.ExtendedSequenceNumber
			for _, n := range tc.want {
				want = append(want, seq(t, n))
			}
			if _, written := w.snapshot(); fmt.Sprint(written) != fmt.Sprint(want) {
				t.Fatalf("written %v, want %v", written, want)
			}
		})
	}
}

func TestLeaseLostIsSticky(t *testing.T) {
	w := &recordingWriter{fail: func(int) error { return fmt.Errorf("fenced: %w", checkpointer.ErrLeaseLost) }}
	cp := newCP(t, w, checkpointer.TrimHorizon)
	if err := cp.Delivered(seq(t, 5)); err != nil {
		t.Fatal(err)
	}
	if err := cp.CheckpointAt(t.Context(), seq(t, 2)); !errors.Is(err, checkpointer.ErrLeaseLost) {
		t.Fatalf("first: %v", err)
	}
	// Later attempts fail at once without calling the writer.
	for _, f := range []func() error{
		func() error { return cp.Checkpoint(t.Context()) },
		func() error { return cp.Drain(t.Context()) },
		func() error { return cp.CheckpointAt(t.Context(), seq(t, 4)) },
	} {
		if err := f(); !errors.Is(err, checkpointer.ErrLeaseLost) {
			t.Fatalf("later: %v", err)
		}
	}
	if err := cp.Processed(t.Context(), seq(t, 5), 5); err != nil {
		t.Fatalf("Processed under manual strategy writes nothing: %v", err)
	}
	if calls, _ := w.snapshot(); calls != 1 {
		t.Fatalf("writer called %d times, want 1", calls)
	}
	if cp.LastCheckpoint() != checkpointer.TrimHorizon {
		t.Fatalf("last checkpoint moved to %v", cp.LastCheckpoint())
	}
}

func throttle(code string) error {
	switch code {
	case "ProvisionedThroughputExceededException":
		return &types.ProvisionedThroughputExceededException{Message: new("slow down")}
	case "RequestLimitExceeded":
		return &types.RequestLimitExceeded{}
	case "ThrottlingException":
		return &types.ThrottlingException{}
	}
	return &smithy.GenericAPIError{Code: code}
}

func TestThrottlingRetried(t *testing.T) {
	for _, code := range []string{"ProvisionedThroughputExceededException", "RequestLimitExceeded", "ThrottlingException", "Throttling"} {
		t.Run(code, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := &recordingWriter{fail: func(call int) error {
					if call <= 5 {
						return fmt.Errorf("operation error DynamoDB: UpdateItem: %w", throttle(code))
					}
					return nil
				}}
				cp := newCP(t, w, checkpointer.TrimHorizon)
				if err := cp.Delivered(seq(t, 1)); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if err := cp.Checkpoint(t.Context()); err != nil {
					t.Fatalf("Checkpoint: %v", err)
				}
				calls, written := w.snapshot()
				if calls != 6 || len(written) != 1 {
					t.Fatalf("calls %d written %v", calls, written)
				}
				// Waits 100, 200, 400, 800, 1600 ms, each ±50%: between 1.55 s and 4.65 s.
				if waited := time.Since(start); waited < 1550*time.Millisecond || waited > 4650*time.Millisecond {
					t.Fatalf("waited %v over 5 backoffs", waited)
				}
			})
		})
	}
}

func TestThrottlingBoundedByContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &recordingWriter{fail: func(int) error { return throttle("ProvisionedThroughputExceededException") }}
		cp := newCP(t, w, checkpointer.TrimHorizon)
		if err := cp.Delivered(seq(t, 1)); err != nil {
			t.Fatal(err)
		}
		cause := errors.New("worker shutting down")
		ctx, cancel := context.WithTimeoutCause(t.Context(), 30*time.Second, cause)
		defer cancel()
		err := cp.Checkpoint(ctx)
		if !errors.Is(err, cause) {
			t.Fatalf("got %v, want the context's cause", err)
		}
		if cp.LastCheckpoint() != checkpointer.TrimHorizon {
			t.Fatal("a failed write moved the checkpoint")
		}
		// With a fresh context, the same checkpoint goes through once DynamoDB recovers.
		w.mu.Lock()
		w.fail = nil
		w.mu.Unlock()
		if err := cp.Checkpoint(t.Context()); err != nil || cp.LastCheckpoint() != seq(t, 1) {
			t.Fatalf("after recovery: %v, last %v", err, cp.LastCheckpoint())
		}
	})
}

func TestOtherErrorsNotRetried(t *testing.T) {
	boom := &types.ResourceNotFoundException{}
	w := &recordingWriter{fail: func(int) error { return boom }}
	cp := newCP(t, w, checkpointer.TrimHorizon)
	if err := cp.Delivered(seq(t, 1)); err != nil {
		t.Fatal(err)
	}
	err := cp.Checkpoint(t.Context())
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Fatalf("got %v, want the writer's error", err)
	}
	if calls, _ := w.snapshot(); calls != 1 {
		t.Fatalf("%d calls, want 1", calls)
	}
}

// Concurrent checkpoints from several goroutines reach the writer in increasing order only.
func TestConcurrentCheckpointsNeverGoBackwards(t *testing.T) {
	w := &recordingWriter{}
	cp := newCP(t, w, checkpointer.TrimHorizon)
	const n = 200
	if err := cp.Delivered(seq(t, n)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < n; i += 8 {
				err := cp.CheckpointAt(t.Context(), seq(t, i+1))
				if err != nil && !errors.Is(err, checkpointer.ErrCheckpointBackwards) {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	_, written := w.snapshot()
	for i := 1; i < len(written); i++ {
		if written[i].Compare(written[i-1]) <= 0 {
			t.Fatalf("write %d (%v) not after write %d (%v)", i, written[i], i-1, written[i-1])
		}
	}
	if cp.LastCheckpoint() != written[len(written)-1] {
		t.Fatalf("last %v, last written %v", cp.LastCheckpoint(), written[len(written)-1])
	}
}

func TestRetryable(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	status := func(code int) error {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("boom")}
	}
	tests := map[string]struct {
		ctx  context.Context
		err  error
		want bool
	}{
		"throttling":                     {live, throttle("ThrottlingException"), true},
		"throttling after SDK attempts":  {live, &retry.MaxAttemptsError{Attempt: 3, Err: throttle("RequestLimitExceeded")}, true},
		"throttling and no retry quota":  {live, errors.Join(throttle("ProvisionedThroughputExceededException"), errors.New("retry quota exceeded")), true},
		"connection reset":               {live, &retry.MaxAttemptsError{Attempt: 3, Err: reset}, true},
		"HTTP 500":                       {live, status(500), true},
		"HTTP 400 validation":            {live, &smithy.GenericAPIError{Code: "ValidationException"}, false},
		"attempt timed out":              {live, fmt.Errorf("attempt: %w", context.DeadlineExceeded), true},
		"caller's context done":          {done, throttle("ThrottlingException"), false},
		"lease lost":                     {live, fmt.Errorf("x: %w", checkpointer.ErrLeaseLost), false},
		"failed condition":               {live, &types.ConditionalCheckFailedException{}, false},
		"access denied":                  {live, &smithy.GenericAPIError{Code: "AccessDeniedException"}, false},
		"nil":                            {live, nil, false},
		"resource not found (permanent)": {live, &types.ResourceNotFoundException{}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := checkpointer.Retryable(tc.ctx, tc.err); got != tc.want {
				t.Fatalf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// An attempt the Writer timed out (its own limit, the caller's context still live) is tried
// again.
func TestTimedOutAttemptRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &recordingWriter{fail: func(call int) error {
			if call == 1 {
				return fmt.Errorf("checkpoint: %w", context.DeadlineExceeded)
			}
			return nil
		}}
		cp := newCP(t, w, checkpointer.TrimHorizon)
		if err := cp.Delivered(seq(t, 1)); err != nil {
			t.Fatal(err)
		}
		if err := cp.Checkpoint(t.Context()); err != nil {
			t.Fatal(err)
		}
		if calls, written := w.snapshot(); calls != 2 || len(written) != 1 {
			t.Fatalf("calls %d written %v", calls, written)
		}
	})
}

func TestIsThrottling(t *testing.T) {
	tests := map[string]struct {
		err  error
		want bool
	}{
		"provisioned throughput": {fmt.Errorf("wrapped: %w", throttle("ProvisionedThroughputExceededException")), true},
		"request limit":          {throttle("RequestLimitExceeded"), true},
		"throttling exception":   {throttle("ThrottlingException"), true},
		"conditional check":      {&types.ConditionalCheckFailedException{}, false},
		"message only":           {errors.New("ProvisionedThroughputExceededException"), false},
		"nil":                    {nil, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := checkpointer.IsThrottling(tc.err); got != tc.want {
				t.Fatalf("IsThrottling(%v) = %v", tc.err, got)
			}
		})
	}
}
