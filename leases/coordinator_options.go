package leases

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// CoordinatorOption configures a Coordinator.
type CoordinatorOption func(*coordinatorConfig)

type coordinatorConfig struct {
	failover         time.Duration
	renewInterval    time.Duration // 0: failover/3
	takerInterval    time.Duration // 0: failover
	maxLeases        int           // 0: no limit
	maxSteal         int
	renewConcurrency int
	logger           *slog.Logger
	metrics          Metrics
	keep             func(Lease) bool // nil: every lease

	renewSet, takerSet, maxLeasesSet, keepSet bool
}

// Defaults, in one place.
const (
	DefaultFailoverTime              = 10 * time.Second
	DefaultMaxLeasesToStealAtOneTime = 1
	DefaultRenewalConcurrency        = 20
	minTakerWait                     = 10 * time.Millisecond
)

func defaultCoordinatorConfig() coordinatorConfig {
	return coordinatorConfig{
		failover:         DefaultFailoverTime,
		maxSteal:         DefaultMaxLeasesToStealAtOneTime,
		renewConcurrency: DefaultRenewalConcurrency,
		logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		metrics:          NoMetrics{},
	}
}

// WithFailoverTime sets how long a lease's counter may stand still before other workers
// consider it expired and take it (default 10 s, as KCL). Renewals run every third of it.
func WithFailoverTime(d time.Duration) CoordinatorOption {
	return func(c *coordinatorConfig) { c.failover = d }
}

// WithRenewalInterval sets how often held leases are renewed (default failoverTime/3); it
// must be shorter than the failover time.
func WithRenewalInterval(d time.Duration) CoordinatorOption {
	return func(c *coordinatorConfig) { c.renewInterval, c.renewSet = d, true }
}

// WithTakerInterval sets how often the table is scanned for leases to take (default: the
// failover time, half of KCL's). Besides, the taker wakes up when a lease it watches is due
// to expire, so a dead worker's leases are taken within failoverTime plus one taker interval.
func WithTakerInterval(d time.Duration) CoordinatorOption {
	return func(c *coordinatorConfig) { c.takerInterval, c.takerSet = d, true }
}

// WithMaxLeasesForWorker caps the leases this worker holds (default: no cap).
func WithMaxLeasesForWorker(n int) CoordinatorOption {
	return func(c *coordinatorConfig) { c.maxLeases, c.maxLeasesSet = n, true }
}

// WithMaxLeasesToStealAtOneTime caps the leases stolen per taker cycle (default 1; 0 never
// steals).
func WithMaxLeasesToStealAtOneTime(n int) CoordinatorOption {
	return func(c *coordinatorConfig) { c.maxSteal = n }
}

// WithRenewalConcurrency caps the renewals in flight at once (default 20, as KCL's renewer
// threads).
func WithRenewalConcurrency(n int) CoordinatorOption {
	return func(c *coordinatorConfig) { c.renewConcurrency = n }
}

// WithLeaseFilter makes the coordinator see only the leases keep returns true for, so that
// applications can share a table without touching each other's rows: the others are never
// taken, renewed, released or written, and balancing counts only the kept ones (workers are
// counted from the owners of kept leases). keep must be cheap and give the same answer for
// a row every time. Default: every lease. A single-stream consumer keeps the rows of its
// stream's shards (Lease.Stream zero), leaving multi-stream rows alone.
func WithLeaseFilter(keep func(Lease) bool) CoordinatorOption {
	return func(c *coordinatorConfig) { c.keep, c.keepSet = keep, true }
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) CoordinatorOption {
	return func(c *coordinatorConfig) { c.logger = l }
}

// WithMetrics sets the metrics hook (default: NoMetrics).
func WithMetrics(m Metrics) CoordinatorOption {
	return func(c *coordinatorConfig) { c.metrics = m }
}

func (c *coordinatorConfig) finish() error {
	if c.failover <= 0 {
		return fmt.Errorf("leases: WithFailoverTime: must be > 0, got %v", c.failover)
	}
	if !c.renewSet {
		c.renewInterval = c.failover / 3
	}
	if c.renewInterval <= 0 || c.renewInterval >= c.failover {
		return fmt.Errorf("leases: WithRenewalInterval: must be > 0 and < the failover time %v, got %v", c.failover, c.renewInterval)
	}
	if !c.takerSet {
		c.takerInterval = c.failover
	}
	if c.takerInterval <= 0 {
		return fmt.Errorf("leases: WithTakerInterval: must be > 0, got %v", c.takerInterval)
	}
	if c.maxLeasesSet && c.maxLeases < 1 {
		return fmt.Errorf("leases: WithMaxLeasesForWorker: must be >= 1, got %d", c.maxLeases)
	}
	if c.maxSteal < 0 {
		return fmt.Errorf("leases: WithMaxLeasesToStealAtOneTime: must be >= 0, got %d", c.maxSteal)
	}
	if c.renewConcurrency < 1 {
		return fmt.Errorf("leases: WithRenewalConcurrency: must be >= 1, got %d", c.renewConcurrency)
	}
	if c.keepSet && c.keep == nil {
		return errors.New("leases: WithLeaseFilter: nil filter")
	}
	if c.logger == nil {
		return errors.New("leases: WithLogger: nil logger")
	}
	if c.metrics == nil {
		return errors.New("leases: WithMetrics: nil metrics")
	}
	return nil
}
