package leases

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"
)

// takeLoop runs taker cycles until ctx ends or taking stops: at once, then every taker
// interval, or earlier when a watched lease is due to expire.
func (c *Coordinator) takeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.stopTaking:
			return
		default:
		}
		wait := c.takeOnce(ctx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-c.stopTaking:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// takeOnce scans the table, ends tenures the scan shows are gone, takes or steals leases
// as planTakes says, and returns how long to wait before the next cycle.
func (c *Coordinator) takeOnce(ctx context.Context) time.Duration {
	start := time.Now()
	nextAt := start.Add(c.cfg.takerInterval)
	leases, skipped, err := c.store.ListLeases(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.log.LogAttrs(ctx, slog.LevelWarn, "lease table scan failed", slog.Any("error", err))
		}
		return c.cfg.takerInterval
	}
	if keep := c.cfg.keep; keep != nil {
		// Filtered in place: the scan's slice is this cycle's own.
		leases = slices.DeleteFunc(leases, func(l Lease) bool { return !keep(l) })
	}
	now := time.Now()
	c.reportSkipped(ctx, skipped)
	observe(c.seen, leases, now)
	c.dropTenuresGoneInScan(leases, start)

	c.mu.Lock()
	held := make(map[string]bool, len(c.held))
	for k := range c.held {
		held[k] = true
	}
	c.mu.Unlock()
	p := planTakes(planInput{
		me:        c.workerID,
		leases:    leases,
		held:      held,
		expired:   func(l Lease) bool { return c.seen[l.Key].expired(now, c.cfg.failover) },
		maxLeases: c.cfg.maxLeases,
		maxSteal:  c.cfg.maxSteal,
	}, c.rng)
	p.stats.Skipped = len(skipped)

	for _, l := range p.candidates {
		if p.stats.Taken >= p.need || ctx.Err() != nil || c.takingStopped() {
			break
		}
		if c.tryTake(ctx, l, false) {
			p.stats.Taken++
		}
	}
	for _, l := range p.steal {
		if p.stats.Stolen >= p.stealCount || ctx.Err() != nil || c.takingStopped() {
			break
		}
		if c.tryTake(ctx, l, true) {
			p.stats.Stolen++
		}
	}
	if p.stats.Taken+p.stats.Stolen > 0 {
		c.log.LogAttrs(ctx, slog.LevelInfo, "took leases",
			slog.Int("taken", p.stats.Taken), slog.Int("stolen", p.stats.Stolen), slog.String("from", p.victim),
			slog.Int("leases", p.stats.Leases), slog.Int("workers", p.stats.Workers), slog.Int("target", p.stats.Target))
	}
	if ctx.Err() == nil {
		c.cfg.metrics.TakerCycle(p.stats, time.Since(start))
	}

	// Wake up when the first lease owned by another worker may expire, so that a dead
	// worker's leases are taken within the failover time plus one taker interval.
	for _, o := range c.seen {
		if o.owner == "" || o.owner == c.workerID || o.expired(now, c.cfg.failover) {
			continue
		}
		if at := o.changedAt.Add(c.cfg.failover); at.Before(nextAt) {
			nextAt = at
		}
	}
	return max(time.Until(nextAt), minTakerWait)
}

func (c *Coordinator) takingStopped() bool {
	select {
	case <-c.stopTaking:
		return true
	default:
		return false
	}
}

// dropTenuresGoneInScan ends tenures the scan shows owned by somebody else or deleted. Only
// a scan that started after the take can say so.
func (c *Coordinator) dropTenuresGoneInScan(leases []Lease, scanStart time.Time) {
	byKey := make(map[string]*Lease, len(leases))
	for i := range leases {
		byKey[leases[i].Key] = &leases[i]
	}
	c.mu.Lock()
	var gone []*tenure
	for key, tn := range c.held {
		if l := byKey[key]; (l == nil || l.Owner != c.workerID) && tn.acquiredAt.Before(scanStart) {
			gone = append(gone, tn)
		}
	}
	c.mu.Unlock()
	for _, tn := range gone {
		_ = tn.wlock.lock(context.Background())
		if l := byKey[tn.key]; l == nil {
			c.markLost(tn, LostDeleted, "")
		} else {
			c.markLost(tn, LostTaken, l.Owner)
		}
		tn.wlock.unlock()
	}
}

// tryTake takes seen (conditioned on the counter seen) and starts a tenure.
func (c *Coordinator) tryTake(ctx context.Context, seen Lease, stolen bool) bool {
	sent := time.Now()
	counter, err := c.store.take(ctx, seen, c.workerID)
	if stolen && isConditionFailed(err) {
		// The victim renewed between our scan and the take (it renews every third of the
		// failover time, so this is common): read the lease again and, if the victim still
		// holds it, steal it on its new counter.
		row, found, gerr := c.store.get(ctx, seen.Key)
		if gerr == nil && found && row.Owner == seen.Owner && !row.Finished() {
			seen, sent = row, time.Now()
			counter, err = c.store.take(ctx, seen, c.workerID)
		}
	}
	if err != nil {
		if isConditionFailed(err) {
			c.log.LogAttrs(ctx, slog.LevelDebug, "lease taken by another worker first", slog.String("lease", seen.Key))
		} else if ctx.Err() == nil {
			c.log.LogAttrs(ctx, slog.LevelWarn, "taking a lease failed", slog.String("lease", seen.Key), slog.Any("error", err))
		}
		return false
	}
	l := seen
	if (seen.Owner != "" && seen.Owner != c.workerID) || seen.CheckpointOwner == c.workerID {
		l.OwnerSwitchesSinceCheckpoint++
	}
	l.Owner, l.Counter, l.CheckpointOwner = c.workerID, counter, ""
	tn := &tenure{key: l.Key, done: make(chan struct{}), acquiredAt: time.Now(), wlock: newWriteLock(), lease: l}
	// Under the write lock: a take answered later than the failover time after it was sent
	// arms an expiry timer that fires at once, and its callback must not see the tenure
	// half set up (the race detector caught it reading tn.expiry while it was assigned).
	tn.wlock.tryLock() // always free: nobody else knows tn yet
	c.renewedAt(tn, sent)
	tn.publish()
	tn.wlock.unlock()
	c.mu.Lock()
	if old := c.held[l.Key]; old != nil {
		// Cannot happen (held leases are never candidates); keep the invariant regardless.
		c.mu.Unlock()
		c.log.LogAttrs(ctx, slog.LevelError, "took a lease already held", slog.String("lease", l.Key))
		return false
	}
	c.held[l.Key] = tn
	c.mu.Unlock()
	c.events.push(Event{Type: Acquired, Lease: l, Done: tn.done, tenure: tn, coordinator: c})
	c.cfg.metrics.LeaseAcquired(l.Key, stolen)
	c.log.LogAttrs(ctx, slog.LevelInfo, "lease acquired", slog.String("lease", l.Key),
		slog.Bool("stolen", stolen), slog.String("previousOwner", seen.Owner), slog.String("checkpoint", l.Checkpoint.String()))
	return true
}

// reportSkipped reports rows that are not leases or do not parse: each at warning level
// the first time (foreign rows of KCL 3.5 at debug), every cycle to the metrics.
func (c *Coordinator) reportSkipped(ctx context.Context, skipped []*RowError) {
	for _, r := range skipped {
		c.cfg.metrics.SkippedRow(r)
		if c.reported[r.LeaseKey] {
			continue
		}
		c.reported[r.LeaseKey] = true
		level, msg := slog.LevelWarn, "skipping a lease table row that does not parse: it is neither taken nor changed, so its shard is not read until the row is repaired or deleted"
		if errors.Is(r, ErrNotALease) {
			level, msg = slog.LevelDebug, "skipping lease table row"
		}
		c.log.LogAttrs(ctx, level, msg, slog.String("row", r.LeaseKey), slog.Any("error", r))
	}
}
