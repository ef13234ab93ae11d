package kcl

import (
	"context"
	"errors"
	"fmt"

	"github.com/kclgo/kcl/aggregation"
	"github.com/kclgo/kcl/checkpointer"
)

// Record is one user record: a record of a KPL aggregate, or a whole Kinesis record that was
// not aggregated (sub-sequence number 0).
//
// What it shares: Data aliases the bytes the SDK returned for the Kinesis record, so keeping
// Data (or any sub-slice of it) keeps that whole Kinesis record in memory (up to 1 MiB, or
// 10 MiB where the stream allows it), with every other user record of its aggregate; copy
// the bytes you keep beyond processing. PartitionKey and ExplicitHashKey never share
// Data's memory, so they are safe to keep: a user record's keys are copies packed into key
// buffers shared with other keys (16 KiB, or one aggregate's key tables if larger), and
// keeping a key keeps at most such a buffer alive; a record that was not aggregated has the
// SDK's own string. SequenceNumber is the SDK's string, shared by the user records of one
// aggregate. Corrupt is set only with Config.CorruptRecords = DeliverCorrupt, on a whole
// Kinesis record holding a corrupt aggregate.
type Record = aggregation.UserRecord

// Batch is what one read of a shard delivered, in order. Records of one shard arrive in
// sequence-number order, then sub-sequence order, across batches.
type Batch struct {
	Stream  string
	ShardID string
	// Records are never empty, except in the last batch of a closed shard.
	Records []Record
	// MillisBehindLatest is how far the read was behind the tip of the shard.
	MillisBehindLatest int64
	// ShardEnd marks the last batch of a shard closed by a reshard (over enhanced fan-out,
	// an empty one). Once the reader has taken it, the shard is finished (SHARD_END, which
	// lets its children start) as soon as every record is checkpointed: by checkpointing
	// this batch, its last record, or with Shard.Checkpoint; or at once when the records
	// before it were checkpointed already.
	ShardEnd bool

	shard *Shard
	// first and last are the positions of the first and last record, kept apart from
	// Records so that checkpoints do not depend on what the application did to the slice.
	first, last checkpointer.ExtendedSequenceNumber
}

// Checkpoint records that every record of this batch, and of the batches before it, was
// processed. On the last batch of a closed shard it finishes the shard. It fails with
// ErrLeaseLost once this worker no longer holds the shard's lease.
func (b Batch) Checkpoint(ctx context.Context) error {
	if b.shard == nil {
		return errors.New("kcl: Checkpoint on a Batch the consumer did not deliver")
	}
	if b.ShardEnd {
		return b.shard.finish(ctx)
	}
	return b.shard.checkpointAt(ctx, b.last)
}

// CheckpointAt records that r and every record before it were processed; r must be a record
// of this batch. Use it to checkpoint part of a batch.
func (b Batch) CheckpointAt(ctx context.Context, r Record) error {
	if b.shard == nil {
		return errors.New("kcl: CheckpointAt on a Batch the consumer did not deliver")
	}
	pos, err := position(r)
	if err != nil {
		return &ShardError{Stream: b.Stream, ShardID: b.ShardID, Err: err}
	}
	if pos.Compare(b.first) < 0 || pos.Compare(b.last) > 0 {
		return fmt.Errorf("kcl: CheckpointAt: record %v is not in this batch of shard %s (%v to %v)", pos, b.ShardID, b.first, b.last)
	}
	return b.shard.checkpointAt(ctx, pos)
}

// position is where a record stands, for checkpoints.
func position(r Record) (checkpointer.ExtendedSequenceNumber, error) {
	return checkpointer.ParseSequenceNumber(r.SequenceNumber, int64(r.SubSequenceNumber))
}
