package leases

import "time"

// Metrics receives the coordinator's measurements. Methods are called from the coordinator's
// goroutines and must not block. Embed NoMetrics to implement only some of them.
type Metrics interface {
	// RenewalCycle: one renewal pass over the held leases took d; failed renewals kept the
	// lease (transient errors), lost ones did not.
	RenewalCycle(held, failed, lost int, d time.Duration)
	// TakerCycle: one taker pass (scan, plan, takes) took d.
	TakerCycle(s TakerStats, d time.Duration)
	// LeaseAcquired and LeaseLost mirror the events.
	LeaseAcquired(leaseKey string, stolen bool)
	LeaseLost(leaseKey string, reason LostReason)
	// SkippedRow: a row of the table is not a lease or does not parse (reported every cycle).
	SkippedRow(err *RowError)
}

// TakerStats describes one taker cycle.
type TakerStats struct {
	Leases    int // unfinished leases in the table
	Workers   int // workers with unexpired leases, this one included
	Target    int // leases this worker aims to hold
	Held      int // leases this worker held at the start of the cycle
	Available int // free or expired leases seen
	Taken     int // free or expired leases taken
	Stolen    int // leases taken from another worker
	Skipped   int // rows that are not leases or do not parse
}

// NoMetrics discards every measurement.
type NoMetrics struct{}

func (NoMetrics) RenewalCycle(int, int, int, time.Duration) {}
func (NoMetrics) TakerCycle(TakerStats, time.Duration)      {}
func (NoMetrics) LeaseAcquired(string, bool)                {}
func (NoMetrics) LeaseLost(string, LostReason)              {}
func (NoMetrics) SkippedRow(*RowError)                      {}
