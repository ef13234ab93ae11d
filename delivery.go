package kcl

import (
	"context"
	"errors"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/aggregation"
	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/leases"
)

// delivery turns one shard's raw batches into Batches of user records, in order.
type delivery struct {
	w     *worker
	shard *Shard
	lease leases.Lease
	deagg *aggregation.Deaggregator
	// resumeAfter is the checkpoint the shard resumed from; user records at or before it
	// were processed already (the reader starts AT the checkpoint, which may sit inside an
	// aggregate). Zero once delivery has passed it.
	resumeAfter checkpointer.ExtendedSequenceNumber
}

// loop delivers until the shard ends, the lease is lost, the consumer stops or drains, or the
// reader fails. It returns why the shard's channel closes, and an error that must end the
// whole consumer (the reader's permanent failure), if any.
func (d *delivery) loop(shardCtx, readCtx context.Context, rd shardReader) (end, fatal error) {
	shard, m := d.shard, d.w.c.cfg.Metrics
	for {
		rb, ok := rd.next(readCtx)
		if !ok {
			switch {
			case shardCtx.Err() != nil:
				return context.Cause(shardCtx), nil
			case readCtx.Err() != nil:
				return ErrShutdown, nil // draining
			}
			err := rd.Err()
			if err == nil {
				err = errors.New("reader stopped before the shard's end")
			}
			se := &ShardError{Stream: shard.stream, ShardID: shard.id, Err: err}
			return se, se
		}
		records, err := d.userRecords(rb.Records)
		if err != nil {
			// A corrupt aggregate: delivering part of it would lose the rest silently.
			// The shard stops before it; the checkpoint stays behind it.
			return &ShardError{Stream: shard.stream, ShardID: shard.id, Err: err}, nil
		}
		if len(records) == 0 && !rb.ShardEnd {
			continue
		}
		batch := Batch{
			Stream: shard.stream, ShardID: shard.id, Records: records,
			MillisBehindLatest: rb.MillisBehindLatest, ShardEnd: rb.ShardEnd, shard: shard,
		}
		if len(records) > 0 {
			if batch.first, err = position(records[0]); err == nil {
				if batch.last, err = position(records[len(records)-1]); err == nil {
					// The bound for checkpoints: a reader may checkpoint this batch the
					// moment it takes it.
					err = shard.cp.Delivered(batch.last)
				}
			}
			if err != nil {
				return &ShardError{Stream: shard.stream, ShardID: shard.id, Err: err}, nil
			}
		}
		if rb.ShardEnd {
			d.w.prepareFinish(shardCtx, d.lease, shard, rb.ChildShards)
		}
		if shardCtx.Err() != nil { // lost or stopped meanwhile: hand nothing more on
			return context.Cause(shardCtx), nil
		}
		// The channel is unbuffered: once the send is done, the reader has the batch.
		select {
		case shard.batches <- batch:
		case <-shardCtx.Done():
			return context.Cause(shardCtx), nil
		}
		if len(records) > 0 {
			shard.took(batch.last)
		}
		m.BatchDelivered(shard.stream, shard.id, len(records), rb.MillisBehindLatest)
		if rb.ShardEnd {
			return ErrShardEnded, nil
		}
	}
}

// userRecords deaggregates one raw batch and drops what was processed before the resume.
func (d *delivery) userRecords(in []types.Record) ([]Record, error) {
	out := make([]Record, 0, len(in))
	dropped := 0
	for i := range in {
		var (
			res aggregation.Result
			err error
		)
		out, res, err = d.deagg.Append(out, aggregation.FromSDK(in[i]))
		if err != nil {
			return nil, err
		}
		dropped += res.Dropped
	}
	if dropped > 0 {
		d.w.c.log.Debug("dropped user records outside the shard's hash-key range",
			slog.String("shard", d.shard.id), slog.Int("records", dropped))
	}
	if d.resumeAfter.IsZero() {
		return out, nil
	}
	for i := range out {
		pos, err := position(out[i])
		if err != nil {
			return nil, err
		}
		if pos.Compare(d.resumeAfter) > 0 {
			d.resumeAfter = checkpointer.ExtendedSequenceNumber{}
			return out[i:], nil
		}
	}
	return out[:0], nil
}
