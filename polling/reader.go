package polling

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// GetRecordsAPI is the part of the Kinesis client a Poller uses; *kinesis.Client satisfies it.
type GetRecordsAPI interface {
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

// Poller starts shard readers that share one client and one configuration.
type Poller struct {
	client GetRecordsAPI
	cfg    config
}

// New returns a Poller, or an error naming the first invalid option.
func New(client GetRecordsAPI, opts ...Option) (*Poller, error) {
	if client == nil {
		return nil, errors.New("polling: nil client")
	}
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	return &Poller{client: client, cfg: cfg}, nil
}

// ShardReader reads one shard in the background and hands on its batches in order.
type ShardReader struct {
	shardID string
	batches chan Batch
	done    chan struct{}
	cancel  context.CancelCauseFunc

	mu  sync.Mutex
	err error
}

// ReadShard starts reading shardID of the stream (a name, or an ARN starting with "arn:")
// at start. The reader runs until the shard ends, ctx ends, Close is called or a permanent
// error occurs; Batches is closed then, and Err tells which.
func (p *Poller) ReadShard(ctx context.Context, streamNameOrARN, shardID string, start StartPosition) (*ShardReader, error) {
	s, err := parseStream(streamNameOrARN)
	if err != nil {
		return nil, err
	}
	if shardID == "" {
		return nil, errors.New("polling: empty shard id")
	}
	if err := start.validate(); err != nil {
		return nil, fmt.Errorf("shard %s: %w", shardID, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	r := &ShardReader{
		shardID: shardID,
		batches: make(chan Batch),
		done:    make(chan struct{}),
		cancel:  cancel,
	}
	f := &fetcher{
		client:  p.client,
		cfg:     &p.cfg,
		stream:  s,
		shardID: shardID,
		start:   start,
		log:     p.cfg.logger.With("stream", s.String(), "shard", shardID),
		pacer:   newPacer(&p.cfg, time.Now()),
		retry:   newBackoff(p.cfg.retryInitial, p.cfg.retryMax),
		ahead:   newReadAhead(p.cfg.readAheadCount, p.cfg.readAheadBytes),
	}
	go r.run(ctx, f)
	return r, nil
}

// ShardID is the shard this reader reads.
func (r *ShardReader) ShardID() string { return r.shardID }

// Batches delivers the shard's batches in order, never skipping or repeating a record. It
// is closed after the reader's last goroutine has finished.
func (r *ShardReader) Batches() <-chan Batch { return r.batches }

// Err is valid once Batches is closed: nil after the shard's end (the last batch had
// ShardEnd), the context's cause after cancellation (ErrClosed after Close), or a
// *PermanentError.
func (r *ShardReader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Close stops the reader and waits until its goroutines have finished.
func (r *ShardReader) Close() {
	r.cancel(ErrClosed)
	<-r.done
}

// run owns the fetcher goroutine and delivers what it fetches; it closes Batches last.
func (r *ShardReader) run(ctx context.Context, f *fetcher) {
	defer close(r.done)
	fetched := make(chan fetchedBatch, f.cfg.readAheadCount)
	var fetchErr error
	var wg sync.WaitGroup
	wg.Go(func() { fetchErr = f.run(ctx, fetched) })

	// deliver returns early only when ctx has ended, which stops the fetcher as well.
	err := r.deliver(ctx, f.ahead, fetched)
	wg.Wait()
	if err == nil {
		err = fetchErr
	}
	r.cancel(context.Canceled) // release the context's resources; its cause is recorded
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	close(r.batches)
}

// deliver hands fetched batches to the consumer until the fetcher is done (nil) or ctx ends.
func (r *ShardReader) deliver(ctx context.Context, ahead *readAhead, fetched <-chan fetchedBatch) error {
	for {
		var b fetchedBatch
		select {
		case fb, ok := <-fetched:
			if !ok {
				return nil
			}
			b = fb
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		select {
		case r.batches <- b.Batch:
			ahead.release(b.bytes)
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}
