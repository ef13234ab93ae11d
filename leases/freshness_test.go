package leases

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// After renewals stop being answered, this worker's belief that it holds the lease ends the
// failover time after the last answered write: Done closes then, Held drops the lease, and
// Event.HeldUntil says so, even while a renewal is still out (unanswered writes hold the
// tenure's write lock for a renewal interval each).
func TestHeldBeliefEndsFailoverAfterLastAnsweredWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"))
		const failover = 3 * time.Second
		// A renewal sent at 2 s is still out at 3 s, when the failover time has passed.
		r := startRun(t, store, "me", WithFailoverTime(failover), WithRenewalInterval(2*time.Second))
		log := logEvents(r.c)
		synctest.Wait()
		evs := log.snapshot()
		if len(evs) != 1 || evs[0].Type != Acquired {
			t.Fatalf("events %v, want one Acquired", evs)
		}
		ev := evs[0]
		// The take was answered now; renewals from here on hang until their timeout.
		lastAnswered := time.Now()
		store.mu.Lock()
		store.before = func(ctx context.Context, op, _ string) error {
			if op == "renew" {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}
		store.mu.Unlock()
		if got, want := ev.HeldUntil(), lastAnswered.Add(failover); !got.Equal(want) {
			t.Errorf("HeldUntil %v, want %v", got, want)
		}
		time.Sleep(failover - time.Millisecond)
		synctest.Wait()
		if isClosed(ev.Done) || len(r.c.Held()) != 1 {
			t.Fatalf("tenure ended before the failover time: done %v, held %v", isClosed(ev.Done), r.c.Held())
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if !isClosed(ev.Done) {
			t.Errorf("Done still open %v after the last answered write (failover %v)", time.Since(lastAnswered), failover)
		}
		if h := r.c.Held(); len(h) != 0 {
			t.Errorf("Held %v after the failover time, want none", h)
		}
		// The Lost event follows once the renewal in flight gives up.
		time.Sleep(time.Second)
		synctest.Wait()
		if n := log.count(Lost); n != 1 {
			t.Errorf("%d Lost events, want 1", n)
		}
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v", err)
		}
	})
}

// ReleaseTenure releases only the tenure its event announced: a shard goroutine of an
// ended tenure cannot release the lease this worker took again since.
func TestReleaseTenureKeepsALaterTenure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"))
		const failover = 3 * time.Second
		r := startRun(t, store, "me", WithFailoverTime(failover))
		log := logEvents(r.c)
		synctest.Wait()
		first := log.snapshot()[0]
		// Another worker takes the lease and lets it expire; this worker takes it back.
		store.mu.Lock()
		row := store.rows["a"]
		row.Owner, row.Counter = "other", row.Counter+1
		store.rows["a"] = row
		store.mu.Unlock()
		for log.count(Acquired) < 2 {
			time.Sleep(time.Second)
			synctest.Wait()
		}
		if err := r.c.ReleaseTenure(t.Context(), first); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("ReleaseTenure of the ended tenure: %v, want ErrLeaseLost", err)
		}
		if got := store.row("a").Owner; got != "me" {
			t.Errorf("owner %q after releasing the old tenure, want me (the new tenure)", got)
		}
		second := log.snapshot()[len(log.snapshot())-1]
		if err := r.c.ReleaseTenure(t.Context(), second); err != nil {
			t.Errorf("ReleaseTenure of the current tenure: %v", err)
		}
		if got := store.row("a").Owner; got != "" {
			t.Errorf("owner %q after releasing the current tenure, want none", got)
		}
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v", err)
		}
	})
}
