package polling

import (
	"testing"
	"time"
)

func TestBackoffDoublesUpToMaxWithinJitter(t *testing.T) {
	nominal := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for _, tc := range []struct {
		name   string
		jitter func(int64) int64
		want   func(d time.Duration) time.Duration
	}{
		{"least jitter", func(int64) int64 { return 0 }, func(d time.Duration) time.Duration { return d - d/2 }},
		{"most jitter", func(n int64) int64 { return n - 1 }, func(d time.Duration) time.Duration { return d }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackoff(100*time.Millisecond, time.Second)
			b.jitter = tc.jitter
			for round := range 2 {
				for i, n := range nominal {
					n *= time.Millisecond
					if got := b.next(); got != tc.want(n) {
						t.Fatalf("round %d delay %d: got %v, want %v", round, i, got, tc.want(n))
					}
				}
				b.reset()
			}
		})
	}
}

func TestBackoffRandomJitterStaysInRange(t *testing.T) {
	b := newBackoff(time.Millisecond, 50*time.Millisecond)
	d := time.Millisecond
	for i := range 1000 {
		got := b.next()
		if got < d/2 || got > d {
			t.Fatalf("delay %d: %v outside [%v, %v]", i, got, d/2, d)
		}
		d = min(2*d, 50*time.Millisecond)
	}
}

func TestBackoffHugeMaxDoesNotOverflow(t *testing.T) {
	b := newBackoff(time.Hour, time.Duration(1<<62))
	prev := time.Duration(0)
	for i := range 100 {
		got := b.next()
		if got <= 0 || got < prev/2 {
			t.Fatalf("delay %d: %v after %v", i, got, prev)
		}
		prev = got
	}
}
