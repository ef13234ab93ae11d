package kcl

import (
	"errors"

	"github.com/kclgo/kcl/leases"
)

// Why a shard's channel closed, and what checkpoints return; compare with errors.Is.
var (
	// ErrLeaseLost: another worker took the shard's lease, or it expired. Checkpoints of
	// the shard fail with it from then on.
	ErrLeaseLost = leases.ErrLeaseLost
	// ErrShardEnded: the shard was closed by a reshard and every record was delivered.
	ErrShardEnded = errors.New("kcl: shard ended")
	// ErrShutdown: the consumer was stopped or drained.
	ErrShutdown = errors.New("kcl: consumer shut down")
	// ErrClosed: the consumer already ran; a Consumer runs once.
	ErrClosed = errors.New("kcl: consumer closed")
	// ErrMultiStreamTable: the lease table holds multi-stream leases of the stream; see
	// MultiStreamTableError.
	ErrMultiStreamTable = errors.New("kcl: lease table belongs to a multi-stream application")
)

// MultiStreamTableError is why Run refuses to start on a lease table that holds KCL
// multi-stream leases (keys "account:stream:creationEpoch:shardId") of the very stream it
// was given: the table belongs to a multi-stream application (a KCL multi-stream
// application moving to kcl, say), whose checkpoints a single-stream consumer would not
// see, so it would read the stream again from the initial position under leases of its
// own. Multi-stream rows of other streams are left alone. It wraps ErrMultiStreamTable.
type MultiStreamTableError struct {
	Table  string
	Stream string
	// LeaseKey is the first such row found.
	LeaseKey string
}

func (e *MultiStreamTableError) Error() string {
	return "kcl: lease table " + e.Table + " belongs to a multi-stream application: its row " + e.LeaseKey +
		" is a multi-stream lease of stream " + e.Stream + ", whose checkpoints a single-stream consumer would ignore;" +
		" read the stream with a multi-stream consumer, or give this application another LeaseTable"
}

func (e *MultiStreamTableError) Unwrap() error { return ErrMultiStreamTable }

// ShardError is a failure of one shard: its reader's permanent error (stream deleted,
// access denied), a corrupt KPL aggregate it halted at (wrapping the
// *aggregation.CorruptError; see HaltShard), or a lease-table failure. It unwraps to the
// cause.
type ShardError struct {
	Stream  string
	ShardID string
	Err     error
}

func (e *ShardError) Error() string {
	return "kcl: stream " + e.Stream + " shard " + e.ShardID + ": " + e.Err.Error()
}

func (e *ShardError) Unwrap() error { return e.Err }

// StartError is a failure of Run before any shard started: the stream, the enhanced fan-out
// consumer, the lease table or the first leases could not be had. The stream is checked
// first and the lease table last, so a wrong stream name or region leaves nothing behind.
// It unwraps to the cause: errors.As finds the SDK's error (*types.ResourceNotFoundException,
// *types.AccessDeniedException, a *net.OpError for an unreachable endpoint, ...).
type StartError struct {
	// Resource is "stream", "enhanced fan-out consumer", "lease table" or "leases".
	Resource string
	// Name is the stream, consumer or table as configured.
	Name string
	Err  error
}

func (e *StartError) Error() string {
	return "kcl: starting: " + e.Resource + " " + e.Name + ": " + e.Err.Error()
}

func (e *StartError) Unwrap() error { return e.Err }
