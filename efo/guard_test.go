package efo

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
)

// repeatsGuardMessage is what Subscription.batch logs when its guard drops records already
// handed on. TestRepeatedRecordsAreDropped checks that the guard logs it, so it stays in step.
const repeatsGuardMessage = "efo: dropped records already handed on"

// repeatsLog counts the guard's messages.
type repeatsLog struct{ n atomic.Int64 }

func (h *repeatsLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *repeatsLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *repeatsLog) WithGroup(string) slog.Handler            { return h }
func (h *repeatsLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == repeatsGuardMessage {
		h.n.Add(1)
	}
	return nil
}

// WatchRepeats is a WithLogger option for tests: when t ends, it fails t if the guard against
// repeated records fired. The guard hides a resubscribe that starts at (not after) a record
// already handed on; record-content tests see no repeat, so they must watch the guard too.
// Tests that pass their own WithLogger later replace it.
func WatchRepeats(t testing.TB) Option {
	h := &repeatsLog{}
	t.Cleanup(func() {
		if n := h.n.Load(); n > 0 {
			t.Errorf("the guard against repeated records fired %d times: a resubscribe repeated records already handed on", n)
		}
	})
	return WithLogger(slog.New(h))
}
