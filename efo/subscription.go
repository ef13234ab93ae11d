package efo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/internal/ctxwait"
)

// Subscription reads one shard over enhanced fan-out, resubscribing as needed.
type Subscription struct {
	c       *Consumer
	shardID string
	log     *slog.Logger
	batches chan Batch
	cancel  context.CancelCauseFunc
	wg      sync.WaitGroup

	mu  sync.Mutex
	err error
}

// ShardID is the shard this subscription reads.
func (s *Subscription) ShardID() string { return s.shardID }

// Batches delivers what Kinesis pushed, in shard order, never skipping or repeating a
// record. The subscription's goroutine is its only sender and closes it as its last action.
// Batches whose Records are empty carry MillisBehindLatest only.
func (s *Subscription) Batches() <-chan Batch { return s.batches }

// Err says why the subscription ended, once Batches is closed (nil before): nil after the
// shard's end, context.Cause of the context after cancellation (ErrClosed after Close), or
// a *ShardError.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close stops the subscription and waits until its goroutine has ended. Batches not yet
// taken are dropped; the next reader of the shard starts from its own checkpoint.
func (s *Subscription) Close() {
	s.cancel(ErrClosed)
	s.wg.Wait()
}

func (s *Subscription) run(ctx context.Context, start StartPosition) {
	defer s.wg.Done()
	defer close(s.batches)
	err := s.loop(ctx, start)
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	// Ended by itself (shard end, permanent error): release the context now, not at Close.
	s.cancel(context.Canceled)
}

// cursor is where the next subscribe starts and what was handed on last.
type cursor struct {
	pos     StartPosition
	lastSeq string // sequence number of the last record handed on
}

func (s *Subscription) loop(ctx context.Context, start StartPosition) error {
	cur := cursor{pos: start}
	failures := 0 // sessions in a row that delivered nothing
	// same counts the latest of those that failed alike (lastSig).
	same, lastSig := 0, ""
	for {
		if err := s.c.limiter.wait(ctx, s.shardID); err != nil {
			return err
		}
		end := s.session(ctx, &cur)
		switch end.reason {
		case EndShardEnd:
			s.log.Debug("efo: shard ended")
			return nil
		case EndCancelled:
			return context.Cause(ctx)
		case EndFailed:
			s.log.Error("efo: subscription failed", "err", end.err)
			return end.err
		}
		if end.delivered {
			failures, same = 0, 0
			s.log.Debug("efo: resubscribing", "reason", end.reason, "from", cur.pos.String(), "err", end.err)
			continue
		}
		if sig := failureSignature(end); sig == lastSig {
			same++
		} else {
			lastSig, same = sig, 1
		}
		if same >= s.c.cfg.failureLimit {
			err := &ShardError{ShardID: s.shardID, Kind: ErrRepeatedFailure, Err: failureErr(end)}
			s.log.Error("efo: every subscribe failed the same way; giving up on the shard",
				"failures", same, "reason", end.reason, "err", end.err)
			return err
		}
		wait := backoff(s.c.cfg.retryMin, s.c.cfg.retryMax, failures)
		failures++
		level := slog.LevelDebug
		switch {
		case same == loudFailures:
			// Once per run of identical failures: a misconfiguration (a client that cannot
			// read event streams, say) must be seen with the default handler levels.
			level = slog.LevelError
		case end.reason == EndError && errorCode(end.err) != codeResourceInUse:
			level = slog.LevelWarn
		}
		s.log.Log(ctx, level, "efo: subscribe gave nothing, retrying",
			"reason", end.reason, "from", cur.pos.String(), "after", wait, "failures", failures,
			"same_failures", same, "limit", s.c.cfg.failureLimit, "err", end.err)
		if err := ctxwait.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// failureSignature says how a session failed, so that failures of the same kind are counted
// together: the service's error code, or else the type of the innermost error.
func failureSignature(end sessionEnd) string {
	if end.err == nil {
		return string(end.reason)
	}
	if code := errorCode(end.err); code != "" {
		return code
	}
	inner := end.err
	for {
		next := errors.Unwrap(inner)
		if next == nil {
			break
		}
		inner = next
	}
	return string(end.reason) + ":" + fmt.Sprintf("%T", inner)
}

// failureErr is the error a session ended with, made up for a clean end that gave nothing.
func failureErr(end sessionEnd) error {
	if end.err != nil {
		return end.err
	}
	return fmt.Errorf("event stream %s without an event", end.reason)
}

// sessionEnd is how one SubscribeToShard call ended.
type sessionEnd struct {
	reason    EndReason
	err       error // the error behind EndError, the *ShardError behind EndFailed
	delivered bool  // at least one event was handed on
}

// errIdle cancels a session that heard nothing for the idle timeout.
var errIdle = errors.New("efo: no event within the idle timeout")

// session makes one SubscribeToShard call and hands its events on until it ends.
func (s *Subscription) session(ctx context.Context, cur *cursor) sessionEnd {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := s.c.cfg.idleTimeout
	// The watchdog covers the call and every wait for an event, never a wait for the consumer.
	watchdog := time.AfterFunc(idle, func() { cancel(errIdle) })
	defer watchdog.Stop()

	in := &kinesis.SubscribeToShardInput{
		ConsumerARN:      aws.String(s.c.arn),
		ShardId:          aws.String(s.shardID),
		StartingPosition: cur.pos.sdk(),
	}
	if cur.pos.Type == types.ShardIteratorTypeLatest {
		// Pin LATEST now: should this session end before its first event, the next one
		// starts where this one did, not at a newer LATEST.
		cur.pos = StartPosition{Type: types.ShardIteratorTypeAtTimestamp, Timestamp: time.Now().Add(-latestSkew)}
	}
	es, info, err := s.c.subscribe(sctx, in)
	s.c.cfg.metrics.Subscribed(s.shardID, err)
	if err != nil {
		return s.classify(ctx, sctx, err, false)
	}
	defer s.closeStream(es)
	s.c.warnIfNotHTTP2(info)

	end := s.read(ctx, sctx, es, cur, watchdog)
	s.c.cfg.metrics.SessionEnded(s.shardID, end.reason)
	return end
}

func (s *Subscription) read(ctx, sctx context.Context, es eventStream, cur *cursor, watchdog *time.Timer) sessionEnd {
	idle := s.c.cfg.idleTimeout
	events := es.Events()
	delivered := false
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return s.classify(ctx, sctx, es.Err(), delivered)
			}
			e, isEvent := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
			if !isEvent {
				s.log.Debug("efo: ignoring an unknown event", "type", eventTag(ev))
				watchdog.Reset(idle)
				continue
			}
			watchdog.Stop()
			b := s.batch(&e.Value, cur)
			select {
			case s.batches <- b:
			case <-ctx.Done():
				return sessionEnd{reason: EndCancelled, delivered: delivered}
			}
			delivered = true
			s.c.cfg.metrics.Delivered(s.shardID, len(b.Records), b.MillisBehindLatest)
			if n := len(b.Records); n > 0 {
				cur.lastSeq = aws.ToString(b.Records[n-1].SequenceNumber)
			}
			if b.ShardEnd {
				return sessionEnd{reason: EndShardEnd, delivered: true}
			}
			cur.pos = after(aws.ToString(e.Value.ContinuationSequenceNumber))
			watchdog.Reset(idle)
		case <-sctx.Done():
			return s.classify(ctx, sctx, context.Cause(sctx), delivered)
		}
	}
}

// batch turns an event into a Batch, dropping records at or before the last one handed on
// (a guard: resuming AFTER the continuation should never repeat one).
func (s *Subscription) batch(e *types.SubscribeToShardEvent, cur *cursor) Batch {
	records := e.Records
	if cur.lastSeq != "" {
		i := 0
		for i < len(records) && checkpointer.CompareSequenceNumbers(aws.ToString(records[i].SequenceNumber), cur.lastSeq) <= 0 {
			i++
		}
		if i > 0 {
			s.log.Warn("efo: dropped records already handed on", "count", i, "last", cur.lastSeq)
			records = records[i:]
		}
	}
	b := Batch{
		ShardID:            s.shardID,
		Records:            records,
		MillisBehindLatest: aws.ToInt64(e.MillisBehindLatest),
	}
	if e.ContinuationSequenceNumber == nil {
		b.ShardEnd = true
		b.ChildShards = e.ChildShards
	}
	return b
}

// classify says how a session ended given the error it ended with (nil for a clean end).
func (s *Subscription) classify(ctx, sctx context.Context, err error, delivered bool) sessionEnd {
	switch {
	case ctx.Err() != nil:
		return sessionEnd{reason: EndCancelled, delivered: delivered}
	case sctx.Err() != nil && errors.Is(context.Cause(sctx), errIdle):
		return sessionEnd{reason: EndIdle, err: errIdle, delivered: delivered}
	case err == nil:
		return sessionEnd{reason: EndCompleted, delivered: delivered}
	}
	if kind := permanentKind(err); kind != nil {
		return sessionEnd{reason: EndFailed, err: &ShardError{ShardID: s.shardID, Kind: kind, Err: err}, delivered: delivered}
	}
	return sessionEnd{reason: EndError, err: err, delivered: delivered}
}

// closeStream closes es and waits (briefly) until the SDK has stopped delivering its events,
// so no reader of this session outlives it.
func (s *Subscription) closeStream(es eventStream) {
	_ = es.Close()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case _, ok := <-es.Events():
			if !ok {
				return
			}
		case <-t.C:
			s.log.Warn("efo: event stream did not close within 10 s")
			return
		}
	}
}

func eventTag(ev types.SubscribeToShardEventStream) string {
	if u, ok := ev.(*types.UnknownUnionMember); ok {
		return u.Tag
	}
	return "?"
}
