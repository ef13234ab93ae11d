package efo

import (
	"math/rand/v2"
	"time"
)

// backoff returns the wait before retry number attempt (0 for the first retry): the step
// min·2^attempt, capped at max, with "equal jitter" (uniform in [step/2, step]) so that
// workers failing together do not retry together.
func backoff(min, max time.Duration, attempt int) time.Duration {
	step := min
	for i := 0; i < attempt && step < max; i++ {
		step *= 2
	}
	step = minDuration(step, max)
	half := step / 2
	return half + rand.N(step-half+1)
}

// jitter returns d ±25 %, for polling intervals.
func jitter(d time.Duration) time.Duration {
	q := d / 4
	if q <= 0 {
		return d
	}
	return d - q + rand.N(2*q+1)
}

func minDuration(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

// firstPoll is the first wait of a growing poll: registering a consumer takes about half a
// second on an emulator and seconds on Kinesis, so start short and double.
const firstPoll = 50 * time.Millisecond

// growingPoll returns the wait before poll number n (0 first): firstPoll·2^n capped at max,
// jittered.
func growingPoll(max time.Duration, n int) time.Duration {
	d := minDuration(firstPoll, max)
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	return jitter(minDuration(d, max))
}
