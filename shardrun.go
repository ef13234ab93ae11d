package kcl

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/aggregation"
	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/internal/ctxwait"
	"github.com/kclgo/kcl/leases"
)

// runShard is the life of one lease tenure: wait for the parents, read, deliver, finish.
// It returns an error only for failures that end the whole consumer.
func (w *worker) runShard(ctx context.Context, ev leases.Event) error {
	lease := ev.Lease
	log := w.c.log.With(slog.String("shard", lease.ShardID))
	shardCtx, cancel := context.WithCancelCause(ctx)
	readCtx, stopReading := context.WithCancel(shardCtx)
	// The watcher turns lease loss into the shard context's cause, and a drain into the end
	// of reading; it ends with the shard.
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		draining := w.c.draining
		for {
			select {
			case <-ev.Done:
				cancel(ErrLeaseLost)
				return
			case <-draining:
				stopReading()
				draining = nil
			case <-shardCtx.Done():
				return
			}
		}
	}()
	defer func() {
		stopReading()
		cancel(context.Canceled)
		<-watched
	}()

	if lease.Finished() {
		w.release(shardCtx, ev)
		return nil
	}
	if err := w.waitForParents(readCtx, lease); err != nil {
		return nil // lease lost, stop or drain: nothing was delivered
	}
	m := w.c.cfg.Metrics
	cp, err := w.coord.NewCheckpointer(ev, checkpointer.WithLogger(w.c.log), checkpointer.WithStrategy(w.c.strategy()),
		checkpointer.WithWriteObserver(func(_ checkpointer.ExtendedSequenceNumber, took time.Duration, err error) {
			m.Checkpointed(w.stream.name, lease.ShardID, took, err)
		}))
	if err != nil {
		return &ShardError{Stream: w.stream.name, ShardID: lease.ShardID, Err: err}
	}
	start, resumeAfter := w.startPosition(lease.Checkpoint)
	deagg, err := w.deaggregator(lease)
	if err != nil {
		log.Warn("lease has an unusable hash-key range; keeping every user record", slog.Any("error", err))
		deagg = &aggregation.Deaggregator{}
	}
	rd, err := w.open(readCtx, lease.ShardID, start)
	if err != nil {
		if readCtx.Err() != nil {
			return nil // lost, stopped or draining while starting: not a failure
		}
		return &ShardError{Stream: w.stream.name, ShardID: lease.ShardID, Err: err}
	}
	defer rd.Close()

	shard := &Shard{
		stream: w.stream.name, id: lease.ShardID, parents: lease.ParentShardIDs,
		ctx: shardCtx, cancel: cancel, batches: make(chan Batch), cp: cp,
		heldUntil: ev.HeldUntil, hold: make(chan struct{}), checkpointed: make(chan struct{}, 1),
	}
	select {
	case w.c.shards <- shard:
	case <-readCtx.Done():
		return nil
	}
	log.Debug("shard started", slog.String("position", start.String()))

	d := delivery{w: w, shard: shard, lease: lease, deagg: deagg, resumeAfter: resumeAfter}
	endErr, fatal := d.loop(shardCtx, readCtx, rd)
	expired := false
	if fatal != nil {
		if children, gone := w.shardExpired(shardCtx, lease, fatal); gone {
			// Trimmed past the stream's retention: nothing is left to read, and its
			// children must start (KCL treats it the same way).
			ids := w.prepareFinish(shardCtx, lease, shard, children)
			log.Warn("shard no longer exists (past the stream's retention); finishing it", slog.Any("children", ids))
			endErr, fatal, expired = ErrShardEnded, nil, true
		}
	}
	shard.end(endErr)
	close(shard.batches)
	log.Debug("shard channel closed", slog.Any("reason", endErr))

	switch {
	case errors.Is(endErr, ErrShardEnded):
		finish := shard.finishIfCheckpointed // the reader may have checkpointed everything already
		if w.c.cfg.AutoShardEnd || expired {
			finish = shard.finish
		}
		if err := finish(shardCtx); err != nil {
			log.Warn("writing SHARD_END", slog.Any("error", err))
		}
		if w.awaitShardEnd(shardCtx, shard, log) && shard.caughtUp() {
			w.release(shardCtx, ev)
		}
	case errors.Is(endErr, ErrShutdown):
		w.awaitCheckpoints(shardCtx, shard)
	case shardCtx.Err() != nil:
		// Lost, or stopped: the coordinator knows.
	case errors.As(endErr, new(*aggregation.CorruptError)):
		rd.Close() // nothing more is read; an enhanced fan-out subscription would idle
		w.halt(shardCtx, readCtx, shard, endErr, log)
	default:
		// The shard failed (its reader): give the lease back, so that it does not sit here
		// unread; Err tells the reader why.
		log.Error("shard failed; releasing its lease", slog.Any("error", endErr))
		w.release(shardCtx, ev)
	}
	return fatal
}

// haltReminder is how often a shard halted at a corrupt record says so again.
const haltReminder = 5 * time.Minute

// halt keeps the lease of a shard halted at a corrupt record (HaltShard) until it is lost or
// the consumer stops: released, it would be taken by another worker, which would halt on
// the same record, and so on around the fleet. The reader may still checkpoint the records
// delivered before the corrupt one; a drain waits for that.
func (w *worker) halt(shardCtx, readCtx context.Context, shard *Shard, err error, log *slog.Logger) {
	say := func() {
		log.Error("shard halted at a corrupt KPL aggregate; this worker keeps its lease so that no other worker halts on it too. "+
			"To get past the record, set Config.CorruptRecords to DeliverCorrupt (to set it aside) or SkipCorrupt, and restart",
			slog.Any("error", err))
	}
	say()
	t := time.NewTicker(haltReminder)
	defer t.Stop()
	for readCtx.Err() == nil {
		select {
		case <-t.C:
			say()
		case <-readCtx.Done():
		}
	}
	if shardCtx.Err() == nil { // draining
		w.awaitCheckpoints(shardCtx, shard)
	}
}

// awaitCheckpoints waits until the reader has checkpointed everything it was given (or
// finished the shard), the lease is lost, or a drain's time is up. It reports whether the
// reader caught up.
func (w *worker) awaitCheckpoints(ctx context.Context, shard *Shard) bool {
	for !shard.caughtUp() {
		select {
		case <-shard.checkpointed:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// awaitShardEnd waits, like awaitCheckpoints, for a closed shard whose last batch the reader
// took to be finished. Until then the children cannot start: every ShardEndWarnAfter it
// says so, with what to call, and reports ShardEndHeld.
func (w *worker) awaitShardEnd(ctx context.Context, shard *Shard, log *slog.Logger) bool {
	start := time.Now()
	every := time.NewTicker(w.c.cfg.ShardEndWarnAfter)
	defer every.Stop()
	for !shard.caughtUp() {
		select {
		case <-shard.checkpointed:
		case <-every.C:
			waited := time.Since(start)
			log.Warn("shard ended, but the reader has not checkpointed its last records, so its children cannot start: "+
				"checkpoint the last batch (Batch.Checkpoint or Shard.Checkpoint), or set AutoShardEnd",
				slog.Duration("waited", waited), slog.String("checkpoint", shard.cp.LastCheckpoint().String()),
				slog.String("lastDelivered", shard.cp.LargestDelivered().String()))
			if m, ok := w.c.cfg.Metrics.(ShardEndMetrics); ok {
				m.ShardEndHeld(shard.stream, shard.id, waited)
			}
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// release gives the lease back so another worker can take it at once; only the tenure ev
// announced, never one taken again since.
func (w *worker) release(ctx context.Context, ev leases.Event) {
	if err := w.coord.ReleaseTenure(context.WithoutCancel(ctx), ev); err != nil && !errors.Is(err, ErrLeaseLost) {
		w.c.log.Warn("releasing lease", slog.String("shard", ev.Lease.ShardID), slog.Any("error", err))
	}
}

// startPosition turns a lease's checkpoint into where the reader starts, and the position
// after which delivery resumes (user records at or before it were processed already).
func (w *worker) startPosition(cp checkpointer.ExtendedSequenceNumber) (startPosition, checkpointer.ExtendedSequenceNumber) {
	switch {
	case cp.IsSequenceNumber():
		// AT, not AFTER: the checkpoint may sit inside a KPL aggregate whose later user
		// records are still due.
		return startPosition{Type: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: cp.SequenceNumber()}, cp
	case cp == checkpointer.TrimHorizon:
		return startPosition{Type: types.ShardIteratorTypeTrimHorizon}, checkpointer.ExtendedSequenceNumber{}
	case cp == checkpointer.Latest:
		return startPosition{Type: types.ShardIteratorTypeLatest}, checkpointer.ExtendedSequenceNumber{}
	case cp == checkpointer.AtTimestamp && w.c.cfg.InitialPosition.kind == initialAtTimestamp:
		return startPosition{Type: types.ShardIteratorTypeAtTimestamp, Timestamp: w.c.cfg.InitialPosition.timestamp}, checkpointer.ExtendedSequenceNumber{}
	case cp == checkpointer.AtTimestamp:
		// The lease was created with a timestamp this worker was not given: read from the
		// oldest record rather than risk skipping any.
		w.c.log.Warn("lease checkpoint is AT_TIMESTAMP but InitialPosition has no timestamp; starting at TRIM_HORIZON")
		return startPosition{Type: types.ShardIteratorTypeTrimHorizon}, checkpointer.ExtendedSequenceNumber{}
	}
	return w.initialPosition(), checkpointer.ExtendedSequenceNumber{}
}

func (w *worker) initialPosition() startPosition {
	switch p := w.c.cfg.InitialPosition; p.kind {
	case initialTrimHorizon:
		return startPosition{Type: types.ShardIteratorTypeTrimHorizon}
	case initialAtTimestamp:
		return startPosition{Type: types.ShardIteratorTypeAtTimestamp, Timestamp: p.timestamp}
	}
	return startPosition{Type: types.ShardIteratorTypeLatest}
}

func (p startPosition) String() string {
	switch p.Type {
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		return string(p.Type) + "(" + p.SequenceNumber + ")"
	case types.ShardIteratorTypeAtTimestamp:
		return string(p.Type) + "(" + p.Timestamp.String() + ")"
	}
	return string(p.Type)
}

// deaggregator keeps the user records of the lease's hash-key range: after a reshard the KPL
// re-sends the others to the shard that owns them.
//
// Keys are copied, not aliased (AliasKeys): applications keep partition keys (counts, dedupe
// caches), and an aliased key would keep its whole Kinesis record, up to 10 MiB, alive. The
// copies share buffers of at least 16 KiB, so there is no allocation per user record.
func (w *worker) deaggregator(lease leases.Lease) (*aggregation.Deaggregator, error) {
	if lease.HashKeyRange.IsZero() {
		return &aggregation.Deaggregator{}, nil
	}
	r, err := aggregation.ParseHashKeyRange(lease.HashKeyRange.Start, lease.HashKeyRange.End)
	if err != nil {
		return nil, err
	}
	return aggregation.NewDeaggregator(r), nil
}

// waitForParents returns once every parent shard is finished (SHARD_END) or has no lease
// (cleaned up after finishing, or never leased because it predates the application).
func (w *worker) waitForParents(ctx context.Context, lease leases.Lease) error {
	for {
		pending := ""
		for _, parent := range lease.ParentShardIDs {
			pl, err := w.c.table.GetLease(ctx, leases.LeaseKey(lease.Stream, parent))
			if errors.Is(err, leases.ErrLeaseNotFound) {
				continue
			}
			if err != nil || !pl.Finished() {
				pending = parent
				break
			}
		}
		if pending == "" {
			return nil
		}
		w.c.log.Debug("waiting for parent shard", slog.String("shard", lease.ShardID), slog.String("parent", pending))
		if err := ctxwait.Sleep(ctx, w.c.cfg.ParentPollInterval); err != nil {
			return err
		}
	}
}

// prepareFinish creates the children's leases and arms the shard's SHARD_END write, which
// the reader triggers by checkpointing the last batch (or the consumer, with AutoShardEnd or
// for an expired shard). It returns the children's ids.
func (w *worker) prepareFinish(ctx context.Context, lease leases.Lease, shard *Shard, children []types.ChildShard) []string {
	ids := w.childLeases(ctx, lease, children)
	shard.mu.Lock()
	// Through the tenure's checkpointer: retried like every checkpoint, fenced on this
	// tenure, and nothing can be checkpointed over it afterwards.
	shard.finishFn = func(ctx context.Context) error { return shard.cp.Finish(ctx, ids) }
	shard.mu.Unlock()
	return ids
}

// childLeases creates the leases of a finished shard's children, so that they start as soon
// as this shard (and any other parent) is finished.
func (w *worker) childLeases(ctx context.Context, parent leases.Lease, children []types.ChildShard) []string {
	ids := make([]string, 0, len(children))
	for _, ch := range children {
		id := aws.ToString(ch.ShardId)
		ids = append(ids, id)
		l := leases.Lease{
			Key: leases.LeaseKey(parent.Stream, id), Stream: parent.Stream, ShardID: id,
			Checkpoint: checkpointer.TrimHorizon, ParentShardIDs: ch.ParentShards,
		}
		if ch.HashKeyRange != nil {
			l.HashKeyRange = leases.HashKeyRange{Start: aws.ToString(ch.HashKeyRange.StartingHashKey), End: aws.ToString(ch.HashKeyRange.EndingHashKey)}
		}
		if _, err := w.c.table.CreateLeaseIfAbsent(ctx, l); err != nil {
			// The shard sync creates it later: children of leased shards are always leased.
			w.c.log.Warn("creating child lease", slog.String("shard", id), slog.Any("error", err))
		}
	}
	return ids
}

// shardExpired reports whether a reader's failure means that the shard is gone while its
// stream is not: a closed shard trimmed past the retention period. It returns the shard's
// children from ListShards. Any doubt (the stream gone too, the shard still listed, a call
// failing) keeps the failure a failure.
func (w *worker) shardExpired(ctx context.Context, lease leases.Lease, err error) ([]types.ChildShard, bool) {
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		return nil, false
	}
	if _, err := w.c.cfg.Kinesis.DescribeStreamSummary(ctx, streamInput(w.stream.ref())); err != nil {
		return nil, false
	}
	shards, err := w.listShards(ctx, nil)
	if err != nil {
		return nil, false
	}
	var children []types.ChildShard
	for _, s := range shards {
		if aws.ToString(s.ShardId) == lease.ShardID {
			return nil, false
		}
		if slices.Contains(parentsOf(s), lease.ShardID) {
			children = append(children, types.ChildShard{ShardId: s.ShardId, ParentShards: parentsOf(s), HashKeyRange: s.HashKeyRange})
		}
	}
	return children, true
}
