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
	// ctx ends when the lease is lost or the consumer stops; its cause says which. cancel
	// ends it with ErrLeaseLost as soon as a checkpoint reports the lease lost.
	ctx     context.Context
	cancel  context.CancelCauseFunc
	batches chan Batch
	cp      *checkpointer.Checkpointer
	// heldUntil is when the lease may expire for other workers, as the last answered
	// renewal says; no batch is handed over after it.
	heldUntil func() time.Time
	// hold lets a checkpoint ask the delivery whether the batch on offer was taken: the
	// delivery receives from it only while it offers a batch.
	hold chan struct{}

	mu       sync.Mutex
	err      error
	finished bool
	// finishFn writes SHARD_END and records the children; nil until the shard's last batch.
	finishFn func(context.Context) error
	// handed is the last record of the last batch the reader took from the channel, and
	// endTaken says whether it took the shard's last batch (ShardEnd).
	handed   checkpointer.ExtendedSequenceNumber
	endTaken bool
	// offer is the batch being handed over now, nil between hand-overs.
	offer *offer
	// checkpointed is poked after every successful checkpoint, so a draining consumer
	// notices readers catching up.
	checkpointed chan struct{}
}

// offer is one batch on its way to the reader.
type offer struct {
	last checkpointer.ExtendedSequenceNumber // zero for an empty batch
	end  bool
	// settled is closed once the hand-over is over, taken or not; handed and endTaken
	// include the batch by then if the reader took it.
	settled chan struct{}
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

// Checkpoint records that every record of the batches received from Batches (or All) so
// far was processed, up to the last record of the last one received. Once the shard's last
// batch (ShardEnd) was received, it finishes the shard. It fails with ErrLeaseLost once this
// worker no longer holds the shard's lease.
func (s *Shard) Checkpoint(ctx context.Context) error {
	s.settle()
	s.mu.Lock()
	handed, end := s.handed, s.endTaken
	s.mu.Unlock()
	if end && handed.Compare(s.cp.LargestDelivered()) >= 0 {
		return s.finish(ctx)
	}
	if handed.Compare(s.cp.LastCheckpoint()) <= 0 {
		return nil
	}
	return s.checkpointAt(ctx, handed)
}

// checkpointAt records pos; when the reader has taken the shard's last batch and pos is
// its last record, SHARD_END is written instead, which says the same and more.
func (s *Shard) checkpointAt(ctx context.Context, pos checkpointer.ExtendedSequenceNumber) error {
	s.mu.Lock()
	end, finished := s.endTaken, s.finished
	s.mu.Unlock()
	switch {
	case finished:
		return nil // SHARD_END covers every record of the shard
	case end && pos.Compare(s.cp.LargestDelivered()) >= 0:
		return s.finish(ctx)
	}
	return s.record(ctx, func(ctx context.Context) error { return s.cp.CheckpointAt(ctx, pos) })
}

// settle returns once the batch on offer, if any, is known to be taken (then handed
// includes it) or not taken yet: what the reader has received is then in handed.
func (s *Shard) settle() {
	s.mu.Lock()
	o := s.offer
	s.mu.Unlock()
	if o == nil {
		return
	}
	select {
	case s.hold <- struct{}{}: // the delivery is still offering it: not taken
	case <-o.settled:
	}
}

// handOver gives b to the reader. What the reader takes is recorded before anybody can
// ask (settle), so a checkpoint right after receiving covers the batch. It gives up, with
// the reason, when ctx ends or when the lease may have expired for other workers (the
// shard's context then ends with ErrLeaseLost).
func (s *Shard) handOver(ctx context.Context, b Batch) error {
	o := &offer{last: b.last, end: b.ShardEnd, settled: make(chan struct{})}
	taken := false
	s.mu.Lock()
	s.offer = o
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if taken {
			if !o.last.IsZero() {
				s.handed = o.last
			}
			s.endTaken = s.endTaken || o.end
		}
		s.offer = nil
		s.mu.Unlock()
		close(o.settled)
	}()
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	for {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		left := time.Until(s.heldUntil())
		if left <= 0 {
			s.cancel(ErrLeaseLost)
			return ErrLeaseLost
		}
		expiry.Reset(left)
		select {
		case s.batches <- b:
			taken = true
			return nil
		case <-s.hold: // a checkpoint learnt that b is not taken yet; look again
		case <-expiry.C: // unless a renewal was answered meanwhile, the lease may be gone
			// (A reader arriving at the very moment the timer fires may still win this
			// select: at most that one batch, the inevitable race of an unbuffered send.)
		case <-ctx.Done():
		}
	}
}

// processed tells the checkpointer's strategy that the reader finished n records up to pos.
func (s *Shard) processed(ctx context.Context, pos checkpointer.ExtendedSequenceNumber, n int) error {
	return s.record(ctx, func(ctx context.Context) error { return s.cp.Processed(ctx, pos, n) })
}

// record runs a checkpoint. After it, the shard finishes if its end was taken and every
// record is checkpointed; a lost lease ends the shard at once, before another batch goes.
func (s *Shard) record(ctx context.Context, write func(context.Context) error) error {
	err := write(ctx)
	if err != nil {
		s.lost(err)
		return err
	}
	s.poke()
	return s.finishIfCheckpointed(ctx)
}

// lost ends the shard's context when err says that the lease is lost, and waits until no
// batch is on offer any more, so that nothing is handed over after the checkpoint returns.
func (s *Shard) lost(err error) {
	if !errors.Is(err, ErrLeaseLost) {
		return
	}
	s.cancel(ErrLeaseLost)
	s.settle()
}

// finishIfCheckpointed writes SHARD_END once the reader has taken the shard's last batch and
// every record delivered was checkpointed: however the reader checkpointed, and even when
// it skipped an empty last batch.
func (s *Shard) finishIfCheckpointed(ctx context.Context) error {
	s.mu.Lock()
	ready := s.endTaken && !s.finished
	s.mu.Unlock()
	if !ready || s.cp.LastCheckpoint().Compare(s.cp.LargestDelivered()) < 0 {
		return nil
	}
	return s.finish(ctx)
}

// finish writes SHARD_END once the reader has processed the shard's last batch. The shard's
// lock is not held across the write (the checkpointer serialises it; a second Finish is a
// no-op), so Err and Checkpoint never wait for a retried DynamoDB write.
func (s *Shard) finish(ctx context.Context) error {
	s.mu.Lock()
	fn, finished := s.finishFn, s.finished
	s.mu.Unlock()
	switch {
	case finished:
		return nil
	case fn == nil:
		return errors.New("kcl: the shard has not ended")
	}
	if err := fn(ctx); err != nil {
		s.lost(err)
		return err
	}
	s.mu.Lock()
	s.finished = true
	s.mu.Unlock()
	s.poke()
	return nil
}

// caughtUp reports whether the reader checkpointed everything it took (or finished the
// shard), so draining need not wait for it.
func (s *Shard) caughtUp() bool {
	s.settle()
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
