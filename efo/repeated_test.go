package efo_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/kcltest"
)

// levelRecorder keeps the level and message of every log record.
type levelRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *levelRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r)
	h.mu.Unlock()
	return nil
}
func (h *levelRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *levelRecorder) WithGroup(string) slog.Handler      { return h }

func (h *levelRecorder) count(level slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Level == level {
			n++
		}
	}
	return n
}

// TestRepeatedSubscribeFailure: a subscription whose every subscribe fails the same way logs
// at error level and then ends with ErrRepeatedFailure, unwrapping to the last failure, after
// exactly WithSubscribeFailureLimit calls.
func TestRepeatedSubscribeFailure(t *testing.T) {
	t.Parallel()
	const limit = 4
	t.Run("kinesis-local without the initial-response transport", func(t *testing.T) {
		t.Parallel()
		f := newFaultEnv(t)
		// What a user gets who points the SDK's own client at kinesis-local: every
		// subscribe fails while decoding the event stream.
		bare := kinesis.NewFromConfig(f.env.Config, func(o *kinesis.Options) {
			o.BaseEndpoint = &f.env.KinesisEndpoint
			o.HTTPClient = &http.Client{Transport: f.inj.Wrap(kcltest.NewTransport())}
		})
		logs := &levelRecorder{}
		c, err := efo.NewConsumerFromARN(bare, f.c.ARN(), efo.WithLogger(slog.New(logs)),
			efo.WithRetryBackoff(10*time.Millisecond, 20*time.Millisecond), efo.WithSubscribeFailureLimit(limit))
		if err != nil {
			t.Fatal(err)
		}
		sub := subscribe(t, c, f.shard, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon})
		err = waitEnded(t, sub, 30*time.Second)
		var se *efo.ShardError
		if !errors.Is(err, efo.ErrRepeatedFailure) || !errors.As(err, &se) || se.ShardID != f.shard {
			t.Fatalf("Err = %v, want a ShardError of %s with ErrRepeatedFailure", err, f.shard)
		}
		if n := len(f.inj.Calls("SubscribeToShard")); n != limit {
			t.Fatalf("%d SubscribeToShard calls, want %d", n, limit)
		}
		if n := logs.count(slog.LevelError); n != 2 {
			t.Fatalf("%d error-level records, want 2 (at 3 failures, and when giving up)", n)
		}
	})
	t.Run("injected server errors", func(t *testing.T) {
		t.Parallel()
		f := newFaultEnv(t, efo.WithRetryBackoff(10*time.Millisecond, 20*time.Millisecond), efo.WithSubscribeFailureLimit(limit))
		// One ResourceInUse first: a different failure starts the count again.
		f.inj.Add(faults.Rule{Op: "SubscribeToShard", Times: 1, Fault: faults.ResourceInUse()})
		f.inj.Add(faults.Rule{Op: "SubscribeToShard", Fault: faults.InternalFailure()})
		sub := subscribe(t, f.c, f.shard, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon})
		err := waitEnded(t, sub, 30*time.Second)
		var internal *types.InternalFailureException
		if !errors.Is(err, efo.ErrRepeatedFailure) || !errors.As(err, &internal) {
			t.Fatalf("Err = %v, want ErrRepeatedFailure wrapping InternalFailureException", err)
		}
		if n := len(f.inj.Calls("SubscribeToShard")); n != limit+1 {
			t.Fatalf("%d SubscribeToShard calls, want %d", n, limit+1)
		}
	})
}
