package leases

import (
	"math/rand/v2"
	"sort"
	"time"
)

// observation is what the taker last saw of a lease, on the local monotonic clock. A lease
// whose counter (or owner) has not changed for the failover time is expired: only this
// worker's clock is involved, so clock skew between machines does not matter.
type observation struct {
	counter   int64
	owner     string
	changedAt time.Time // zero for a lease first seen without an owner
}

// observe records a scan completed at now, forgetting leases that are gone.
func observe(seen map[string]observation, leases []Lease, now time.Time) {
	present := make(map[string]bool, len(leases))
	for _, l := range leases {
		present[l.Key] = true
		o, ok := seen[l.Key]
		switch {
		case !ok && l.Owner == "":
			o = observation{changedAt: time.Time{}} // never renewed: free anyway
		case !ok:
			// First sight of an owned lease: count it as renewed now (the conservative
			// choice, as KCL does), so a worker that just started steals nothing alive.
			o = observation{changedAt: now}
		case o.counter != l.Counter || o.owner != l.Owner:
			o.changedAt = now
		}
		o.counter, o.owner = l.Counter, l.Owner
		seen[l.Key] = o
	}
	for k := range seen {
		if !present[k] {
			delete(seen, k)
		}
	}
}

func (o observation) expired(now time.Time, failover time.Duration) bool {
	return o.owner != "" && now.Sub(o.changedAt) >= failover
}

// planInput is everything a taker cycle decides on.
type planInput struct {
	me        string
	leases    []Lease
	held      map[string]bool // leases this worker holds right now
	expired   func(Lease) bool
	maxLeases int // 0: no cap
	maxSteal  int
}

// plan is what a taker cycle tries: take up to need of candidates (in order, going on to the
// next when one is taken by somebody else first), or else steal up to stealCount of steal.
type plan struct {
	stats      TakerStats
	candidates []Lease
	need       int
	steal      []Lease
	stealCount int
	victim     string
}

// planTakes applies KCL's balancing rules. Finished leases (SHARD_END) are neither taken nor
// counted: they need no processing. Workers are counted from the owners of unexpired leases,
// plus this one; the target is ceil(leases / workers), capped by maxLeases. Free and expired
// leases come first (shuffled, so that workers do not all contend for the same ones); when
// none is left, one lease (maxSteal) is stolen per cycle from the most loaded worker if it
// holds more than the target, or holds the target while this worker needs more than one
// (otherwise, e.g. with 12 leases on 5 workers, a fifth worker would stay idle at 3/3/3/3/0).
func planTakes(in planInput, rng *rand.Rand) plan {
	var p plan
	counts := map[string]int{}
	var available []Lease
	mine := 0
	for _, l := range in.leases {
		if l.Finished() {
			continue
		}
		p.stats.Leases++
		switch {
		case in.held[l.Key] && l.Owner == in.me:
			mine++
		case in.held[l.Key]:
			// The row says somebody else: the cycle marks it lost. Count it for its owner.
			if l.Owner != "" {
				counts[l.Owner]++
			}
		case l.Owner == "" || l.Owner == in.me || in.expired(l):
			// Free, expired, or ours from before (a previous run with this worker id, or a
			// tenure already given up): the counter condition makes taking it safe.
			available = append(available, l)
		default:
			counts[l.Owner]++
		}
	}
	p.stats.Held = mine
	p.stats.Available = len(available)
	p.stats.Workers = len(counts) + 1
	if p.stats.Leases == 0 {
		return p
	}
	target := (p.stats.Leases + p.stats.Workers - 1) / p.stats.Workers
	if in.maxLeases > 0 && target > in.maxLeases {
		target = in.maxLeases
	}
	p.stats.Target = target
	need := target - mine
	if need <= 0 {
		return p
	}
	if len(available) > 0 {
		rng.Shuffle(len(available), func(i, j int) { available[i], available[j] = available[j], available[i] })
		p.candidates, p.need = available, need
		return p
	}

	// Steal from the most loaded worker (ties: the first by name, so the choice is stable).
	workers := make([]string, 0, len(counts))
	for w := range counts {
		workers = append(workers, w)
	}
	sort.Strings(workers)
	victim, most := "", 0
	for _, w := range workers {
		if counts[w] > most {
			victim, most = w, counts[w]
		}
	}
	if victim == "" || most < target {
		return p
	}
	n := min(need, most-target)
	if n == 0 && need > 1 {
		n = 1
	}
	n = min(n, in.maxSteal)
	if n <= 0 {
		return p
	}
	for _, l := range in.leases {
		if l.Owner == victim && !l.Finished() && !in.held[l.Key] && !in.expired(l) {
			p.steal = append(p.steal, l)
		}
	}
	rng.Shuffle(len(p.steal), func(i, j int) { p.steal[i], p.steal[j] = p.steal[j], p.steal[i] })
	p.stealCount, p.victim = n, victim
	return p
}
