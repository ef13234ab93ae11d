package multilang

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/checkpointer"
)

// checkpointMode is what a checkpoint request may do while the child handles a message.
type checkpointMode int

const (
	// noCheckpointer: initialize and leaseLost carry no checkpointer (InvalidStateException).
	noCheckpointer checkpointMode = iota
	// recordsCheckpointer: processRecords and shutdownRequested checkpoint delivered records.
	recordsCheckpointer
	// shardEndCheckpointer: shardEnded; a checkpoint without a position finishes the shard.
	shardEndCheckpointer
)

// errNoRecord is a checkpoint at a position between records: nothing more to write.
var errNoRecord = errors.New("no delivered record at or before the position")

// handleCheckpoint carries out a child's checkpoint request through the batches it was
// given, and returns the error name for the reply ("" on success).
func (s *session) handleCheckpoint(ctx context.Context, m Message, mode checkpointMode) string {
	log := s.log.With(positionAttrs(m)...)
	if mode == noCheckpointer {
		log.Warn("child asked for a checkpoint where the protocol gives it no checkpointer")
		return ErrNameInvalidState
	}
	err := s.checkpoint(ctx, m, mode)
	name := errorName(err)
	if err != nil {
		log.Warn("checkpoint refused", "error", err, "reply", name)
	} else {
		log.Debug("checkpointed")
	}
	return name
}

func (s *session) checkpoint(ctx context.Context, m Message, mode checkpointMode) error {
	if m.SequenceNumber == nil || (mode == shardEndCheckpointer && *m.SequenceNumber == "SHARD_END") {
		if mode == shardEndCheckpointer && s.endBatch != nil {
			if err := s.endBatch.Checkpoint(ctx); err != nil {
				return err
			}
			s.finished = true
			s.pending = nil
			return nil
		}
		b, r, ok := s.lastDelivered()
		if !ok {
			return nil // nothing delivered since the last checkpoint
		}
		return s.checkpointRecord(ctx, b, r)
	}
	sub := int64(0)
	if m.SubSequenceNumber != nil {
		sub = *m.SubSequenceNumber
	}
	target, err := checkpointer.ParseSequenceNumber(*m.SequenceNumber, sub)
	if err != nil {
		return err
	}
	if !target.IsSequenceNumber() {
		return &checkpointer.CheckpointError{Requested: target, Last: s.position, Err: checkpointer.ErrCheckpointBackwards}
	}
	switch c := target.Compare(s.position); {
	case c < 0:
		return &checkpointer.CheckpointError{Requested: target, Last: s.position, Err: checkpointer.ErrCheckpointBackwards}
	case c == 0:
		return nil
	}
	b, r, err := s.recordAtOrBefore(target)
	if errors.Is(err, errNoRecord) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.checkpointRecord(ctx, b, r)
}

// checkpointRecord checkpoints record r of batch b and forgets the batches it covers.
func (s *session) checkpointRecord(ctx context.Context, b kcl.Batch, r kcl.Record) error {
	pos, err := recordPosition(r)
	if err != nil {
		return err
	}
	if err := b.CheckpointAt(ctx, r); err != nil {
		return err
	}
	if pos.Compare(s.position) > 0 {
		s.position = pos
	}
	s.prune()
	return nil
}

// lastDelivered is the last record given to the child.
func (s *session) lastDelivered() (kcl.Batch, kcl.Record, bool) {
	for i := len(s.pending) - 1; i >= 0; i-- {
		if n := len(s.pending[i].Records); n > 0 {
			return s.pending[i], s.pending[i].Records[n-1], true
		}
	}
	return kcl.Batch{}, kcl.Record{}, false
}

// recordAtOrBefore finds the last delivered record at or before target.
func (s *session) recordAtOrBefore(target checkpointer.ExtendedSequenceNumber) (kcl.Batch, kcl.Record, error) {
	_, last, ok := s.lastDelivered()
	if !ok {
		return kcl.Batch{}, kcl.Record{}, &checkpointer.CheckpointError{Requested: target, Last: s.position, Err: checkpointer.ErrCheckpointBeyondDelivered}
	}
	lastPos, err := recordPosition(last)
	if err != nil {
		return kcl.Batch{}, kcl.Record{}, err
	}
	if target.Compare(lastPos) > 0 {
		return kcl.Batch{}, kcl.Record{}, &checkpointer.CheckpointError{Requested: target, Last: s.position, Delivered: lastPos, Err: checkpointer.ErrCheckpointBeyondDelivered}
	}
	for i := len(s.pending) - 1; i >= 0; i-- {
		b := s.pending[i]
		for j := len(b.Records) - 1; j >= 0; j-- {
			pos, err := recordPosition(b.Records[j])
			if err != nil {
				return kcl.Batch{}, kcl.Record{}, err
			}
			if pos.Compare(target) <= 0 {
				if pos.Compare(s.position) <= 0 {
					return kcl.Batch{}, kcl.Record{}, errNoRecord
				}
				return b, b.Records[j], nil
			}
		}
	}
	return kcl.Batch{}, kcl.Record{}, errNoRecord
}

// prune forgets batches whose records are all checkpointed.
func (s *session) prune() {
	keep := s.pending[:0]
	for _, b := range s.pending {
		if n := len(b.Records); n > 0 {
			if pos, err := recordPosition(b.Records[n-1]); err != nil || pos.Compare(s.position) > 0 {
				keep = append(keep, b)
			}
		}
	}
	clear(s.pending[len(keep):])
	s.pending = keep
}

// unprocessed is the part of b after the last checkpoint: what a restarted child gets again.
func (s *session) unprocessed(b kcl.Batch) []kcl.Record {
	for i, r := range b.Records {
		if pos, err := recordPosition(r); err != nil || pos.Compare(s.position) > 0 {
			return b.Records[i:]
		}
	}
	return nil
}

func recordPosition(r kcl.Record) (checkpointer.ExtendedSequenceNumber, error) {
	return checkpointer.ParseSequenceNumber(r.SequenceNumber, int64(r.SubSequenceNumber))
}

// errorName is the Java exception a KCL client expects for err.
func errorName(err error) string {
	var (
		throughput *types.ProvisionedThroughputExceededException
		limit      *types.RequestLimitExceeded
		throttle   *types.ThrottlingException
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, kcl.ErrLeaseLost):
		return ErrNameShutdown
	case errors.Is(err, checkpointer.ErrCheckpointBackwards),
		errors.Is(err, checkpointer.ErrCheckpointBeyondDelivered),
		errors.Is(err, checkpointer.ErrInvalidSequenceNumber):
		return ErrNameIllegalArgument
	case errors.As(err, &throughput), errors.As(err, &limit), errors.As(err, &throttle):
		return ErrNameThrottling
	default:
		return ErrNameDependency
	}
}

func positionAttrs(m Message) []any {
	seq, sub := "<latest delivered>", "<none>"
	if m.SequenceNumber != nil {
		seq = *m.SequenceNumber
	}
	if m.SubSequenceNumber != nil {
		sub = fmt.Sprint(*m.SubSequenceNumber)
	}
	return []any{"sequenceNumber", seq, "subSequenceNumber", sub}
}
