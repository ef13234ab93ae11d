package checkpointer

import (
	"errors"
	"fmt"
)

// ErrLeaseLost means this worker no longer holds the lease: another worker took it, it was
// deleted, or it expired locally because it could not be renewed in time. A checkpoint that
// fails with it was not written, and the shard must not be processed further here. Package
// leases re-exports it; errors.Is works with either name.
var ErrLeaseLost = errors.New("lease lost: this worker no longer holds it")

// Why a checkpoint was refused before anything was written.
var (
	// ErrCheckpointBackwards: the position is before the lease's last checkpoint.
	ErrCheckpointBackwards = errors.New("checkpoint before the last checkpoint")
	// ErrCheckpointBeyondDelivered: the position is past the last record delivered to the application.
	ErrCheckpointBeyondDelivered = errors.New("checkpoint past the records delivered")
	// ErrDeliveryOutOfOrder: Delivered or Processed was told about a position before one it already had.
	ErrDeliveryOutOfOrder = errors.New("delivery reported out of order")
)

// CheckpointError is a refused checkpoint or delivery report. It carries the lease and the
// positions involved, and unwraps to one of the sentinel errors above.
type CheckpointError struct {
	LeaseKey  string
	Requested ExtendedSequenceNumber
	// Last is the last checkpoint written (or the lease's checkpoint when the tenure began).
	Last ExtendedSequenceNumber
	// Delivered is the largest position delivered to the application so far.
	Delivered ExtendedSequenceNumber
	Err       error
}

func (e *CheckpointError) Error() string {
	return fmt.Sprintf("lease %s: %v: requested %v, last checkpoint %v, delivered up to %v",
		e.LeaseKey, e.Err, e.Requested, e.Last, e.Delivered)
}

func (e *CheckpointError) Unwrap() error { return e.Err }
