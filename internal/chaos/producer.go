package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/aggregation"
)

// producer puts records at a steady rate and logs every acknowledged user record. A put
// that fails is tried again with the same counter, so a record may be stored more than
// once (a call that failed on the way back) but is acknowledged at least once.
type producer struct {
	client *kinesis.Client
	stream string
	run    string
	out    *jsonlWriter
	rng    *rand.Rand
	// rate is user records per second.
	rate int

	next    int64
	pending []pendingEntry
}

// pendingEntry is one PutRecords entry: a lone user record or a KPL aggregate of several.
type pendingEntry struct {
	entry aggregation.Entry
	ns    []int64 // the counters of its user records, in sub-sequence order
}

// run puts until ctx ends, then returns how many user records were acknowledged.
func (p *producer) runLoop(ctx context.Context) (acked int64, err error) {
	const tick = 100 * time.Millisecond
	perTick := max(1, p.rate/10)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return acked, nil
		case <-t.C:
		}
		if len(p.pending) < 4*perTick {
			p.make(perTick)
		}
		n, err := p.putOnce(ctx)
		acked += n
		if err != nil && ctx.Err() == nil {
			_ = p.out.write(event{Ev: evPutFailed, Err: err.Error()})
		}
	}
}

// make adds user records: every fourth entry is a KPL aggregate of 2 to 5 user records
// with one partition key (so they all belong to the shard the aggregate goes to).
func (p *producer) make(userRecords int) {
	for userRecords > 0 {
		now := time.Now().UnixNano()
		pk := fmt.Sprintf("pk-%d", p.rng.Uint64())
		if p.rng.IntN(4) == 0 && userRecords >= 2 {
			k := min(userRecords, 2+p.rng.IntN(4))
			var entries []aggregation.Entry
			var ns []int64
			for range k {
				entries = append(entries, aggregation.Entry{Data: payload{Run: p.run, N: p.next, PutUnixNano: now}.encode(), PartitionKey: pk})
				ns = append(ns, p.next)
				p.next++
			}
			agg, err := aggregation.Aggregate(entries, 0)
			if err != nil || len(agg) != 1 {
				panic(fmt.Sprintf("chaos: aggregate %d small records: %d entries, %v", k, len(agg), err))
			}
			p.pending = append(p.pending, pendingEntry{entry: agg[0], ns: ns})
			userRecords -= k
			continue
		}
		p.pending = append(p.pending, pendingEntry{
			entry: aggregation.Entry{Data: payload{Run: p.run, N: p.next, PutUnixNano: now}.encode(), PartitionKey: pk},
			ns:    []int64{p.next},
		})
		p.next++
		userRecords--
	}
}

// putOnce puts up to 100 pending entries and keeps the ones that failed.
func (p *producer) putOnce(ctx context.Context) (int64, error) {
	if len(p.pending) == 0 {
		return 0, nil
	}
	batch := p.pending[:min(100, len(p.pending))]
	in := &kinesis.PutRecordsInput{StreamName: aws.String(p.stream)}
	for _, e := range batch {
		re := types.PutRecordsRequestEntry{Data: e.entry.Data, PartitionKey: aws.String(e.entry.PartitionKey)}
		if len(e.ns) > 1 {
			re.ExplicitHashKey = aws.String(e.entry.ExplicitHashKey)
		}
		in.Records = append(in.Records, re)
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	out, err := p.client.PutRecords(callCtx, in)
	if err != nil {
		return 0, err
	}
	var acks []event
	var failed []pendingEntry
	var firstErr error
	for i, r := range out.Records {
		if r.ErrorCode != nil {
			failed = append(failed, batch[i])
			if firstErr == nil {
				firstErr = fmt.Errorf("entry: %s: %s", aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
			}
			continue
		}
		for sub, n := range batch[i].ns {
			e := event{Ev: evAck, N: n, Shard: aws.ToString(r.ShardId), Seq: aws.ToString(r.SequenceNumber)}
			if len(batch[i].ns) > 1 {
				e.Sub = uint64(sub)
			}
			acks = append(acks, e)
		}
	}
	if err := p.out.write(acks...); err != nil {
		return 0, err
	}
	p.pending = append(failed, p.pending[len(batch):]...)
	return int64(len(acks)), firstErr
}
