package kcl

import (
	"context"
	"errors"
	"iter"
	"sync"
	"time"

	"github.com/kclgo/kcl/checkpointer"
)

// Shard is one shard whose lease this worker holds. Read its batches in order from
// Batches(); when the channel closes, Err says why.
type Shard struct {
	stream  string
	id      string
	parents []string
	// ctx ends when the lease is lost or the consumer stops; its cause says which.
	ctx     context.Context
	batches chan Batch
	cp      *checkpointer.Checkpointer
	metrics Metrics
	// finishFn writes SHARD_END and records the children; nil until the shard's last batch.
	finishFn func(context.Context) error

	mu       sync.Mutex
	err      error
	finished bool
	// handed is the last record of the last batch the reader took from the channel.
	handed checkpointer.ExtendedSequenceNumber
	// checkpointed is poked after every successful checkpoint, so a draining consumer
	// notices readers catching up.
	checkpointed chan struct{}
}

// ID is the shard's id.
func (s *Shard) ID() string { return s.id }

// Stream is the name of the shard's stream.
func (s *Shard) Stream() string { return s.stream }

// Parents are the shards this one continues after a reshard: one after a split, two after
// a merge, none for a shard the stream was created with. They were finished before this
// shard's first batch.
func (s *Shard) Parents() []string { return append([]string(nil), s.parents...) }

// Context is cancelled when this worker loses the lease or the consumer stops, with
// context.Cause ErrLeaseLost or ErrShutdown, and with context.Canceled once the shard ended
// or failed. Pass it to work done for the shard.
func (s *Shard) Context() context.Context { return s.ctx }

// Batches delivers the shard's batches in order. The consumer closes it when the shard
// ends, the lease is lost or the consumer stops; Err then says which.
func (s *Shard) Batches() <-chan Batch { return s.batches }

// Err says why Batches closed: ErrShardEnded, ErrLeaseLost, ErrShutdown, a context's
// cause, or a *ShardError. It is nil while the channel is open.
func (s *Shard) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// All is Batches as an iterator, made for a plain loop:
//
//	for b, err := range shard.All() {
//		if err != nil {
//			return err // the shard failed
//		}
//		// process b.Records, then b.Checkpoint(ctx)
//	}
//
// After the last batch it yields an error, with a zero Batch, only when the shard failed: a
// *ShardError (a corrupt record, a reader's permanent failure). The ends that are part of
// normal operation yield nothing and the loop simply ends: the shard was closed by a
// reshard and read to its end (ErrShardEnded), the consumer was stopped or drained
// (ErrShutdown), or another worker took the lease (ErrLeaseLost). Err says which it was.
func (s *Shard) All() iter.Seq2[Batch, error] {
	return func(yield func(Batch, error) bool) {
		for b := range s.batches {
			if !yield(b, nil) {
				return
			}
		}
		if err := s.Err(); err != nil && !gracefulEnd(err) {
			yield(Batch{}, err)
		}
	}
}

// gracefulEnd reports whether a shard's end is part of normal operation rather than a failure.
func gracefulEnd(err error) bool {
	return errors.Is(err, ErrShardEnded) || errors.Is(err, ErrShutdown) || errors.Is(err, ErrLeaseLost)
}

// Checkpoint records that every record of the batches taken from Batches so far was
// processed.
func (s *Shard) Checkpoint(ctx context.Context) error {
	s.mu.Lock()
	handed := s.handed
	s.mu.Unlock()
	if handed.Compare(s.cp.LastCheckpoint()) <= 0 {
		return nil
	}
	return s.checkpointAt(ctx, handed)
}

func (s *Shard) checkpointAt(ctx context.Context, pos checkpointer.ExtendedSequenceNumber) error {
	return s.record(ctx, func(ctx context.Context) error { return s.cp.CheckpointAt(ctx, pos) })
}

// took records that the reader took a batch ending at last.
func (s *Shard) took(last checkpointer.ExtendedSequenceNumber) {
	s.mu.Lock()
	s.handed = last
	s.mu.Unlock()
}

// processed tells the checkpointer's strategy that the reader finished n records up to pos.
func (s *Shard) processed(ctx context.Context, pos checkpointer.ExtendedSequenceNumber, n int) error {
	return s.record(ctx, func(ctx context.Context) error { return s.cp.Processed(ctx, pos, n) })
}

func (s *Shard) record(ctx context.Context, write func(context.Context) error) error {
	start := time.Now()
	err := write(ctx)
	s.metrics.Checkpointed(s.stream, s.id, time.Since(start), err)
	if err == nil {
		s.poke()
	}
	return err
}

// finish writes SHARD_END once the reader has processed the shard's last batch.
func (s *Shard) finish(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return nil
	}
	if s.finishFn == nil {
		return errors.New("kcl: the shard has not ended")
	}
	start := time.Now()
	err := s.finishFn(ctx)
	s.metrics.Checkpointed(s.stream, s.id, time.Since(start), err)
	if err == nil {
		s.finished = true
		s.poke()
	}
	return err
}

// caughtUp reports whether the reader checkpointed everything it took (or finished the
// shard), so draining need not wait for it.
func (s *Shard) caughtUp() bool {
	s.mu.Lock()
	finished, ended, handed := s.finished, s.finishFn != nil, s.handed
	s.mu.Unlock()
	if ended {
		return finished
	}
	return s.cp.LastCheckpoint().Compare(handed) >= 0
}

// poke wakes a drain waiting for this reader's checkpoints; one pending wake-up is enough,
// since the waiter looks at the state again.
func (s *Shard) poke() {
	select {
	case s.checkpointed <- struct{}{}:
	default:
	}
}

// end records why the shard's channel is about to close.
func (s *Shard) end(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}
