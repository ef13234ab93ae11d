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
)

// ShardError is a failure of one shard: its reader's permanent error (stream deleted,
// access denied), a corrupt record, or a lease-table failure. It unwraps to the cause.
type ShardError struct {
	Stream  string
	ShardID string
	Err     error
}

func (e *ShardError) Error() string {
	return "kcl: stream " + e.Stream + " shard " + e.ShardID + ": " + e.Err.Error()
}

func (e *ShardError) Unwrap() error { return e.Err }
