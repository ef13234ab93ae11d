package leases

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// renewLoop renews every held lease each renewal interval, on its own goroutine: nothing the
// user does (slow processing, an unread events channel) can hold it up.
func (c *Coordinator) renewLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.renewInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.renewOnce(ctx)
		}
	}
}

// renewOnce runs one renewal cycle over the leases held now, with bounded concurrency.
func (c *Coordinator) renewOnce(ctx context.Context) {
	start := time.Now()
	c.mu.Lock()
	tenures := make([]*tenure, 0, len(c.held))
	for _, tn := range c.held {
		tenures = append(tenures, tn)
	}
	c.mu.Unlock()

	var failed, lost atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(c.cfg.renewConcurrency, len(tenures)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(tenures) || ctx.Err() != nil {
					return
				}
				switch c.renewTenure(ctx, tenures[i]) {
				case renewFailed:
					failed.Add(1)
				case renewLost:
					lost.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // cut short by shutdown: not a cycle worth reporting
	}
	c.cfg.metrics.RenewalCycle(len(tenures), int(failed.Load()), int(lost.Load()), time.Since(start))
}

// newThrottleBackoff paces retries of throttled releases.
func newThrottleBackoff() *backoff.ExponentialBackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(100*time.Millisecond),
		backoff.WithMaxInterval(2*time.Second),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxElapsedTime(0),
	)
}
