package leases

import (
	"errors"
	"fmt"

	"github.com/kclgo/kcl/checkpointer"
)

// ErrLeaseLost means this worker does not hold the lease (any more): another worker took it,
// it was deleted or released, or it could not be renewed within the failover time. It is
// checkpointer.ErrLeaseLost, so errors.Is works across both packages.
var ErrLeaseLost = checkpointer.ErrLeaseLost

// ErrNotALease marks a row of the lease table that is not a lease, such as the worker-metrics
// and leader-lock rows KCL 3.5 keeps in the same table. Such rows are reported and skipped,
// never changed.
var ErrNotALease = errors.New("row is not a lease")

// ErrLeaseNotFound is returned when no row has the lease key.
var ErrLeaseNotFound = errors.New("lease not found")

// ErrIncompatibleTable is wrapped by *TableSchemaError.
var ErrIncompatibleTable = errors.New("table is not a lease table")

// ErrLeaseNotFinished is returned by DeleteFinishedLease when the lease's checkpoint is not
// SHARD_END.
var ErrLeaseNotFinished = errors.New("lease is not finished (checkpoint is not SHARD_END)")

// RowError is a row of the lease table that was skipped: not a lease (Err is ErrNotALease)
// or a lease that does not parse. The row itself is left as it is.
type RowError struct {
	LeaseKey  string
	Attribute string
	Err       error
}

func (e *RowError) Error() string {
	if errors.Is(e.Err, ErrNotALease) {
		return fmt.Sprintf("lease table row %q: %v (%s)", e.LeaseKey, e.Err, e.Attribute)
	}
	return fmt.Sprintf("lease table row %q: attribute %s: %v", e.LeaseKey, e.Attribute, e.Err)
}

func (e *RowError) Unwrap() error { return e.Err }

// TableSchemaError says why an existing table cannot be a lease table. It wraps
// ErrIncompatibleTable.
type TableSchemaError struct {
	Table  string
	Reason string
}

func (e *TableSchemaError) Error() string {
	return fmt.Sprintf("DynamoDB table %s: %v: %s (a lease table has exactly the hash key leaseKey of type S)",
		e.Table, ErrIncompatibleTable, e.Reason)
}

func (e *TableSchemaError) Unwrap() error { return ErrIncompatibleTable }
