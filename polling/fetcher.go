package polling

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/internal/ctxwait"
)

// fetchedBatch is a batch with the bytes it counts against the read-ahead.
type fetchedBatch struct {
	Batch
	bytes int
}

// fetcher is the loop that calls Kinesis for one shard: it gets iterators, paces and
// retries GetRecords, and sends each response on, in order, while the read-ahead has room.
type fetcher struct {
	client  GetRecordsAPI
	cfg     *config
	stream  stream
	shardID string
	start   StartPosition
	log     *slog.Logger

	pacer *pacer
	retry *backoff
	ahead *readAhead

	iterator *string   // nil: get one before the next GetRecords
	lastSeq  string    // sequence number of the last record sent on; "" before any
	retryAt  time.Time // no call before this, after a failure
	failures int       // transient GetRecords failures in a row
}

// oneAttempt makes the SDK try a call once: the fetcher retries itself, so that every
// attempt goes through the pacer and reaches the logs and metrics. The SDK's retryer stays
// (limited to one attempt) for its clock-skew correction.
func oneAttempt(o *kinesis.Options) { o.Retryer = retry.AddWithMaxAttempts(o.Retryer, 1) }

// latestSkew is taken off the time a LATEST position is pinned to, as efo does.
const latestSkew = time.Second

// errRetry says the last call failed in a way the loop recovers from.
var errRetry = errors.New("retry")

// run fetches until the shard ends (nil), ctx ends (its cause) or a permanent error.
// It closes out when it returns: it is out's only sender.
func (f *fetcher) run(ctx context.Context, out chan<- fetchedBatch) error {
	defer close(out)
	for {
		if err := f.ahead.waitRoom(ctx); err != nil {
			return err
		}
		if f.iterator == nil {
			if err := f.renewIterator(ctx); err != nil {
				return err
			}
		}
		if err := ctxwait.Sleep(ctx, max(f.pacer.delay(time.Now()), time.Until(f.retryAt))); err != nil {
			return err
		}
		b, err := f.getRecords(ctx)
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return err
		}
		f.ahead.hold(b.bytes)
		select {
		case out <- b:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if b.ShardEnd {
			f.log.Debug("polling: shard end", "children", len(b.ChildShards))
			return nil
		}
	}
}

// position is where a fresh iterator must point: right after the last record sent on, so
// nothing is skipped or repeated, or the start position while nothing was.
func (f *fetcher) position() StartPosition {
	if f.lastSeq != "" {
		return AfterSequenceNumber(f.lastSeq)
	}
	return f.start
}

func (f *fetcher) renewIterator(ctx context.Context) error {
	pos := f.position()
	// A LATEST start is pinned to the time before the first attempt, less an allowance
	// for this machine's clock running ahead of Kinesis's.
	pinAt := time.Now().Add(-latestSkew)
	for {
		if err := ctxwait.Sleep(ctx, time.Until(f.retryAt)); err != nil {
			return err
		}
		callCtx, cancel := context.WithTimeout(ctx, f.cfg.callTimeout)
		out, err := f.client.GetShardIterator(callCtx, f.stream.iteratorInput(f.shardID, pos), oneAttempt)
		cancel()
		if err == nil && out.ShardIterator != nil {
			if pos.Type == types.ShardIteratorTypeLatest {
				// Should this iterator expire before a record is handed on, the next one
				// starts at the pin rather than at a newer LATEST, which would skip what
				// arrived in between.
				f.start = AtTimestamp(pinAt)
			}
			f.iterator = out.ShardIterator
			// The backoff is reset by a successful GetRecords only: an iterator renewed
			// after failures must not restart a long outage's backoff from its minimum.
			f.log.Debug("polling: got shard iterator", "position", pos.String())
			return nil
		}
		if err == nil {
			return &PermanentError{ShardID: f.shardID, Op: "GetShardIterator", Err: errors.New("response has no shard iterator")}
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		class := classify(err)
		if errors.Is(err, context.DeadlineExceeded) {
			class = classTransient // the call timed out, not the reader
		}
		switch class {
		case classThrottled:
			f.cfg.metrics.OnThrottle(f.shardID)
		case classTransient, classExpired:
		default:
			return &PermanentError{ShardID: f.shardID, Op: "GetShardIterator", Err: err}
		}
		wait := f.retry.next()
		f.retryAt = time.Now().Add(wait)
		f.log.Warn("polling: GetShardIterator failed, retrying", "class", class.String(), "wait", wait, "err", err)
	}
}

// getRecords makes one GetRecords call. It returns errRetry after a failure the loop
// recovers from, having set up the recovery (a backoff, or a fresh iterator).
func (f *fetcher) getRecords(ctx context.Context) (fetchedBatch, error) {
	in := &kinesis.GetRecordsInput{ShardIterator: f.iterator, Limit: aws.Int32(f.cfg.maxRecords)}
	if f.stream.arn != "" {
		in.StreamARN = aws.String(f.stream.arn)
	}
	start := time.Now()
	f.pacer.started(start)
	callCtx, cancel := context.WithTimeout(ctx, f.cfg.callTimeout)
	out, err := f.client.GetRecords(callCtx, in, oneAttempt)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return fetchedBatch{}, context.Cause(ctx)
		}
		return fetchedBatch{}, f.recover(err)
	}
	took := time.Since(start)
	f.retry.reset()
	f.failures = 0

	bytes := recordBytes(out.Records)
	behind := aws.ToInt64(out.MillisBehindLatest)
	f.pacer.observe(time.Now(), bytes, behind, len(out.Records) >= int(f.cfg.maxRecords))
	f.cfg.metrics.OnGetRecords(f.shardID, len(out.Records), bytes, behind, took)

	b := fetchedBatch{Batch: Batch{ShardID: f.shardID, Records: out.Records, MillisBehindLatest: behind}, bytes: bytes}
	if n := len(out.Records); n > 0 {
		f.lastSeq = aws.ToString(out.Records[n-1].SequenceNumber)
	}
	f.iterator = out.NextShardIterator
	if f.iterator == nil {
		b.ShardEnd = true
		b.ChildShards = out.ChildShards
	}
	return b, nil
}

func (f *fetcher) recover(err error) error {
	class := classify(err)
	if errors.Is(err, context.DeadlineExceeded) {
		class = classTransient // the call timed out, not the reader
	}
	switch class {
	case classThrottled:
		f.cfg.metrics.OnThrottle(f.shardID)
		f.retryAt = time.Now().Add(f.retry.next())
	case classExpired:
		// The pacer still spaces the calls; no backoff is needed for an old iterator.
		f.iterator = nil
	case classTransient:
		f.retryAt = time.Now().Add(f.retry.next())
		if f.failures++; f.failures >= f.cfg.refreshAfterErr {
			f.iterator = nil
			f.failures = 0
		}
	default:
		return &PermanentError{ShardID: f.shardID, Op: "GetRecords", Err: err}
	}
	level := slog.LevelWarn
	if class == classExpired {
		level = slog.LevelInfo // routine after a consumer stalled for minutes
	}
	f.log.Log(context.Background(), level, "polling: GetRecords failed, retrying", "class", class.String(),
		"wait", max(0, time.Until(f.retryAt)), "new_iterator", f.iterator == nil, "err", err)
	return errRetry
}
