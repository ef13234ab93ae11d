package leases

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// A take answered only after the failover time is over before it starts: other workers may
// already count the lease as expired, so its Done closes at once. Setting the tenure up must
// race with nothing: its expiry timer fires immediately, and under -race the timer's callback
// was caught reading the tenure while the take was still building it.
func TestTakeAnsweredAfterFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"))
		var slow atomic.Bool
		slow.Store(true)
		store.before = func(ctx context.Context, op, key string) error {
			if op == "take" && slow.Swap(false) {
				time.Sleep(4 * time.Second) // failover is 3 s
			}
			return nil
		}
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second))
		ev := <-r.c.Events()
		if ev.Type != Acquired {
			t.Fatalf("first event %v, want Acquired", ev.Type)
		}
		synctest.Wait()
		select {
		case <-ev.Done:
		default:
			t.Error("the tenure of a take answered after the failover time is still held")
		}
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v, want context.Canceled", err)
		}
	})
}
