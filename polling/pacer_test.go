package polling

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"
)

// response is what a simulated GetRecords call returns and how long it takes.
type response struct {
	took   time.Duration
	bytes  int
	behind int64
	full   bool
}

// simulate runs a reader's pacing loop on synctest's fake clock for d: wait as the pacer
// says, call (taking r.took), observe. It returns each call's start time and bytes.
func simulate(t *testing.T, cfg config, d time.Duration, next func(i int) response) (starts []time.Time, bytes []int) {
	t.Helper()
	return simulateAfterIdle(t, cfg, 0, d, next)
}

// simulateAfterIdle is simulate with a quiet time between the pacer's creation and the first call.
func simulateAfterIdle(t *testing.T, cfg config, idle, d time.Duration, next func(i int) response) (starts []time.Time, bytes []int) {
	t.Helper()
	p := newPacer(&cfg, time.Now())
	time.Sleep(idle)
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		time.Sleep(p.delay(time.Now()))
		if p.delay(time.Now()) != 0 {
			t.Fatalf("call %d: still told to wait %v after waiting", i, p.delay(time.Now()))
		}
		r := next(i)
		starts = append(starts, time.Now())
		p.started(time.Now())
		time.Sleep(r.took)
		p.observe(time.Now(), r.bytes, r.behind, r.full)
		bytes = append(bytes, r.bytes)
	}
	return starts, bytes
}

func TestPacerNeverExceedsCallRate(t *testing.T) {
	for _, calls := range []int{5, 2, 1} {
		t.Run(fmt.Sprintf("%d calls per second", calls), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := defaultConfig()
				cfg.callsPerSecond = calls
				rng := rand.New(rand.NewPCG(1, uint64(calls)))
				// Mostly fast calls while behind, the worst case for the call rate.
				starts, _ := simulate(t, cfg, time.Minute, func(int) response {
					return response{took: time.Duration(rng.IntN(250)) * time.Millisecond, bytes: rng.IntN(1000), behind: int64(rng.IntN(4))}
				})
				if len(starts) < 2*calls {
					t.Fatalf("only %d calls in a minute", len(starts))
				}
				// At most `calls` starts in any 1 s window: start i and start i+calls are a second apart.
				for i := 0; i+calls < len(starts); i++ {
					if gap := starts[i+calls].Sub(starts[i]); gap < time.Second {
						t.Fatalf("calls %d..%d started within %v", i, i+calls, gap)
					}
				}
			})
		})
	}
}

func TestPacerKeepsAverageBytesPerSecond(t *testing.T) {
	tests := map[string]struct {
		rate int64
		idle time.Duration // before the first call: the budget must not grow beyond one second's worth
		size func(rng *rand.Rand) int
	}{
		"1.5 MiB responses":   {2 << 20, 0, func(*rand.Rand) int { return 3 << 19 }},
		"mixed sizes":         {2 << 20, 0, func(rng *rand.Rand) int { return rng.IntN(4 << 20) }},
		"10 MiB responses":    {2 << 20, 0, func(*rand.Rand) int { return 10 << 20 }},
		"slow rate":           {100 << 10, 0, func(rng *rand.Rand) int { return rng.IntN(300 << 10) }},
		"after an idle hour":  {2 << 20, time.Hour, func(*rand.Rand) int { return 1 << 20 }},
		"after an idle 1.5 s": {2 << 20, 1500 * time.Millisecond, func(*rand.Rand) int { return 1 << 20 }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := defaultConfig()
				cfg.bytesPerSecond = tc.rate
				rng := rand.New(rand.NewPCG(2, 3))
				starts, bytes := simulateAfterIdle(t, cfg, tc.idle, 2*time.Minute, func(int) response {
					return response{took: 20 * time.Millisecond, bytes: tc.size(rng), behind: 1000}
				})
				// Between any two starts, the responses of the calls started in between
				// fit in one second's burst plus what the rate earned in that time.
				rate, burst := float64(tc.rate), float64(tc.rate)
				for i := range starts {
					sum := 0.0
					for j := i + 1; j < len(starts); j++ {
						sum += float64(bytes[j-1])
						if allowed := burst + rate*starts[j].Sub(starts[i]).Seconds(); sum > allowed {
							t.Fatalf("calls %d..%d read %.0f bytes in %v, more than %.0f", i, j-1, sum, starts[j].Sub(starts[i]), allowed)
						}
					}
				}
				// And the pacer is not needlessly slow: over the run it reads at ≥ 90% of the rate.
				total := 0
				for _, b := range bytes[:len(bytes)-1] {
					total += b
				}
				if avg := float64(total) / starts[len(starts)-1].Sub(starts[0]).Seconds(); avg < 0.9*rate || avg > 1.05*rate {
					t.Fatalf("average %.0f B/s, want about %.0f", avg, rate)
				}
			})
		})
	}
}

func TestPacerPausesAfterLargeResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := defaultConfig()
		cfg.bytesPerSecond = 1 << 30 // so that only the large-response rule can make it wait
		p := newPacer(&cfg, time.Now())
		p.started(time.Now())
		time.Sleep(40 * time.Millisecond)
		p.observe(time.Now(), 10<<20, 5000, false)
		arrived := time.Now()
		time.Sleep(p.delay(time.Now()))
		if waited := time.Since(arrived); waited != 5*time.Second {
			t.Fatalf("next call %v after a 10 MiB response, want 5s", waited)
		}
		// Just below the threshold there is no pause (the rate limit alone applies).
		p.started(time.Now())
		time.Sleep(40 * time.Millisecond)
		p.observe(time.Now(), 10<<20-1, 5000, false)
		if d := p.delay(time.Now()); d != 160*time.Millisecond {
			t.Fatalf("after a response just under 10 MiB: wait %v, want 160ms", d)
		}
	})
}

func TestPacerDefaultBytesRuleAloneWaitsAfter10MiB(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := defaultConfig()
		cfg.largePause = 0 // the byte budget alone: 8 MiB of debt at 2 MiB/s
		p := newPacer(&cfg, time.Now())
		p.started(time.Now())
		p.observe(time.Now(), 10<<20, 5000, false)
		if d := p.delay(time.Now()); d != 4*time.Second {
			t.Fatalf("wait %v, want 4s", d)
		}
	})
}

func TestPacerNoIdleWaitWhileBehind(t *testing.T) {
	tests := map[string]struct {
		took   time.Duration
		behind int64
		full   bool
		want   time.Duration
	}{
		"slow call":      {300 * time.Millisecond, 1, false, 0},
		"call of 200 ms": {200 * time.Millisecond, 1, false, 0},
		"fast call":      {50 * time.Millisecond, 1, false, 150 * time.Millisecond}, // the call rate only
		// MillisBehindLatest 0, but the response was full: more records are waiting.
		"full response, slow":   {300 * time.Millisecond, 0, true, 0},
		"full response, fast":   {50 * time.Millisecond, 0, true, 150 * time.Millisecond},
		"full and behind, slow": {300 * time.Millisecond, 2, true, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPacer(new(defaultConfig()), time.Now())
				p.started(time.Now())
				time.Sleep(tc.took)
				p.observe(time.Now(), 1000, tc.behind, tc.full)
				if d := p.delay(time.Now()); d != tc.want {
					t.Fatalf("wait %v while behind, want %v", d, tc.want)
				}
			})
		})
	}
}

func TestPacerIdleDelayWhenCaughtUp(t *testing.T) {
	tests := map[string]struct {
		idle, took, want time.Duration
	}{
		"default idle": {200 * time.Millisecond, 20 * time.Millisecond, 200 * time.Millisecond},
		"long idle":    {1500 * time.Millisecond, 300 * time.Millisecond, 1500 * time.Millisecond},
		"no idle":      {0, 20 * time.Millisecond, 180 * time.Millisecond}, // the call rate only
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := defaultConfig()
				cfg.idleDelay = tc.idle
				p := newPacer(&cfg, time.Now())
				p.started(time.Now())
				time.Sleep(tc.took)
				p.observe(time.Now(), 0, 0, false)
				if d := p.delay(time.Now()); d != tc.want {
					t.Fatalf("wait %v when caught up, want %v", d, tc.want)
				}
			})
		})
	}
}

// On an idle shard the defaults poll about every 200 ms plus the call's duration, so a new
// record waits about 100 ms on average and at most about 220 ms.
func TestPacerIdleShardPropagationDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		starts, _ := simulate(t, defaultConfig(), 10*time.Second, func(int) response {
			return response{took: 20 * time.Millisecond}
		})
		for i := 1; i < len(starts); i++ {
			if gap := starts[i].Sub(starts[i-1]); gap != 220*time.Millisecond {
				t.Fatalf("polls %d and %d are %v apart on an idle shard, want 220ms", i-1, i, gap)
			}
		}
	})
}
