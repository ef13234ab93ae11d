package leases

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kclgo/kcl/internal/testenv"
)

// One worker holding 1,000 leases on dynalite: what a renewal cycle and a taker cycle cost,
// and how many DynamoDB calls a lease costs per minute in steady state. Run with
//
//	scripts/emulators.sh run go test -run '^$' -bench . -benchmem ./leases/

const benchLeases = 1000

// benchWorker returns a coordinator (not running) that holds benchLeases leases.
func benchWorker(b *testing.B, opts ...CoordinatorOption) (*Coordinator, *countingDDB) {
	b.Helper()
	env := testenv.New(b)
	ddb := newCountingDDB(env.DynamoDB)
	tbl := newTestTableWith(b, ddb, env.LeaseTable(b))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range benchLeases {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := tbl.CreateLeaseIfAbsent(b.Context(), leaseN(i)); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	c, err := newCoordinator(tbl, "bench", opts...)
	if err != nil {
		b.Fatal(err)
	}
	c.takeOnce(b.Context()) // takes them all: one worker, target 1,000
	if n := len(c.Held()); n != benchLeases {
		b.Fatalf("holds %d leases, want %d", n, benchLeases)
	}
	return c, ddb
}

func BenchmarkRenewalCycle(b *testing.B) {
	for _, conc := range []int{DefaultRenewalConcurrency, 64} {
		b.Run(fmt.Sprintf("leases=%d/concurrency=%d", benchLeases, conc), func(b *testing.B) {
			c, ddb := benchWorker(b, WithRenewalConcurrency(conc), WithFailoverTime(time.Minute))
			before := ddb.snapshot()
			cycles := 0
			for b.Loop() {
				c.renewOnce(b.Context())
				cycles++
			}
			after := ddb.snapshot()
			if n := len(c.Held()); n != benchLeases {
				b.Fatalf("lost leases during the benchmark: holds %d", n)
			}
			b.ReportMetric(float64(after["UpdateItem"]-before["UpdateItem"])/float64(cycles), "UpdateItem/cycle")
			b.ReportMetric(float64(after["GetItem"]-before["GetItem"])/float64(cycles), "GetItem/cycle")
		})
	}
}

func BenchmarkTakerCycle(b *testing.B) {
	b.Run(fmt.Sprintf("leases=%d", benchLeases), func(b *testing.B) {
		c, ddb := benchWorker(b, WithFailoverTime(time.Minute))
		before := ddb.snapshot()
		cycles := 0
		for b.Loop() {
			c.takeOnce(b.Context()) // everything is held: a scan and a plan
			cycles++
		}
		after := ddb.snapshot()
		b.ReportMetric(float64(after["Scan"]-before["Scan"])/float64(cycles), "Scan/cycle")
		b.ReportMetric(float64(after["UpdateItem"]-before["UpdateItem"])/float64(cycles), "UpdateItem/cycle")
	})
}

// BenchmarkSteadyState runs the coordinator with the default timings (failover 10 s:
// renewals every 3.3 s, a taker cycle every 10 s) for 30 s per iteration. It reports the
// DynamoDB calls a held lease costs per minute, measured between the ends of the first and
// the last cycle of each kind, so that the window's edges do not skew the rates.
func BenchmarkSteadyState(b *testing.B) {
	const window = 30 * time.Second
	b.Run(fmt.Sprintf("leases=%d/failover=10s", benchLeases), func(b *testing.B) {
		m := &cycleClock{}
		c, ddb := benchWorker(b, WithMetrics(m))
		m.mu.Lock()
		m.ddb, m.renewals, m.takers = ddb, nil, nil // from here on
		m.mu.Unlock()
		for b.Loop() {
			ctx, cancel := context.WithTimeout(b.Context(), window)
			_ = c.runForBenchmark(ctx)
			cancel()
		}
		updates, renewSpan := m.delta(&m.renewals, "UpdateItem")
		gets, _ := m.delta(&m.renewals, "GetItem")
		scans, takerSpan := m.delta(&m.takers, "Scan")
		if renewSpan == 0 || takerSpan == 0 {
			b.Fatal("fewer than two cycles of a kind")
		}
		perLeaseMin := func(n int, span time.Duration) float64 { return float64(n) / benchLeases / span.Minutes() }
		b.ReportMetric(perLeaseMin(updates, renewSpan), "UpdateItem/lease/min")
		b.ReportMetric(perLeaseMin(gets, renewSpan), "GetItem/lease/min")
		b.ReportMetric(float64(scans)/takerSpan.Minutes(), "Scan/min")
		b.ReportMetric(perLeaseMin(updates+gets, renewSpan)+perLeaseMin(scans, takerSpan), "calls/lease/min")
	})
}

// cycleClock records when renewal and taker cycles end and the calls made by then.
type cycleClock struct {
	NoMetrics
	mu       sync.Mutex
	ddb      *countingDDB
	renewals []cycleMark
	takers   []cycleMark
}

type cycleMark struct {
	at    time.Time
	calls map[string]int
}

func (m *cycleClock) mark(list *[]cycleMark) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ddb != nil {
		*list = append(*list, cycleMark{at: time.Now(), calls: m.ddb.snapshot()})
	}
}

func (m *cycleClock) RenewalCycle(int, int, int, time.Duration) { m.mark(&m.renewals) }
func (m *cycleClock) TakerCycle(TakerStats, time.Duration)      { m.mark(&m.takers) }

// delta is the calls of op between the first and the last recorded cycle end, and the time
// between them (0 with fewer than two cycles).
func (m *cycleClock) delta(list *[]cycleMark, op string) (int, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := *list
	if len(l) < 2 {
		return 0, 0
	}
	first, last := l[0], l[len(l)-1]
	return last.calls[op] - first.calls[op], last.at.Sub(first.at)
}

// runForBenchmark runs the renewer and the taker of an already populated coordinator until
// ctx ends, as Run does, so that the benchmark can run several windows on one coordinator.
func (c *Coordinator) runForBenchmark(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { c.renewLoop(ctx) })
	wg.Go(func() { c.takeLoop(ctx) })
	wg.Wait()
	return context.Cause(ctx)
}
