package multilang

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/internal/ctxwait"
)

// session drives one shard's child process through the protocol.
type session struct {
	d     *Daemon
	shard *kcl.Shard
	log   *slog.Logger
	child *child
	// position is the shard's checkpoint as this session knows it.
	position checkpointer.ExtendedSequenceNumber
	// pending are the batches given to the child (or about to be) that hold records after
	// position, oldest first: what a restarted child is given again.
	pending []kcl.Batch
	// endBatch is the shard's last batch once it arrived; finished once it is checkpointed.
	endBatch *kcl.Batch
	finished bool
	// failures counts child failures since the last message a child handled.
	failures int
}

// step is one message and what a checkpoint may do while the child handles it.
type step struct {
	action string // the status responseFor expected
	line   []byte
	mode   checkpointMode
	// batch is set for processRecords of a pending batch: it is not replayed before the
	// step, and a retried step gives only its records after the checkpoint.
	batch *kcl.Batch
}

// errGaveUp ends the daemon: a child failed MaxChildRestarts times in a row.
var errGaveUp = errors.New("record processor keeps failing")

// childExitGrace is how long a child may take to exit after its stdin closed.
const childExitGrace = 10 * time.Second

func (s *session) run(ctx context.Context) error {
	defer s.stopChild()
	s.position = s.d.startingPosition(ctx, s.shard)
	// As the Java daemon does, the child starts and is initialized when the lease is taken.
	if err := s.recover(ctx); err != nil {
		return err
	}
	for {
		var exited <-chan struct{}
		if s.child != nil {
			exited = s.child.exited
		}
		select {
		case b, ok := <-s.shard.Batches():
			if !ok {
				return s.closed(ctx)
			}
			if err := s.batch(ctx, b); err != nil {
				return err
			}
		case <-exited:
			s.log.Error("child exited between messages; restarting it", slog.String("exit", exitDescription(s.child.exitErr)))
			s.discardChild()
			if err := s.recover(ctx); err != nil {
				return err
			}
		}
	}
}

// batch gives one batch to the child, and the shard's end after its last batch.
func (s *session) batch(ctx context.Context, b kcl.Batch) error {
	if len(b.Records) > 0 || (s.d.cfg.CallProcessRecordsEvenForEmptyRecordList && !b.ShardEnd) {
		if len(b.Records) > 0 {
			s.pending = append(s.pending, b)
		}
		st := step{action: ActionProcessRecords, line: processRecordsLine(b.Records, b.MillisBehindLatest), mode: recordsCheckpointer}
		if len(b.Records) > 0 {
			st.batch = &b
		}
		if err := s.do(ctx, st); err != nil {
			return err
		}
	}
	if !b.ShardEnd {
		return nil
	}
	s.endBatch = &b
	end := step{action: ActionShardEnded, line: EncodeBare(ActionShardEnded), mode: shardEndCheckpointer}
	if s.d.cfg.ProtocolVersion == 1 {
		end = step{action: ActionShutdown, line: EncodeShutdown(ReasonTerminate), mode: shardEndCheckpointer}
	}
	for {
		if err := s.do(ctx, end); err != nil {
			return err
		}
		if s.finished {
			s.log.Info("shard finished: the child checkpointed its end")
			s.stopChild()
			return nil
		}
		if s.shard.Context().Err() != nil {
			return nil // lease lost or stopping: the next owner ends the shard
		}
		if len(s.pending) == 0 && s.finishedByConsumer(ctx) {
			s.log.Info("shard finished: the child had checkpointed every record, so kcl wrote SHARD_END although the child did not checkpoint the end")
			s.stopChild()
			return nil
		}
		// KCL refuses this too: the children of the shard cannot start until it is finished.
		if err := s.failed(ctx, fmt.Errorf("child answered %s without checkpointing the end of the shard; its child shards cannot start until it does", end.action)); err != nil {
			return err
		}
	}
}

// finishedByConsumer waits for kcl to finish the shard on its own, which it does once the
// ShardEnd batch was taken and every record delivered is checkpointed, whoever checkpointed
// it: the channel then closes with ErrShardEnded. Only called when nothing is pending, so
// the wait ends with the SHARD_END write (or the lease's loss, or the daemon's stop).
func (s *session) finishedByConsumer(ctx context.Context) bool {
	select {
	case _, open := <-s.shard.Batches():
		return !open && errors.Is(s.shard.Err(), kcl.ErrShardEnded)
	case <-ctx.Done():
		return false
	}
}

// closed handles the end of the shard's channel.
func (s *session) closed(ctx context.Context) error {
	err := s.shard.Err()
	switch {
	case errors.Is(err, kcl.ErrShardEnded):
		return nil
	case errors.Is(err, kcl.ErrShutdown):
		if s.child != nil {
			s.log.Info("shutdown requested: the child may checkpoint")
			s.once(ctx, step{action: ActionShutdownRequested, line: EncodeBare(ActionShutdownRequested), mode: recordsCheckpointer})
		}
	default:
		s.log.Info("shard ended here", slog.Any("reason", err))
	}
	if s.child != nil {
		if s.d.cfg.ProtocolVersion == 1 {
			s.once(ctx, step{action: ActionShutdown, line: EncodeShutdown(ReasonZombie), mode: noCheckpointer})
		} else {
			s.once(ctx, step{action: ActionLeaseLost, line: EncodeBare(ActionLeaseLost), mode: noCheckpointer})
		}
	}
	return nil
}

// once runs a closing step without restarts: a child that fails now is stopped.
func (s *session) once(ctx context.Context, st step) {
	if err := s.exchange(ctx, st); err != nil {
		s.log.Error("child failed while shutting down", slog.String("message", st.action), slog.Any("error", err))
		s.killChild()
	}
}

// do runs st on the child, restarting the child from the last checkpoint when it fails.
func (s *session) do(ctx context.Context, st step) error {
	for {
		if s.shard.Context().Err() != nil && s.child == nil {
			// The lease is gone or the consumer stops: nothing was checkpointed past
			// s.position, so the next owner reads these records again.
			s.log.Info("not restarting the child: the shard is ending", slog.Any("reason", context.Cause(s.shard.Context())))
			return nil
		}
		if s.child == nil {
			if err := s.restart(ctx, st.batch != nil); err != nil {
				if err := s.failed(ctx, err); err != nil {
					return err
				}
				continue
			}
			if st.batch != nil {
				// The failed child may have checkpointed part of the batch.
				records := s.unprocessed(*st.batch)
				if len(records) == 0 {
					return nil
				}
				st.line = processRecordsLine(records, st.batch.MillisBehindLatest)
			}
		}
		err := s.exchange(ctx, st)
		if err == nil {
			s.failures = 0
			return nil
		}
		if ctx.Err() != nil {
			s.log.Warn("stopping a child that had not answered when the shutdown window ended", slog.String("message", st.action))
			s.killChild()
			return context.Cause(ctx)
		}
		if err := s.failed(ctx, fmt.Errorf("%s: %w", st.action, err)); err != nil {
			return err
		}
	}
}

// recover starts a child between messages: the first, or one after a child died.
func (s *session) recover(ctx context.Context) error {
	for {
		if s.shard.Context().Err() != nil {
			return nil // the shard is ending; its channel says why
		}
		err := s.restart(ctx, false)
		if err == nil {
			return nil
		}
		if err := s.failed(ctx, err); err != nil {
			return err
		}
	}
}

// failed logs a child failure, stops the child and waits before the next try; after
// MaxChildRestarts failures in a row it gives up.
func (s *session) failed(ctx context.Context, err error) error {
	s.failures++
	exit := ""
	if s.child != nil {
		exit = exitDescription(s.child.kill())
		s.child = nil
	}
	s.log.Error("record processor failed; it is restarted from the last checkpoint with the records it had not checkpointed",
		slog.Any("error", err), slog.String("exit", exit), slog.Int("failures", s.failures), slog.String("checkpoint", s.position.String()))
	if s.failures > s.d.cfg.MaxChildRestarts {
		return fmt.Errorf("%w: shard %s: %d failures in a row, the last: %v", errGaveUp, s.shard.ID(), s.failures, err)
	}
	backoff := min(time.Second<<min(s.failures-1, 5), 30*time.Second)
	if werr := ctxwait.Sleep(ctx, backoff); werr != nil {
		return werr
	}
	return nil
}

// restart starts a child, initializes it at the checkpoint and gives it again the records
// after the checkpoint (all pending batches but the one the next step carries).
func (s *session) restart(ctx context.Context, lastIsNext bool) error {
	c, err := startChild(s.d.cfg.Executable, s.log)
	if err != nil {
		return err
	}
	s.child = c
	s.log.Info("child started", slog.Int("pid", c.cmd.Process.Pid), slog.String("checkpoint", s.position.String()))
	var seq *string
	var sub *int64
	if !s.position.IsZero() {
		q, n := s.position.SequenceNumber(), s.position.SubSequenceNumber()
		seq, sub = &q, &n
	}
	if err := s.exchange(ctx, step{action: ActionInitialize, line: EncodeInitialize(s.shard.ID(), seq, sub), mode: noCheckpointer}); err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	replay := s.pending
	if lastIsNext && len(replay) > 0 {
		replay = replay[:len(replay)-1]
	}
	for _, b := range replay {
		records := s.unprocessed(b)
		if len(records) == 0 {
			continue
		}
		if err := s.exchange(ctx, step{action: ActionProcessRecords, line: processRecordsLine(records, b.MillisBehindLatest), mode: recordsCheckpointer}); err != nil {
			return fmt.Errorf("processRecords (again, after a restart): %w", err)
		}
	}
	return nil
}

// exchange sends st and waits for the child's status for it, handling its checkpoint
// requests meanwhile.
func (s *session) exchange(ctx context.Context, st step) error {
	c := s.child
	timeout := s.d.cfg.ResponseTimeout
	if err := c.send(st.line, timeout); err != nil {
		return fmt.Errorf("writing to the child: %w", err)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	started := time.Now()
	nag := time.NewTicker(time.Minute)
	defer nag.Stop()
	for {
		select {
		case r, ok := <-c.msgs:
			if !ok || r.err != nil {
				// stdout ended: the child is exiting; say how.
				<-c.exited
				return fmt.Errorf("child closed its stdout (%s) while handling %s", exitDescription(c.exitErr), st.action)
			}
			switch r.msg.Action {
			case ActionStatus:
				if r.msg.ResponseFor != st.action {
					return fmt.Errorf("child answered status for %q while handling %s", r.msg.ResponseFor, st.action)
				}
				return nil
			case ActionCheckpoint:
				name := s.handleCheckpoint(context.WithoutCancel(ctx), r.msg, st.mode)
				if err := c.send(EncodeCheckpointReply(r.msg.SequenceNumber, r.msg.SubSequenceNumber, name), timeout); err != nil {
					return fmt.Errorf("answering a checkpoint: %w", err)
				}
			}
		case <-nag.C:
			s.log.Warn("child has not answered yet", slog.String("message", st.action), slog.Duration("waiting", time.Since(started).Round(time.Second)), slog.Duration("timeout", timeout))
		case <-deadline.C:
			return fmt.Errorf("child did not answer %s within %v (timeoutInSeconds)", st.action, timeout)
		case <-ctx.Done():
			// The daemon stops now (the shutdown window is over): stop waiting.
			return context.Cause(ctx)
		}
	}
}

func (s *session) stopChild() {
	if s.child == nil {
		return
	}
	err := s.child.end(childExitGrace)
	s.log.Info("child stopped", slog.String("exit", exitDescription(err)))
	s.child = nil
}

func (s *session) killChild() {
	if s.child != nil {
		s.child.kill()
		s.child = nil
	}
}

// discardChild cleans up after a child that exited by itself.
func (s *session) discardChild() {
	s.child.kill()
	s.child = nil
}

func processRecordsLine(records []kcl.Record, millisBehind int64) []byte {
	size := 80
	for i := range records {
		r := &records[i]
		// Fixed text, base64 data, and the strings with room for a few escapes.
		size += 140 + base64.StdEncoding.EncodedLen(len(r.Data)) + len(r.PartitionKey) + len(r.SequenceNumber) + 16
	}
	return appendProcessRecords(make([]byte, 0, size), records, millisBehind)
}
