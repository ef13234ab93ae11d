package leases

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/kclgo/kcl/checkpointer"
)

// The writes of one tenure. Functions here take the tenure's write lock themselves or say
// that the caller holds it.

// markLost ends tn: closes Done, forgets it, queues the Lost event. The
// write lock must be held.
func (c *Coordinator) markLost(tn *tenure, reason LostReason, newOwner string) {
	if tn.lost {
		return
	}
	tn.lost, tn.reason = true, reason
	tn.closeDone()
	if tn.expiry != nil {
		tn.expiry.Stop()
	}
	c.mu.Lock()
	if c.held[tn.key] == tn {
		delete(c.held, tn.key)
	}
	c.mu.Unlock()
	c.events.push(Event{Type: Lost, Lease: tn.lease, Reason: reason, NewOwner: newOwner, coordinator: c})
	c.cfg.metrics.LeaseLost(tn.key, reason)
	level := slog.LevelWarn
	if reason == LostReleased || reason == LostStopped {
		level = slog.LevelInfo
	}
	c.log.LogAttrs(context.Background(), level, "lease lost",
		slog.String("lease", tn.key), slog.String("reason", reason.String()), slog.String("newOwner", newOwner))
}

func lostError(tn *tenure) error {
	return fmt.Errorf("lease %s: %w (%v)", tn.key, ErrLeaseLost, tn.reason)
}

// expireIfStale ends tn when no write of ours succeeded for the failover time: other workers
// may consider it expired by now. The write lock must be held.
func (c *Coordinator) expireIfStale(tn *tenure) bool {
	if tn.stale.Load() || !tn.fresh(time.Now()) {
		c.markLost(tn, LostExpired, "")
		return true
	}
	return false
}

// renewedAt records that a write of ours sent at sent was answered: the tenure is good until
// the failover time after it. The write lock must be held (or tn not yet published).
func (c *Coordinator) renewedAt(tn *tenure, sent time.Time) {
	tn.lastRenewed = sent
	until := sent.Add(c.cfg.failover)
	tn.heldUntil.Store(&until)
	if tn.expiry == nil {
		tn.expiry = time.AfterFunc(time.Until(until), func() { c.expire(tn) })
		return
	}
	tn.expiry.Reset(time.Until(until))
}

// expire runs when tn's failover time may have passed. Without an answered write since,
// the tenure ends now: Done closes at once, and the Lost event follows as soon as no write
// of the tenure is in flight (a write in flight ends it when it returns).
func (c *Coordinator) expire(tn *tenure) {
	if tn.fresh(time.Now()) {
		return // renewed meanwhile
	}
	if tn.wlock.tryLock() {
		c.expireIfStale(tn)
		tn.wlock.unlock()
		return
	}
	tn.stale.Store(true)
	tn.closeDone()
	c.log.LogAttrs(context.Background(), slog.LevelWarn, "lease not renewed within the failover time; ending its tenure",
		slog.String("lease", tn.key))
}

// writeKind says how fencedWrite settles a refused condition.
type writeKind int

const (
	renewWrite writeKind = iota
	checkpointWrite
	releaseWrite
)

// maxSettleRounds bounds how often fencedWrite re-reads a row that is still ours and tries
// again: every round means a write of ours was applied without an answer reaching us (or
// another process writes under this worker's id).
const maxSettleRounds = 3

// fencedWrite runs op with the tenure's counter; the write lock must be held and tn not lost.
// On success the counter is bumped and the renewal time set. When the table refuses the
// condition, the row is read back: gone, or owned by somebody else, means the lease is lost
// (Lost is emitted and the error wraps ErrLeaseLost). Still ours may mean a write of ours was
// applied although its answer never came (an SDK retry after a reset, a timed-out attempt):
// the counter is adopted only when it moved by no more than such writes (this one included)
// can explain, and for a checkpoint only when the row holds what our writes put there.
// Anything else is another process writing under this worker's id: the lease is lost
// (LostConflict), and nothing is written with a counter taken from the row.
func (c *Coordinator) fencedWrite(ctx context.Context, tn *tenure, kind writeKind, position checkpointer.ExtendedSequenceNumber, op func(counter int64) error) error {
	for round := 1; ; round++ {
		sent := time.Now()
		err := op(tn.lease.Counter)
		if tn.stale.Load() {
			// The failover time passed while the write was out: the tenure ended already.
			c.markLost(tn, LostExpired, "")
			return lostError(tn)
		}
		if err == nil {
			tn.lease.Counter++
			c.renewedAt(tn, sent)
			tn.unanswered, tn.unansweredAt = 0, nil
			tn.publish()
			return nil
		}
		if !isConditionFailed(err) {
			if !checkpointer.IsThrottling(err) {
				tn.unanswered++ // a timeout or a reset: it may have been applied
				if kind == checkpointWrite {
					tn.unansweredAt = append(tn.unansweredAt, position)
				}
			}
			return err
		}
		row, found, gerr := c.store.get(ctx, tn.key)
		var rowErr *RowError
		switch {
		case errors.As(gerr, &rowErr):
			c.markLost(tn, LostDeleted, "")
		case gerr != nil:
			// Unknown state: keep the lease; the next renewal settles it.
			return fmt.Errorf("lease %s: write refused, and reading it back failed: %w", tn.key, gerr)
		case !found:
			c.markLost(tn, LostDeleted, "")
		case row.Owner == "" && kind == releaseWrite:
			c.markLost(tn, LostReleased, "") // our release was applied
			return nil
		case row.Owner != c.workerID:
			c.markLost(tn, LostTaken, row.Owner)
		}
		if tn.lost {
			return lostError(tn)
		}
		moved := row.Counter != tn.lease.Counter
		// This op's own SDK-level attempts may have applied it once; its earlier unanswered
		// writes account for the rest. The row's checkpoint must be one our writes left.
		explicable := row.Counter >= tn.lease.Counter && row.Counter-tn.lease.Counter <= tn.unanswered+1
		ours := row.Checkpoint == tn.lease.Checkpoint || slices.Contains(tn.unansweredAt, row.Checkpoint) ||
			(kind == checkpointWrite && row.Checkpoint == position)
		if !explicable || !ours {
			c.markLost(tn, LostConflict, "")
			return lostError(tn)
		}
		tn.lease.Checkpoint = row.Checkpoint
		c.log.LogAttrs(ctx, slog.LevelDebug, "adopting the counter of a write applied without an answer",
			slog.String("lease", tn.key), slog.Int64("ours", tn.lease.Counter), slog.Int64("table", row.Counter))
		tn.unanswered = max(0, tn.unanswered-(row.Counter-tn.lease.Counter))
		tn.lease.Counter = row.Counter
		if moved {
			c.renewedAt(tn, sent) // the counter moved after sent: the lease was renewed since
		}
		tn.publish()
		switch {
		case kind == renewWrite && moved:
			return nil
		case kind == checkpointWrite && row.Checkpoint == position:
			return nil
		case round == maxSettleRounds:
			c.markLost(tn, LostConflict, "")
			return lostError(tn)
		}
	}
}

// renewResult is the outcome of one renewal attempt.
type renewResult int

const (
	renewed renewResult = iota
	renewSkipped
	renewFailed
	renewLost
)

// renewTenure renews tn unless another write of it is in flight (that write renews it too).
func (c *Coordinator) renewTenure(ctx context.Context, tn *tenure) renewResult {
	if !tn.wlock.tryLock() {
		return renewSkipped
	}
	defer tn.wlock.unlock()
	if tn.lost || c.expireIfStale(tn) {
		return renewLost
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.renewInterval)
	defer cancel()
	err := c.fencedWrite(rctx, tn, renewWrite, checkpointer.ExtendedSequenceNumber{}, func(counter int64) error {
		return c.store.renew(rctx, tn.key, c.workerID, counter)
	})
	switch {
	case err == nil:
		return renewed
	case errors.Is(err, ErrLeaseLost):
		return renewLost
	case ctx.Err() == nil:
		c.log.LogAttrs(ctx, slog.LevelWarn, "lease renewal failed; retrying next cycle",
			slog.String("lease", tn.key), slog.Any("error", err))
	}
	return renewFailed
}

func (c *Coordinator) checkpointTenure(ctx context.Context, tn *tenure, position checkpointer.ExtendedSequenceNumber, children []string) error {
	if position.IsZero() {
		return fmt.Errorf("checkpoint lease %s: no position", tn.key)
	}
	if err := tn.wlock.lock(ctx); err != nil {
		return fmt.Errorf("checkpoint lease %s: %w", tn.key, err)
	}
	defer tn.wlock.unlock()
	if tn.lost || c.expireIfStale(tn) {
		return lostError(tn)
	}
	if position.Compare(tn.lease.Checkpoint) < 0 {
		// A checkpoint never moves back, least of all over SHARD_END.
		return fmt.Errorf("checkpoint lease %s at %v: behind its checkpoint %v: %w",
			tn.key, position, tn.lease.Checkpoint, checkpointer.ErrCheckpointBackwards)
	}
	// One attempt holds the lock for at most a renewal interval (the SDK's own retries can
	// sleep for seconds), so that a throttled checkpoint cannot keep the lease from being
	// renewed; the Checkpointer retries a timed-out attempt.
	wctx, cancel := context.WithTimeout(ctx, c.cfg.renewInterval)
	defer cancel()
	err := c.fencedWrite(wctx, tn, checkpointWrite, position, func(counter int64) error {
		return c.store.checkpoint(wctx, tn.key, c.workerID, counter, position, children)
	})
	switch {
	case err == nil:
		tn.lease.Checkpoint = position
		tn.lease.OwnerSwitchesSinceCheckpoint = 0
		tn.lease.PendingCheckpoint = checkpointer.ExtendedSequenceNumber{}
		tn.lease.PendingCheckpointState = nil
		if len(children) > 0 {
			tn.lease.ChildShardIDs = append([]string(nil), children...)
		}
		tn.publish()
		return nil
	case errors.Is(err, ErrLeaseLost):
		return err
	}
	return fmt.Errorf("checkpoint lease %s at %v: %w", tn.key, position, err)
}

// releaseTenure releases tn, retrying throttling and transient failures with backoff until
// ctx ends.
func (c *Coordinator) releaseTenure(ctx context.Context, tn *tenure) error {
	if err := tn.wlock.lock(ctx); err != nil {
		return fmt.Errorf("release lease %s: %w", tn.key, err)
	}
	defer tn.wlock.unlock()
	var wait interface{ NextBackOff() time.Duration }
	for {
		if tn.lost || c.expireIfStale(tn) {
			return lostError(tn)
		}
		wctx, cancel := context.WithTimeout(ctx, c.cfg.renewInterval)
		err := c.fencedWrite(wctx, tn, releaseWrite, checkpointer.ExtendedSequenceNumber{}, func(counter int64) error {
			return c.store.release(wctx, tn.key, c.workerID, counter)
		})
		cancel()
		switch {
		case err == nil:
			c.markLost(tn, LostReleased, "")
			return nil
		case errors.Is(err, ErrLeaseLost):
			return err
		case ctx.Err() != nil:
			return fmt.Errorf("release lease %s: %w", tn.key, context.Cause(ctx))
		case !checkpointer.Retryable(ctx, err):
			return fmt.Errorf("release lease %s: %w", tn.key, err)
		}
		if wait == nil {
			wait = newThrottleBackoff()
		}
		t := time.NewTimer(wait.NextBackOff())
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("release lease %s: %w", tn.key, context.Cause(ctx))
		case <-t.C:
		}
	}
}
