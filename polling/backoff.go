package polling

import (
	"math/rand/v2"
	"time"
)

// backoff is a jittered exponential backoff: the n-th delay in a row lies in [d/2, d] with
// d = min(max, initial*2^n), so retries of many readers spread out but never come sooner
// than half the nominal delay.
type backoff struct {
	initial, max time.Duration
	nominal      time.Duration       // d of the next delay; 0 means initial
	jitter       func(n int64) int64 // uniform in [0, n); rand.Int64N outside tests
}

func newBackoff(initial, max time.Duration) *backoff {
	return &backoff{initial: initial, max: max, jitter: rand.Int64N}
}

func (b *backoff) next() time.Duration {
	d := b.nominal
	if d == 0 {
		d = b.initial
	}
	if d > b.max/2 {
		b.nominal = b.max
	} else {
		b.nominal = 2 * d
	}
	half := d / 2
	return d - half + time.Duration(b.jitter(int64(half)+1))
}

func (b *backoff) reset() { b.nominal = 0 }
