package leases

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kclgo/kcl/checkpointer"
)

// The coordinator's protocol and timing, on memStore inside synctest bubbles: time is fake
// and exact, and a bubble only ends when every goroutine the coordinator started has ended.

func freeLease(key string) Lease {
	return Lease{Key: key, ShardID: key, Checkpoint: checkpointer.TrimHorizon}
}

type running struct {
	c      *Coordinator
	cancel context.CancelFunc
	errc   chan error
}

func startRun(t *testing.T, store leaseStore, id string, opts ...CoordinatorOption) *running {
	t.Helper()
	c, err := newCoordinator(store, id, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	r := &running{c: c, cancel: cancel, errc: make(chan error, 1)}
	go func() { r.errc <- c.Run(ctx) }()
	return r
}

func (r *running) stop() error {
	r.cancel()
	return <-r.errc
}

// eventLog reads a coordinator's events as they come, with their (fake) arrival time.
type eventLog struct {
	mu     sync.Mutex
	events []Event
	at     []time.Time
	closed chan struct{}
}

func logEvents(c *Coordinator) *eventLog {
	l := &eventLog{closed: make(chan struct{})}
	go func() {
		defer close(l.closed)
		for ev := range c.Events() {
			l.mu.Lock()
			l.events = append(l.events, ev)
			l.at = append(l.at, time.Now())
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *eventLog) snapshot() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

func (l *eventLog) count(typ EventType) int {
	n := 0
	for _, e := range l.snapshot() {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func seqN(t testing.TB, n int) checkpointer.ExtendedSequenceNumber {
	t.Helper()
	p, err := checkpointer.ParseSequenceNumber(fmt.Sprintf("4959033827149025660855969253836157109592157598913%07d", n), 0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Renewals run every failoverTime/3 on their own goroutine, though nobody reads the events.
func TestRenewalCadenceWithUnreadEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"), freeLease("b"), freeLease("c"))
		var mu sync.Mutex
		renewals := map[string][]time.Duration{}
		start := time.Now()
		store.before = func(_ context.Context, op, key string) error {
			if op == "renew" {
				mu.Lock()
				renewals[key] = append(renewals[key], time.Since(start))
				mu.Unlock()
			}
			return nil
		}
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second))
		time.Sleep(10*time.Second + 500*time.Millisecond)
		for _, k := range []string{"a", "b", "c"} {
			row := store.row(k)
			if row.Owner != "me" || row.Counter != 11 { // take + 10 renewals
				t.Errorf("%s: %+v, want owner me and counter 11", k, row)
			}
			mu.Lock()
			got := fmt.Sprint(renewals[k])
			mu.Unlock()
			if want := "[1s 2s 3s 4s 5s 6s 7s 8s 9s 10s]"; got != want {
				t.Errorf("%s renewed at %s, want %s", k, got, want)
			}
		}
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v, want context.Canceled", err)
		}
		if _, open := <-r.c.Events(); open {
			t.Fatal("events channel still open after Run returned")
		}
	})
}

func TestEventsAndDoneChannels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"), freeLease("b"))
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second))
		log := logEvents(r.c)
		time.Sleep(time.Second)
		evs := log.snapshot()
		if len(evs) != 2 || evs[0].Type != Acquired || evs[1].Type != Acquired {
			t.Fatalf("events %+v", evs)
		}
		for _, ev := range evs {
			if ev.Lease.Owner != "me" || ev.Lease.Counter != 1 || ev.Lease.Checkpoint != checkpointer.TrimHorizon || isClosed(ev.Done) {
				t.Fatalf("acquired %+v", ev)
			}
		}
		if held := r.c.Held(); len(held) != 2 || held[0].Key != "a" || held[1].Key != "b" {
			t.Fatalf("Held %+v", held)
		}
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		<-log.closed
		for _, ev := range evs {
			if !isClosed(ev.Done) {
				t.Fatalf("Done of %s open after Run returned", ev.Lease.Key)
			}
		}
		if len(r.c.Held()) != 0 {
			t.Fatal("leases still held after Run returned")
		}
		// Not released: the rows still name this worker, and expire for the others.
		if store.row("a").Owner != "me" {
			t.Fatal("cancelling Run released a lease")
		}
	})
}

// keepRenewing renews, every interval until ctx ends, the rows still owned by owner, as a
// live worker would; it returns when each lease was renewed last.
func keepRenewing(ctx context.Context, store *memStore, owner string, interval time.Duration, until time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	start := time.Now()
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if until > 0 && time.Since(start) > until {
				return
			}
			store.mu.Lock()
			for k, l := range store.rows {
				if l.Owner == owner {
					l.Counter++
					store.rows[k] = l
				}
			}
			store.mu.Unlock()
		}
	})
	return &wg
}

// A dead worker's leases are taken no sooner than failoverTime after its last renewal, and
// no later than failoverTime plus one taker interval after it, even with a long interval.
func TestDeadWorkersLeasesTakenAfterFailover(t *testing.T) {
	tests := map[string]struct {
		taker     time.Duration
		latestBy  time.Duration // after the last renewal
		lastRenew time.Duration
	}{
		"taker every second":    {taker: time.Second, latestBy: 3*time.Second + time.Second, lastRenew: 1600 * time.Millisecond},
		"taker every 10 s":      {taker: 10 * time.Second, latestBy: 3*time.Second + 3*time.Second, lastRenew: 1600 * time.Millisecond},
		"dead before the start": {taker: time.Second, latestBy: 3*time.Second + time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var rows []Lease
				for i := range 4 {
					l := freeLease(fmt.Sprintf("dead-%d", i))
					l.Owner, l.Counter = "dead", 5
					rows = append(rows, l)
				}
				store := newMemStore(rows...)
				start := time.Now()
				ctx, cancel := context.WithCancel(t.Context())
				var dead *sync.WaitGroup
				if tc.lastRenew > 0 {
					dead = keepRenewing(ctx, store, "dead", 400*time.Millisecond, tc.lastRenew)
				}
				// No stealing: this is about expiry, and a worker alive at the start
				// would rightly be stolen from.
				r := startRun(t, store, "me", WithFailoverTime(3*time.Second), WithTakerInterval(tc.taker),
					WithMaxLeasesToStealAtOneTime(0))
				log := logEvents(r.c)
				time.Sleep(20 * time.Second)
				evs := log.snapshot()
				if len(evs) != 4 {
					t.Fatalf("%d events, want 4 acquisitions", len(evs))
				}
				log.mu.Lock()
				first, last := log.at[0].Sub(start), log.at[3].Sub(start)
				log.mu.Unlock()
				t.Logf("last renewal at %v; leases taken from %v to %v", tc.lastRenew, first, last)
				if first < tc.lastRenew+3*time.Second {
					t.Fatalf("took a lease at %v, before the failover time after the last renewal at %v", first, tc.lastRenew)
				}
				if last > tc.lastRenew+tc.latestBy {
					t.Fatalf("took the last lease at %v, want by %v", last, tc.lastRenew+tc.latestBy)
				}
				cancel()
				if dead != nil {
					dead.Wait()
				}
				if err := r.stop(); !errors.Is(err, context.Canceled) {
					t.Fatal(err)
				}
			})
		})
	}
}

// Below target with nothing free, one lease per cycle is stolen from a live worker, never
// below the target; the live worker's leases are not expired by mistake.
func TestStealsOnePerCycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rows []Lease
		for i := range 6 {
			l := freeLease(fmt.Sprintf("busy-%d", i))
			l.Owner, l.Counter = "busy", 1
			rows = append(rows, l)
		}
		store := newMemStore(rows...)
		ctx, cancel := context.WithCancel(t.Context())
		busy := keepRenewing(ctx, store, "busy", time.Second, 0)
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second), WithTakerInterval(time.Second))
		for i, want := range []int{1, 2, 3, 3, 3} {
			time.Sleep(500 * time.Millisecond)
			if got := store.owners()["me"]; got != want {
				t.Fatalf("after cycle %d: holds %d, want %d", i+1, got, want)
			}
			time.Sleep(500 * time.Millisecond)
		}
		time.Sleep(10 * time.Second)
		if o := store.owners(); o["me"] != 3 || o["busy"] != 3 {
			t.Fatalf("owners %v, want 3/3", o)
		}
		cancel()
		busy.Wait()
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}

func TestMaxLeasesForWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rows []Lease
		for i := range 10 {
			rows = append(rows, freeLease(fmt.Sprintf("f-%d", i)))
		}
		store := newMemStore(rows...)
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second), WithTakerInterval(time.Second), WithMaxLeasesForWorker(3))
		time.Sleep(5 * time.Second)
		if o := store.owners(); o["me"] != 3 || o[""] != 7 {
			t.Fatalf("owners %v", o)
		}
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}

func TestFinishedLeasesNotTaken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		done := freeLease("done")
		done.Checkpoint = checkpointer.ShardEnd
		store := newMemStore(done, freeLease("open"))
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second))
		time.Sleep(7 * time.Second)
		if store.row("done").Owner != "" || store.row("open").Owner != "me" {
			t.Fatalf("done %+v open %+v", store.row("done"), store.row("open"))
		}
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}

// A lease stolen from under us is lost at the next renewal; checkpoints then fail with
// ErrLeaseLost without a write.
func TestLostAtNextRenewal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"))
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second))
		log := logEvents(r.c)
		time.Sleep(1500 * time.Millisecond)
		acq := log.snapshot()[0]
		if err := r.c.Checkpoint(t.Context(), "a", seqN(t, 1)); err != nil {
			t.Fatal(err)
		}
		thief := store.row("a")
		thief.Owner, thief.Counter = "thief", thief.Counter+1
		store.set(thief)
		time.Sleep(499 * time.Millisecond)
		if isClosed(acq.Done) {
			t.Fatal("lost before the next renewal")
		}
		time.Sleep(time.Millisecond) // the renewal at 2 s
		synctest.Wait()
		if !isClosed(acq.Done) {
			t.Fatal("not lost at the renewal after the theft")
		}
		evs := log.snapshot()
		if last := evs[len(evs)-1]; last.Type != Lost || last.Reason != LostTaken || last.NewOwner != "thief" || last.Lease.Key != "a" {
			t.Fatalf("last event %+v", last)
		}
		before := store.count("checkpoint")
		err := r.c.Checkpoint(t.Context(), "a", seqN(t, 2))
		if !errors.Is(err, ErrLeaseLost) || !errors.Is(err, checkpointer.ErrLeaseLost) {
			t.Fatalf("checkpoint after loss: %v", err)
		}
		if store.count("checkpoint") != before {
			t.Fatal("a checkpoint of a lost lease reached the table")
		}
		if row := store.row("a"); row.Owner != "thief" || row.Checkpoint != seqN(t, 1) {
			t.Fatalf("row %+v", row)
		}
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}

// When renewals cannot get through (DynamoDB unreachable, or this process paused), the lease
// is given up locally after the failover time and no checkpoint is attempted.
func TestUnrenewableLeaseExpiresLocally(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"))
		start := time.Now()
		// A long taker interval: the taker would otherwise take the dropped lease again (it
		// still names this worker), which is allowed but not what this test is about.
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second), WithTakerInterval(time.Hour))
		log := logEvents(r.c)
		time.Sleep(500 * time.Millisecond)
		store.mu.Lock()
		store.before = func(ctx context.Context, op, _ string) error {
			if op == "renew" {
				<-ctx.Done() // hangs until the renewal's own timeout
				return ctx.Err()
			}
			return nil
		}
		store.mu.Unlock()
		time.Sleep(3 * time.Second) // t = 3.5 s
		synctest.Wait()
		evs := log.snapshot()
		if len(evs) != 2 || evs[1].Type != Lost || evs[1].Reason != LostExpired {
			t.Fatalf("events %+v", evs)
		}
		log.mu.Lock()
		lostAfter := log.at[1].Sub(start)
		log.mu.Unlock()
		// Last successful write at 0 s (the take): lost at the first renewal cycle at or
		// after the failover time.
		if lostAfter < 3*time.Second || lostAfter > 4*time.Second {
			t.Fatalf("lost after %v, want within [3s, 4s]", lostAfter)
		}
		if err := r.c.Checkpoint(t.Context(), "a", seqN(t, 1)); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("checkpoint: %v", err)
		}
		if n := store.count("checkpoint"); n != 0 {
			t.Fatalf("%d checkpoints reached the table", n)
		}
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}
