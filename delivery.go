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
		records, corrupt, err := d.userRecords(rb.Records)
		if err != nil {
			return &ShardError{Stream: shard.stream, ShardID: shard.id, Err: err}, nil
		}
		if corrupt != nil {
			// HaltShard: the records before the corrupt one go out as a batch of their own;
			// the shard does not end here, whatever the raw batch said.
			rb.ShardEnd = false
		}
		if len(records) == 0 && !rb.ShardEnd {
			if corrupt != nil {
				return &ShardError{Stream: shard.stream, ShardID: shard.id, Err: corrupt}, nil
			}
			continue
		}
		if dec := d.w.c.cfg.Decoder; dec != nil && len(records) > 0 {
			dec.DecodeRecords(shardCtx, shard.stream, shard.id, records)
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
		if err := shard.handOver(shardCtx, batch); err != nil {
			return err, nil // lost, expired or stopped: hand nothing more on
		}
		m.BatchDelivered(shard.stream, shard.id, len(records), rb.MillisBehindLatest)
		if corrupt != nil {
			return &ShardError{Stream: shard.stream, ShardID: shard.id, Err: corrupt}, nil
		}
		if rb.ShardEnd {
			return ErrShardEnded, nil
		}
	}
}

// userRecords deaggregates one raw batch and drops what was processed before the resume.
// A corrupt aggregate is handled as Config.CorruptRecords says; with HaltShard, the user
// records before it are returned with the *aggregation.CorruptError, and the rest of the
// raw batch is left unread.
func (d *delivery) userRecords(in []types.Record) ([]Record, *aggregation.CorruptError, error) {
	out := make([]Record, 0, len(in))
	dropped := 0
	var halted *aggregation.CorruptError
	for i := range in {
		rec := aggregation.FromSDK(in[i])
		var (
			res aggregation.Result
			err error
		)
		out, res, err = d.deagg.Append(out, rec)
		dropped += res.Dropped
		if err == nil {
			continue
		}
		var corrupt *aggregation.CorruptError
		if !errors.As(err, &corrupt) {
			return nil, nil, err
		}
		if keep := d.corrupt(rec, corrupt); keep != nil {
			out = append(out, *keep)
			continue
		}
		if d.w.c.cfg.CorruptRecords == HaltShard {
			halted = corrupt
			break
		}
	}
	if dropped > 0 {
		// Expected after a reshard (the KPL re-sends them to the right shard), so not a
		// warning; counted, so that a steady flow of them is seen.
		d.w.c.log.Debug("dropped user records outside the shard's hash-key range",
			slog.String("shard", d.shard.id), slog.Int("records", dropped))
		recordMetrics(d.w.c.cfg.Metrics).UserRecordsDropped(d.shard.stream, d.shard.id, dropped)
	}
	if d.resumeAfter.IsZero() {
		return out, halted, nil
	}
	for i := range out {
		pos, err := position(out[i])
		if err != nil {
			return nil, nil, err
		}
		if pos.Compare(d.resumeAfter) > 0 {
			d.resumeAfter = checkpointer.ExtendedSequenceNumber{}
			return out[i:], halted, nil
		}
	}
	return out[:0], halted, nil
}

// corrupt reports a corrupt aggregate, and returns the record to deliver in its place, if
// any (DeliverCorrupt).
func (d *delivery) corrupt(rec aggregation.Record, err *aggregation.CorruptError) *Record {
	policy := d.w.c.cfg.CorruptRecords
	recordMetrics(d.w.c.cfg.Metrics).CorruptRecord(d.shard.stream, d.shard.id, err)
	attrs := []slog.Attr{slog.String("shard", d.shard.id), slog.String("sequenceNumber", rec.SequenceNumber), slog.Any("error", err)}
	switch policy {
	case DeliverCorrupt:
		d.w.c.log.LogAttrs(context.Background(), slog.LevelWarn, "delivering a corrupt KPL aggregate whole, marked Corrupt", attrs...)
		return &Record{
			Data: rec.Data, PartitionKey: rec.PartitionKey, SequenceNumber: rec.SequenceNumber,
			ApproximateArrivalTimestamp: rec.ApproximateArrivalTimestamp, Corrupt: true,
		}
	case SkipCorrupt:
		d.w.c.log.LogAttrs(context.Background(), slog.LevelError, "skipping a corrupt KPL aggregate (Config.CorruptRecords is SkipCorrupt): its user records are not delivered", attrs...)
	}
	return nil // HaltShard: runShard says so when it halts
}
