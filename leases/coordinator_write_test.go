package leases

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kclgo/kcl/checkpointer"
)

// Checkpoints racing renewals on the same lease never fail with a false ErrLeaseLost: the
// coordinator serialises each lease's writes, so every write carries the current counter.
func TestCheckpointsRacingRenewals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"))
		store.before = func(context.Context, string, string) error {
			time.Sleep(3 * time.Millisecond) // every call takes a little while
			return nil
		}
		r := startRun(t, store, "me", WithFailoverTime(300*time.Millisecond))
		log := logEvents(r.c)
		time.Sleep(10 * time.Millisecond)
		var wg sync.WaitGroup
		var ok atomic.Int64
		for g := range 4 {
			wg.Go(func() {
				for i := range 100 {
					err := r.c.Checkpoint(t.Context(), "a", seqN(t, g*1000+i))
					switch {
					case errors.Is(err, checkpointer.ErrCheckpointBackwards):
						// Another goroutine's checkpoint went further: refused, never written.
					case err != nil:
						t.Errorf("checkpoint: %v", err)
						return
					default:
						ok.Add(1)
					}
					time.Sleep(time.Duration(g+1) * 7 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		<-log.closed
		if log.count(Lost) != 0 {
			t.Fatalf("lost the lease: %+v", log.snapshot())
		}
		renewals := store.appliedCount("renew")
		row := store.row("a")
		if want := int64(1+renewals) + ok.Load(); row.Owner != "me" || row.Counter != want {
			t.Fatalf("row %+v, want counter %d (take + renewals + checkpoints)", row, want)
		}
		if renewals < 10 {
			t.Fatalf("only %d renewals ran during the checkpoints", renewals)
		}
	})
}

var errConnReset = errors.New("read tcp: connection reset by peer")

// A write DynamoDB applied but whose answer never came back (or that the SDK retried into a
// failed condition) does not cost the lease.
func TestAppliedWritesWithoutAnswer(t *testing.T) {
	tests := map[string]struct {
		op           string
		afterErr     error // returned after the op was applied
		times        int   // how many times in a row (default once)
		wantFirstErr bool  // the Checkpoint call itself reports the error
	}{
		"renewal answer lost":                     {op: "renew", afterErr: errConnReset},
		"renewal answer lost twice":               {op: "renew", afterErr: errConnReset, times: 2},
		"checkpoint answer lost":                  {op: "checkpoint", afterErr: errConnReset, wantFirstErr: true},
		"checkpoint retried by SDK into fail":     {op: "checkpoint", afterErr: conditionFailed()},
		"checkpoint retried into fail, twice":     {op: "checkpoint", afterErr: conditionFailed(), times: 2},
		"renewal retried by SDK into fail, twice": {op: "renew", afterErr: conditionFailed(), times: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := newMemStore(freeLease("a"))
				r := startRun(t, store, "me", WithFailoverTime(3*time.Second))
				log := logEvents(r.c)
				time.Sleep(100 * time.Millisecond)
				var hits atomic.Int64
				times := int64(max(tc.times, 1))
				store.mu.Lock()
				store.after = func(op, _ string) error {
					if op == tc.op && hits.Add(1) <= times {
						return tc.afterErr
					}
					return nil
				}
				store.mu.Unlock()
				time.Sleep(1500 * time.Millisecond) // a renewal at 1 s
				err := r.c.Checkpoint(t.Context(), "a", seqN(t, 7))
				if tc.wantFirstErr {
					if err == nil || errors.Is(err, ErrLeaseLost) {
						t.Fatalf("first checkpoint: %v, want the transport error", err)
					}
					// The checkpointer retries the same position: the table already has it.
					err = r.c.Checkpoint(t.Context(), "a", seqN(t, 7))
				}
				if err != nil {
					t.Fatalf("checkpoint: %v", err)
				}
				time.Sleep(5 * time.Second) // more renewals, more checkpoints
				if err := r.c.Checkpoint(t.Context(), "a", seqN(t, 8)); err != nil {
					t.Fatalf("later checkpoint: %v", err)
				}
				if log.count(Lost) != 0 {
					t.Fatalf("lost the lease: %+v", log.snapshot())
				}
				if row := store.row("a"); row.Owner != "me" || row.Checkpoint != seqN(t, 8) {
					t.Fatalf("row %+v", row)
				}
				if err := r.stop(); !errors.Is(err, context.Canceled) {
					t.Fatal(err)
				}
			})
		})
	}
}

// Shutdown releases every lease (so others need not wait for expiry), stops taking, ends
// every tenure with LostReleased and makes Run return nil.
func TestShutdownReleases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"), freeLease("b"), freeLease("c"))
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second), WithTakerInterval(time.Second))
		log := logEvents(r.c)
		time.Sleep(1500 * time.Millisecond)
		counters := map[string]int64{}
		for _, k := range []string{"a", "b", "c"} {
			counters[k] = store.row(k).Counter
		}
		store.set(freeLease("late")) // appears during shutdown: must not be taken
		if err := r.c.Shutdown(t.Context()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := <-r.errc; err != nil {
			t.Fatalf("Run after Shutdown: %v", err)
		}
		<-log.closed
		for _, k := range []string{"a", "b", "c", "late"} {
			row := store.row(k)
			if row.Owner != "" {
				t.Fatalf("%s still owned: %+v", k, row)
			}
			if k != "late" && row.Counter != counters[k]+1 {
				t.Fatalf("%s counter %d, want %d", k, row.Counter, counters[k]+1)
			}
		}
		// Every tenure ended; Lost events still queued when Run returned may be dropped.
		for _, ev := range log.snapshot() {
			switch {
			case ev.Type == Acquired && !isClosed(ev.Done):
				t.Fatalf("tenure of %s not ended", ev.Lease.Key)
			case ev.Type == Lost && ev.Reason != LostReleased:
				t.Fatalf("lost %+v", ev)
			}
		}
		if n := log.count(Acquired); n != 3 {
			t.Fatalf("%d acquisitions", n)
		}
		if err := r.c.Shutdown(t.Context()); err != nil {
			t.Fatalf("second Shutdown: %v", err)
		}
		if err := r.c.Run(t.Context()); err == nil {
			t.Fatal("Run after Shutdown succeeded")
		}
	})
}

func TestShutdownBeforeRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := newCoordinator(newMemStore(freeLease("a")), "me")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := c.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "already started") {
			t.Fatalf("Run: %v", err)
		}
	})
}

// A Checkpointer from NewCheckpointer writes only for its tenure: after the lease was
// released and taken again, the old one gets ErrLeaseLost while the new tenure works.
func TestCheckpointerBoundToTenure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"))
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second), WithTakerInterval(time.Second))
		log := logEvents(r.c)
		time.Sleep(100 * time.Millisecond)
		first := log.snapshot()[0]
		cp, err := r.c.NewCheckpointer(first)
		if err != nil {
			t.Fatal(err)
		}
		if err := cp.Delivered(seqN(t, 5)); err != nil {
			t.Fatal(err)
		}
		if err := cp.Checkpoint(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := r.c.Release(t.Context(), "a"); err != nil {
			t.Fatal(err)
		}
		if err := r.c.Release(t.Context(), "a"); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("second release: %v", err)
		}
		time.Sleep(time.Second) // the next taker cycle takes it again
		evs := log.snapshot()
		if len(evs) != 3 || evs[1].Reason != LostReleased || evs[2].Type != Acquired {
			t.Fatalf("events %+v", evs)
		}
		if evs[2].Lease.Checkpoint != seqN(t, 5) {
			t.Fatalf("re-acquired at %v, want the checkpoint %v", evs[2].Lease.Checkpoint, seqN(t, 5))
		}
		if err := cp.Delivered(seqN(t, 9)); err != nil {
			t.Fatal(err)
		}
		if err := cp.Checkpoint(t.Context()); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("old tenure's checkpointer: %v", err)
		}
		if err := r.c.Checkpoint(t.Context(), "a", seqN(t, 6)); err != nil {
			t.Fatalf("new tenure: %v", err)
		}
		if _, err := r.c.NewCheckpointer(evs[1]); err == nil {
			t.Fatal("NewCheckpointer accepted a Lost event")
		}
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}

func TestCheckpointShardEndRecordsChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"))
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second))
		time.Sleep(100 * time.Millisecond)
		if err := r.c.CheckpointShardEnd(t.Context(), "a", []string{"c1", "c2"}); err != nil {
			t.Fatal(err)
		}
		row := store.row("a")
		if !row.Checkpoint.IsShardEnd() || fmt.Sprint(row.ChildShardIDs) != "[c1 c2]" {
			t.Fatalf("row %+v", row)
		}
		if err := r.c.CheckpointShardEnd(t.Context(), "nope", nil); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("unheld lease: %v", err)
		}
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}

type recordingMetrics struct {
	NoMetrics
	mu      sync.Mutex
	skipped []string
	cycles  []TakerStats
}

func (m *recordingMetrics) SkippedRow(e *RowError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.skipped = append(m.skipped, e.LeaseKey)
}

func (m *recordingMetrics) TakerCycle(s TakerStats, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cycles = append(m.cycles, s)
}

func TestSkippedRowsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"))
		store.skipped = []*RowError{
			{LeaseKey: "leader-lock", Attribute: "entityType=LEADER", Err: ErrNotALease},
			{LeaseKey: "shardId-9", Attribute: "leaseCounter", Err: errors.New("bad")},
		}
		m := &recordingMetrics{}
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second), WithTakerInterval(time.Second), WithMetrics(m))
		time.Sleep(2500 * time.Millisecond)
		m.mu.Lock()
		skipped, cycles := fmt.Sprint(m.skipped), len(m.cycles)
		last := m.cycles[len(m.cycles)-1]
		m.mu.Unlock()
		if want := "[leader-lock shardId-9 leader-lock shardId-9 leader-lock shardId-9]"; skipped != want || cycles != 3 {
			t.Fatalf("skipped %s over %d cycles", skipped, cycles)
		}
		if last.Skipped != 2 || last.Leases != 1 || last.Held != 1 || last.Workers != 1 {
			t.Fatalf("stats %+v", last)
		}
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}

func TestNewCoordinatorValidation(t *testing.T) {
	store := newMemStore()
	tests := map[string]struct {
		id   string
		opts []CoordinatorOption
		want string
	}{
		"empty worker id":         {id: "", want: "empty worker id"},
		"zero failover":           {id: "w", opts: []CoordinatorOption{WithFailoverTime(0)}, want: "WithFailoverTime"},
		"renewal not below":       {id: "w", opts: []CoordinatorOption{WithRenewalInterval(10 * time.Second)}, want: "WithRenewalInterval"},
		"zero renewal":            {id: "w", opts: []CoordinatorOption{WithRenewalInterval(0)}, want: "WithRenewalInterval"},
		"zero taker":              {id: "w", opts: []CoordinatorOption{WithTakerInterval(0)}, want: "WithTakerInterval"},
		"zero max leases":         {id: "w", opts: []CoordinatorOption{WithMaxLeasesForWorker(0)}, want: "WithMaxLeasesForWorker"},
		"negative steal":          {id: "w", opts: []CoordinatorOption{WithMaxLeasesToStealAtOneTime(-1)}, want: "WithMaxLeasesToStealAtOneTime"},
		"zero concurrency":        {id: "w", opts: []CoordinatorOption{WithRenewalConcurrency(0)}, want: "WithRenewalConcurrency"},
		"nil logger":              {id: "w", opts: []CoordinatorOption{WithLogger(nil)}, want: "WithLogger"},
		"nil metrics":             {id: "w", opts: []CoordinatorOption{WithMetrics(nil)}, want: "WithMetrics"},
		"defaults":                {id: "w"},
		"short failover, derived": {id: "w", opts: []CoordinatorOption{WithFailoverTime(time.Second)}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := newCoordinator(store, tc.id, tc.opts...)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.cfg.renewInterval != c.cfg.failover/3 || c.cfg.takerInterval != c.cfg.failover {
					t.Fatalf("derived intervals %v %v from %v", c.cfg.renewInterval, c.cfg.takerInterval, c.cfg.failover)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
	if _, err := NewCoordinator(nil, "w"); err == nil {
		t.Fatal("nil table accepted")
	}
}

// The checkpoint position must be a position.
func TestCheckpointZeroPosition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"))
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second))
		time.Sleep(100 * time.Millisecond)
		if err := r.c.Checkpoint(t.Context(), "a", checkpointer.ExtendedSequenceNumber{}); err == nil || errors.Is(err, ErrLeaseLost) {
			t.Fatalf("zero position: %v", err)
		}
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}
