package checkpointer

import (
	"fmt"
	"time"
)

// Strategy decides when a Checkpointer writes a checkpoint on its own, as processing
// progresses. Whatever the strategy, the application may checkpoint itself at any time, and
// Drain writes a final checkpoint.
type Strategy struct {
	records  int
	interval time.Duration
	name     string
}

// Manual never checkpoints on its own: the application calls Checkpoint or CheckpointAt.
func Manual() Strategy { return Strategy{name: "manual"} }

// EveryRecords checkpoints what was processed once n records were processed since the last
// checkpoint.
func EveryRecords(n int) Strategy { return Strategy{records: n, name: "every-records"} }

// EveryInterval checkpoints what was processed when a batch finishes at least d after the
// last checkpoint (kclpy's checkpoint frequency). An idle shard keeps its last records
// uncheckpointed until more arrive or it is drained.
func EveryInterval(d time.Duration) Strategy { return Strategy{interval: d, name: "every-interval"} }

func (s Strategy) validate() error {
	switch s.name {
	case "manual":
	case "every-records":
		if s.records <= 0 {
			return fmt.Errorf("checkpointer: WithStrategy: EveryRecords needs n > 0, got %d", s.records)
		}
	case "every-interval":
		if s.interval <= 0 {
			return fmt.Errorf("checkpointer: WithStrategy: EveryInterval needs d > 0, got %v", s.interval)
		}
	default:
		return fmt.Errorf("checkpointer: WithStrategy: use Manual, EveryRecords or EveryInterval")
	}
	return nil
}

// due reports whether the strategy wants a checkpoint now, given the records processed since
// the last one and the time of the last one.
func (s Strategy) due(sinceRecords int, lastWrite, now time.Time) bool {
	switch {
	case s.records > 0:
		return sinceRecords >= s.records
	case s.interval > 0:
		return sinceRecords > 0 && now.Sub(lastWrite) >= s.interval
	}
	return false
}

// String names the strategy for logs.
func (s Strategy) String() string {
	switch {
	case s.records > 0:
		return fmt.Sprintf("every %d records", s.records)
	case s.interval > 0:
		return fmt.Sprintf("every %v", s.interval)
	}
	return s.name
}
