package polling

import "time"

// pacer decides when a shard's next GetRecords call may start. It is pure: the caller
// passes the time in, so tests drive it with a fake clock.
//
// Rules, each a lower bound on the next start:
//   - calls start at least minInterval apart (5 calls/s → 200 ms);
//   - a token bucket of bytes, refilled at bytesPerSecond up to one second's worth, is
//     charged with each response; while it is in debt no call starts, so the average
//     stays at or below the rate however large single responses are;
//   - after a response of largeBytes or more, wait largePause;
//   - after a response that shows the shard caught up, wait idleDelay; while behind
//     there is no such wait. Caught up means MillisBehindLatest 0 and a response below
//     the Limit: a full response says more records are waiting even when they all
//     arrived in the same millisecond as the latest one (MillisBehindLatest then is 0).
type pacer struct {
	minInterval    time.Duration
	bytesPerSecond int64
	largeBytes     int64
	largePause     time.Duration
	idleDelay      time.Duration

	lastStart time.Time // zero before the first call
	tokens    int64     // byte budget in nanobytes (exact integer arithmetic); negative is debt
	tokensAt  time.Time
	notBefore time.Time // from the large-response pause and the idle delay
}

func newPacer(c *config, now time.Time) *pacer {
	return &pacer{
		minInterval:    time.Second / time.Duration(c.callsPerSecond),
		bytesPerSecond: c.bytesPerSecond,
		largeBytes:     c.largeBytes,
		largePause:     c.largePause,
		idleDelay:      c.idleDelay,
		tokens:         c.bytesPerSecond * nanobytes,
		tokensAt:       now,
	}
}

// nanobytes per byte: a rate in bytes/s times a duration in ns is a count of nanobytes.
const nanobytes = int64(time.Second)

// refill adds what the rate earned since the last refill, up to one second's worth.
func (p *pacer) refill(now time.Time) {
	elapsed := int64(now.Sub(p.tokensAt))
	if elapsed <= 0 {
		return
	}
	p.tokensAt = now
	burst := p.bytesPerSecond * nanobytes
	// Compare durations first, so the product below stays under the missing amount.
	if missing := burst - p.tokens; elapsed >= missing/p.bytesPerSecond+1 {
		p.tokens = burst
		return
	}
	p.tokens += elapsed * p.bytesPerSecond
}

// delay is how long from now the next call must wait.
func (p *pacer) delay(now time.Time) time.Duration {
	at := p.notBefore
	if !p.lastStart.IsZero() {
		at = later(at, p.lastStart.Add(p.minInterval))
	}
	p.refill(now)
	if p.tokens < 0 {
		// Round up, so that waiting exactly this long clears the debt.
		debt := (-p.tokens + p.bytesPerSecond - 1) / p.bytesPerSecond
		at = later(at, now.Add(time.Duration(debt)))
	}
	return max(0, at.Sub(now))
}

// started records that a call (successful or not) started at now.
func (p *pacer) started(now time.Time) { p.lastStart = now }

// observe records a response of bytes that arrived at now; full says it had as many
// records as the call's Limit allowed.
func (p *pacer) observe(now time.Time, bytes int, millisBehindLatest int64, full bool) {
	p.refill(now)
	p.tokens -= int64(bytes) * nanobytes
	if int64(bytes) >= p.largeBytes {
		p.notBefore = later(p.notBefore, now.Add(p.largePause))
	}
	if millisBehindLatest == 0 && !full {
		p.notBefore = later(p.notBefore, now.Add(p.idleDelay))
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
