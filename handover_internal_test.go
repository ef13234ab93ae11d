package kcl

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kclgo/kcl/checkpointer"
)

// A batch is handed over only while the lease is fresh by this worker's own monotonic clock
// (the last answered renewal plus the failover time): a reader that comes back for the next
// batch after that gets none, as after a SIGSTOP, and the shard's context ends with
// ErrLeaseLost. While renewals are answered the bound moves on and batches keep flowing.
func TestHandOverStopsWhenTheLeaseMayHaveExpired(t *testing.T) {
	for _, tc := range []struct {
		name    string
		renewed bool // a renewal is answered while the reader is busy
	}{{"not renewed", false}, {"renewed meanwhile", true}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const failover = 5 * time.Second
				var heldUntil atomic.Pointer[time.Time]
				until := time.Now().Add(failover)
				heldUntil.Store(&until)
				ctx, cancel := context.WithCancelCause(t.Context())
				defer cancel(nil)
				s := &Shard{ctx: ctx, cancel: cancel, batches: make(chan Batch), hold: make(chan struct{}),
					heldUntil: func() time.Time { return *heldUntil.Load() }, checkpointed: make(chan struct{}, 1)}
				first, _ := checkpointer.ParseSequenceNumber("100", 0)
				second, _ := checkpointer.ParseSequenceNumber("200", 0)
				results := make(chan error, 2)
				go func() {
					results <- s.handOver(ctx, Batch{last: first})
					results <- s.handOver(ctx, Batch{last: second})
				}()
				<-s.batches
				if err := <-results; err != nil {
					t.Fatalf("first hand-over: %v", err)
				}
				// The reader is busy (or the process stopped) for longer than the failover time.
				busy := failover + time.Second
				if tc.renewed {
					time.Sleep(failover - time.Second)
					busy -= failover - time.Second
					later := time.Now().Add(failover)
					heldUntil.Store(&later)
				}
				time.Sleep(busy)
				synctest.Wait()
				select {
				case b := <-s.batches:
					if !tc.renewed {
						t.Fatalf("batch ending %v handed over %v after the last answered renewal (failover %v)", b.last, failover+time.Second, failover)
					}
				default:
					if tc.renewed {
						t.Fatal("no batch handed over although the lease was renewed")
					}
				}
				err := <-results
				switch {
				case tc.renewed && err != nil:
					t.Errorf("second hand-over: %v", err)
				case !tc.renewed && !errors.Is(err, ErrLeaseLost):
					t.Errorf("second hand-over: %v, want ErrLeaseLost", err)
				case !tc.renewed && !errors.Is(context.Cause(ctx), ErrLeaseLost):
					t.Errorf("shard context cause %v, want ErrLeaseLost", context.Cause(ctx))
				}
			})
		})
	}
}
