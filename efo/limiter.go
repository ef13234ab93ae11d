package efo

import (
	"context"
	"sync"
	"time"

	"github.com/kclgo/kcl/internal/ctxwait"
)

// shardLimiter spaces SubscribeToShard calls per shard by at least interval, across every
// subscription of one Consumer (a shard lost and taken again at once must not call twice
// within a second).
type shardLimiter struct {
	interval time.Duration

	mu        sync.Mutex
	next      map[string]time.Time // shard -> earliest time of its next call
	sweepSize int                  // sweep old entries when the map grows past this
}

func newShardLimiter(interval time.Duration) *shardLimiter {
	return &shardLimiter{interval: interval, next: make(map[string]time.Time), sweepSize: 64}
}

// wait books the next call slot of shardID and waits for it.
func (l *shardLimiter) wait(ctx context.Context, shardID string) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return ctxwait.Sleep(ctx, l.reserve(shardID, time.Now()))
}

// reserve books the earliest free slot of shardID at or after now and returns how long
// until it.
func (l *shardLimiter) reserve(shardID string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := now
	if next, ok := l.next[shardID]; ok && next.After(now) {
		at = next
	}
	l.next[shardID] = at.Add(l.interval)
	if len(l.next) > l.sweepSize {
		for id, next := range l.next {
			if !next.After(now) {
				delete(l.next, id)
			}
		}
		l.sweepSize = max(64, 2*len(l.next))
	}
	return at.Sub(now)
}
