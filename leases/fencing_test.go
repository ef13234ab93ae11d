package leases

import (
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kclgo/kcl/checkpointer"
)

// A second process writing under the same worker id (a restarted worker whose old process
// woke up) must not make the old one overwrite the new one's checkpoint: a refused write
// whose row moved in a way no unanswered write of ours explains loses the lease instead.
func TestSameIDOtherProcessCannotBeOverwritten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"))
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second))
		log := logEvents(r.c)
		time.Sleep(100 * time.Millisecond) // taken
		if err := r.c.Checkpoint(t.Context(), "a", seqN(t, 10)); err != nil {
			t.Fatal(err)
		}
		// The other process, same id, moves the row on: counter +1, checkpoint 50.
		row := store.row("a")
		row.Counter++
		row.Checkpoint = seqN(t, 50)
		store.set(row)

		err := r.c.Checkpoint(t.Context(), "a", seqN(t, 20))
		if !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("checkpoint over the other process's: %v, want ErrLeaseLost", err)
		}
		if got := store.row("a").Checkpoint; got != seqN(t, 50) {
			t.Fatalf("row checkpoint %v, want the other process's %v", got, seqN(t, 50))
		}
		for _, l := range r.c.Held() {
			if l.Key == "a" {
				t.Fatalf("lease still held after the conflict")
			}
		}
		_ = r.stop()
		<-log.closed
	})
}

// A checkpoint behind the lease's own is refused without a write, and SHARD_END stays.
func TestCheckpointNeverMovesBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"))
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second))
		time.Sleep(100 * time.Millisecond)
		if err := r.c.CheckpointShardEnd(t.Context(), "a", []string{"b"}); err != nil {
			t.Fatal(err)
		}
		err := r.c.Checkpoint(t.Context(), "a", seqN(t, 7))
		if !errors.Is(err, checkpointer.ErrCheckpointBackwards) {
			t.Fatalf("checkpoint after SHARD_END: %v, want ErrCheckpointBackwards", err)
		}
		if got := store.row("a").Checkpoint; !got.IsShardEnd() {
			t.Fatalf("row checkpoint %v, want SHARD_END", got)
		}
		_ = r.stop()
	})
}

// A checkpoint applied without an answer, followed by a further checkpoint: the row holds the
// unanswered one, which is ours, so the counter is adopted and the further one written.
func TestUnansweredCheckpointThenFurther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"))
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second))
		time.Sleep(100 * time.Millisecond)
		var once atomic.Bool
		store.mu.Lock()
		store.after = func(op, _ string) error {
			if op == "checkpoint" && once.CompareAndSwap(false, true) {
				return errConnReset
			}
			return nil
		}
		store.mu.Unlock()
		if err := r.c.Checkpoint(t.Context(), "a", seqN(t, 7)); err == nil || errors.Is(err, ErrLeaseLost) {
			t.Fatalf("first checkpoint: %v, want the transport error", err)
		}
		if err := r.c.Checkpoint(t.Context(), "a", seqN(t, 9)); err != nil {
			t.Fatalf("further checkpoint after an unanswered one: %v", err)
		}
		if row := store.row("a"); row.Owner != "me" || row.Checkpoint != seqN(t, 9) {
			t.Fatalf("row %+v, want owner me at %v", row, seqN(t, 9))
		}
		_ = r.stop()
	})
}

// The counter half of the fence, on the coordinator's side: a refused checkpoint whose row is
// still ours, with our checkpoint, but whose counter moved by more than our unanswered writes
// explain (here: two renewals by another process under this worker's id, none of ours
// unanswered) is a conflict: the lease is lost, and nothing is written with the row's counter.
func TestCounterMovedBeyondOurWritesIsAConflict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(freeLease("a"))
		r := startRun(t, store, "me", WithFailoverTime(3*time.Second))
		log := logEvents(r.c)
		synctest.Wait()
		if len(r.c.Held()) != 1 {
			t.Fatalf("held %v after the first taker cycle, want lease a", r.c.Held())
		}
		if err := r.c.Checkpoint(t.Context(), "a", seqN(t, 10)); err != nil {
			t.Fatal(err)
		}
		row := store.row("a")
		row.Counter += 2 // two renewals by the other process; the checkpoint stays ours
		store.set(row)
		writes := store.appliedCount("checkpoint")

		err := r.c.Checkpoint(t.Context(), "a", seqN(t, 20))
		if !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("checkpoint after the counter moved by 2: %v, want ErrLeaseLost", err)
		}
		if got := store.row("a"); got.Counter != row.Counter || got.Checkpoint != seqN(t, 10) {
			t.Fatalf("row %+v, want it untouched at counter %d, checkpoint %v", got, row.Counter, seqN(t, 10))
		}
		if n := store.appliedCount("checkpoint"); n != writes {
			t.Fatalf("%d checkpoints applied after the conflict", n-writes)
		}
		synctest.Wait() // the Lost event reached the log
		var reasons []LostReason
		for _, ev := range log.snapshot() {
			if ev.Type == Lost {
				reasons = append(reasons, ev.Reason)
			}
		}
		if len(reasons) != 1 || reasons[0] != LostConflict {
			t.Fatalf("lost events with reasons %v, want one LostConflict", reasons)
		}
		_ = r.stop()
		<-log.closed
	})
}
