package leases

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kclgo/kcl/checkpointer"
)

// owned returns n leases named prefix-i owned by owner.
func owned(prefix, owner string, n int) []Lease {
	out := make([]Lease, n)
	for i := range out {
		k := fmt.Sprintf("%s-%02d", prefix, i)
		out[i] = Lease{Key: k, ShardID: k, Owner: owner, Counter: 5, Checkpoint: checkpointer.TrimHorizon}
	}
	return out
}

func concat(parts ...[]Lease) []Lease {
	var out []Lease
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestPlanTakes(t *testing.T) {
	finished := owned("done", "", 3)
	for i := range finished {
		finished[i].Checkpoint = checkpointer.ShardEnd
	}
	tests := map[string]struct {
		leases     []Lease
		held       []string // keys held by "me" (their rows must say Owner "me")
		expired    []string // owners whose leases are expired
		maxLeases  int
		maxSteal   int
		wantTarget int
		wantNeed   int // how many candidates to take
		wantCands  int
		wantSteal  int
		wantVictim string
		wantWorker int
	}{
		"empty table": {wantWorker: 1},
		"alone with free leases": {
			leases: owned("f", "", 12), wantTarget: 12, wantNeed: 12, wantCands: 12, wantWorker: 1,
		},
		"free leases beside a live worker": {
			leases:     concat(owned("f", "", 12), owned("b", "b", 4)),
			wantTarget: 8, wantNeed: 8, wantCands: 12, wantWorker: 2,
		},
		"other worker holds all: steal one": {
			leases: owned("b", "b", 12), maxSteal: 1, wantTarget: 6, wantSteal: 1, wantVictim: "b", wantWorker: 2,
		},
		"steal up to maxSteal": {
			leases: owned("b", "b", 12), maxSteal: 4, wantTarget: 6, wantSteal: 4, wantVictim: "b", wantWorker: 2,
		},
		"stealing disabled": {
			leases: owned("b", "b", 12), maxSteal: 0, wantTarget: 6, wantWorker: 2,
		},
		"balanced 4/4/4: nothing": {
			leases: concat(owned("m", "me", 4), owned("b", "b", 4), owned("c", "c", 4)),
			held:   keys(owned("m", "me", 4)), maxSteal: 1, wantTarget: 4, wantWorker: 3,
		},
		"5/4/3 on 12: the one at 3 steals from the one at 5": {
			leases: concat(owned("m", "me", 3), owned("b", "b", 5), owned("c", "c", 4)),
			held:   keys(owned("m", "me", 3)), maxSteal: 1, wantTarget: 4, wantSteal: 1, wantVictim: "b", wantWorker: 3,
		},
		"4/3/3 on 10: stable": {
			leases: concat(owned("m", "me", 3), owned("b", "b", 4), owned("c", "c", 3)),
			held:   keys(owned("m", "me", 3)), maxSteal: 1, wantTarget: 4, wantWorker: 3,
		},
		"12 on 5 workers, idle fifth steals from one at target": {
			leases:   concat(owned("b", "b", 3), owned("c", "c", 3), owned("d", "d", 3), owned("e", "e", 3)),
			maxSteal: 1, wantTarget: 3, wantSteal: 1, wantVictim: "b", wantWorker: 5,
		},
		"needing one, nobody over target: no steal": {
			leases: concat(owned("m", "me", 2), owned("b", "b", 3), owned("c", "c", 3), owned("d", "d", 3)),
			held:   keys(owned("m", "me", 2)), maxSteal: 1, wantTarget: 3, wantWorker: 4,
		},
		"expired leases are available and their owner is no worker": {
			leases: concat(owned("m", "me", 2), owned("dead", "dead", 4)),
			held:   keys(owned("m", "me", 2)), expired: []string{"dead"},
			wantTarget: 6, wantNeed: 4, wantCands: 4, wantWorker: 1,
		},
		"maxLeasesForWorker caps the target": {
			leases: owned("f", "", 10), maxLeases: 3, wantTarget: 3, wantNeed: 3, wantCands: 10, wantWorker: 1,
		},
		"finished leases are neither taken nor counted": {
			leases: concat(finished, owned("f", "", 2)), wantTarget: 2, wantNeed: 2, wantCands: 2, wantWorker: 1,
		},
		"own leases from a previous run are available": {
			leases: owned("old", "me", 3), wantTarget: 3, wantNeed: 3, wantCands: 3, wantWorker: 1,
		},
		"free leases first, no steal in the same cycle": {
			leases: concat(owned("b", "b", 10), owned("f", "", 1)), maxSteal: 1,
			wantTarget: 6, wantNeed: 6, wantCands: 1, wantWorker: 2,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			held := map[string]bool{}
			for _, k := range tc.held {
				held[k] = true
			}
			dead := map[string]bool{}
			for _, o := range tc.expired {
				dead[o] = true
			}
			p := planTakes(planInput{
				me: "me", leases: tc.leases, held: held,
				expired:   func(l Lease) bool { return dead[l.Owner] },
				maxLeases: tc.maxLeases, maxSteal: tc.maxSteal,
			}, rand.New(rand.NewPCG(1, 2)))
			if p.stats.Target != tc.wantTarget || p.need != tc.wantNeed || len(p.candidates) != tc.wantCands ||
				p.stealCount != tc.wantSteal || p.victim != tc.wantVictim || p.stats.Workers != tc.wantWorker {
				t.Fatalf("target %d need %d candidates %d steal %d from %q workers %d; want %d %d %d %d %q %d",
					p.stats.Target, p.need, len(p.candidates), p.stealCount, p.victim, p.stats.Workers,
					tc.wantTarget, tc.wantNeed, tc.wantCands, tc.wantSteal, tc.wantVictim, tc.wantWorker)
			}
			for _, l := range p.candidates {
				if held[l.Key] || l.Finished() {
					t.Fatalf("candidate %s is held or finished", l.Key)
				}
			}
			for _, l := range p.steal {
				if l.Owner != p.victim {
					t.Fatalf("steal candidate %s belongs to %s, not %s", l.Key, l.Owner, p.victim)
				}
			}
		})
	}
}

func keys(ls []Lease) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Key
	}
	return out
}

func TestObserveExpiry(t *testing.T) {
	const failover = 10 * time.Second
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	seen := map[string]observation{}
	a := Lease{Key: "a", Owner: "w", Counter: 1}
	free := Lease{Key: "f", Counter: 0}
	observe(seen, []Lease{a, free}, t0)
	if seen["a"].expired(t0.Add(failover-time.Nanosecond), failover) {
		t.Fatal("an owned lease first seen now expired before the failover time")
	}
	if !seen["a"].expired(t0.Add(failover), failover) {
		t.Fatal("not expired after the failover time")
	}
	if seen["f"].expired(t0.Add(time.Hour), failover) {
		t.Fatal("an unowned lease is free, not expired")
	}
	// The counter moves: the clock restarts at that scan.
	a.Counter = 2
	observe(seen, []Lease{a}, t0.Add(9*time.Second))
	if seen["a"].expired(t0.Add(18*time.Second), failover) || !seen["a"].expired(t0.Add(19*time.Second), failover) {
		t.Fatal("expiry not measured from the scan that saw the counter move")
	}
	if _, ok := seen["f"]; ok {
		t.Fatal("a lease gone from the table is still remembered")
	}
	// A new owner with the same counter value is a change too.
	a.Owner = "x"
	observe(seen, []Lease{a}, t0.Add(20*time.Second))
	if seen["a"].expired(t0.Add(29*time.Second), failover) {
		t.Fatal("owner change did not restart the clock")
	}
}
