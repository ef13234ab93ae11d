package kcl

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/polling"
)

// rawBatch is a batch as either reader delivers it (polling.Batch and efo.Batch have this shape).
type rawBatch struct {
	ShardID            string
	Records            []types.Record
	MillisBehindLatest int64
	ShardEnd           bool
	ChildShards        []types.ChildShard
}

// startPosition is where a reader starts, in the form both readers take.
type startPosition struct {
	Type           types.ShardIteratorType
	SequenceNumber string
	Timestamp      time.Time
}

// shardReader is one shard's reader, polling or enhanced fan-out.
type shardReader interface {
	// next returns the next batch, or ok false once the reader has stopped (then Err says why).
	next(ctx context.Context) (b rawBatch, ok bool)
	Err() error
	Close()
}

// openReader starts a reader of shardID at start.
type openReader func(ctx context.Context, shardID string, start startPosition) (shardReader, error)

func pollingOpener(p *polling.Poller, stream string) openReader {
	return func(ctx context.Context, shardID string, start startPosition) (shardReader, error) {
		r, err := p.ReadShard(ctx, stream, shardID, polling.StartPosition(start))
		if err != nil {
			return nil, err
		}
		return pollingReader{r}, nil
	}
}

type pollingReader struct{ *polling.ShardReader }

func (r pollingReader) next(ctx context.Context) (rawBatch, bool) {
	select {
	case b, ok := <-r.Batches():
		return rawBatch(b), ok
	case <-ctx.Done():
		return rawBatch{}, false
	}
}

func efoOpener(c *efo.Consumer) openReader {
	return func(ctx context.Context, shardID string, start startPosition) (shardReader, error) {
		s, err := c.Subscribe(ctx, shardID, efo.StartPosition(start))
		if err != nil {
			return nil, err
		}
		return efoReader{s}, nil
	}
}

type efoReader struct{ *efo.Subscription }

func (r efoReader) next(ctx context.Context) (rawBatch, bool) {
	select {
	case b, ok := <-r.Batches():
		return rawBatch(b), ok
	case <-ctx.Done():
		return rawBatch{}, false
	}
}
