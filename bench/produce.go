package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/aggregation"
	"github.com/kclgo/kcl/internal/replay"
)

// produceConfig is what to put.
type produceConfig struct {
	stream      string
	keys        int   // partition-key spread: pk-0 .. pk-(keys-1)
	perKey      int64 // user records per key
	size        int
	aggregate   int     // user records per KPL aggregate; 0: none
	rate        float64 // user records per second; 0: as fast as the stream takes them
	concurrency int
}

// produceStats is what a produce run measured.
type produceStats struct {
	records, kinesisRecords, bytes, retried int64
	elapsed                                 time.Duration
	putLatency                              histogram
}

// shardRange is a shard's hash-key range, for routing aggregates as the KPL does.
type shardRange struct {
	start string
	r     aggregation.HashKeyRange
}

func listRanges(ctx context.Context, k *kinesis.Client, stream string) ([]shardRange, error) {
	var out []shardRange
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
	for {
		page, err := k.ListShards(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, s := range page.Shards {
			if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
				continue // closed
			}
			r, err := aggregation.ParseHashKeyRange(*s.HashKeyRange.StartingHashKey, *s.HashKeyRange.EndingHashKey)
			if err != nil {
				return nil, err
			}
			out = append(out, shardRange{start: *s.HashKeyRange.StartingHashKey, r: r})
		}
		if page.NextToken == nil {
			return out, nil
		}
		in = &kinesis.ListShardsInput{NextToken: page.NextToken}
	}
}

// produce puts keys*perKey verifiable user records: key slot i's records go under
// partition key pk-i with counters 0..perKey-1. With aggregation, user records are
// grouped per shard (as the KPL does, so no user record lands outside its shard's range).
func produce(ctx context.Context, k *kinesis.Client, pc produceConfig, bar *progress) (*produceStats, error) {
	var ranges []shardRange
	if pc.aggregate > 1 {
		var err error
		if ranges, err = listRanges(ctx, k, pc.stream); err != nil {
			return nil, err
		}
	}
	filler := replay.Filler(pc.size)
	total := int64(pc.keys) * pc.perKey
	entries := make(chan types.PutRecordsRequestEntry, 1000)
	st := &produceStats{}
	var bytes, putRecords, retried atomic.Int64
	var latMu sync.Mutex
	start := time.Now()
	gctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() { // the generator: user records in key-round-robin order, at the rate
		defer close(entries)
		encoders := make([]*aggregation.Encoder, len(ranges))
		for i := range encoders {
			encoders[i] = aggregation.NewEncoder(0)
		}
		emit := func(e types.PutRecordsRequestEntry) bool {
			select {
			case entries <- e:
				return true
			case <-gctx.Done():
				return false
			}
		}
		flush := func(i int) bool {
			enc := encoders[i]
			if enc.Len() == 0 {
				return true
			}
			data := enc.Encode(nil)
			enc.Reset()
			return emit(types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String("agg"), ExplicitHashKey: aws.String(ranges[i].start)})
		}
		for n := int64(0); n < total; n++ {
			if pc.rate > 0 {
				due := start.Add(time.Duration(float64(n) / pc.rate * float64(time.Second)))
				if d := time.Until(due); d > 0 {
					select {
					case <-time.After(d):
					case <-gctx.Done():
						return
					}
				}
			}
			key := n % int64(pc.keys)
			data := replay.AppendHeader(make([]byte, 0, pc.size), replay.Payload{Key: uint32(key), Counter: uint64(n / int64(pc.keys)), Arrival: time.Now().UnixNano()})
			data = append(data, filler...)
			pk := fmt.Sprintf("pk-%d", key)
			if pc.aggregate <= 1 {
				if !emit(types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(pk)}) {
					return
				}
				continue
			}
			h := aggregation.HashPartitionKey(pk)
			i := 0
			for j, r := range ranges {
				if r.r.Contains(h) {
					i = j
				}
			}
			if ok, _ := encoders[i].Add(aggregation.Entry{Data: data, PartitionKey: pk}); !ok {
				if !flush(i) {
					return
				}
				_, _ = encoders[i].Add(aggregation.Entry{Data: data, PartitionKey: pk})
			}
			if encoders[i].Len() >= pc.aggregate && !flush(i) {
				return
			}
		}
		for i := range encoders {
			if !flush(i) {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range max(pc.concurrency, 1) {
		wg.Go(func() {
			batch := make([]types.PutRecordsRequestEntry, 0, 500)
			size := 0
			send := func() {
				for len(batch) > 0 && gctx.Err() == nil {
					t0 := time.Now()
					out, err := k.PutRecords(gctx, &kinesis.PutRecordsInput{StreamName: aws.String(pc.stream), Records: batch})
					if err != nil {
						cancel(err)
						return
					}
					latMu.Lock()
					st.putLatency.add(time.Since(t0))
					latMu.Unlock()
					var failed []types.PutRecordsRequestEntry
					for i, r := range out.Records {
						if r.ErrorCode != nil {
							failed = append(failed, batch[i])
							continue
						}
						bytes.Add(int64(len(batch[i].Data)))
						putRecords.Add(1)
					}
					retried.Add(int64(len(failed)))
					batch = append(batch[:0], failed...) // throttled: put again, in this order
				}
				size = 0
			}
			for e := range entries {
				if len(batch) == 500 || size+len(e.Data) > 4<<20 {
					send()
				}
				batch = append(batch, e)
				size += len(e.Data) + len(*e.PartitionKey)
			}
			send()
		})
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
loop:
	for {
		select {
		case <-done:
			break loop
		case <-tick.C:
			if bar != nil {
				bar.update(int64(float64(putRecords.Load())*float64(max(pc.aggregate, 1))), total, start.Add(24*time.Hour), "")
			}
		}
	}
	if bar != nil {
		bar.done()
	}
	if err := context.Cause(gctx); err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	st.elapsed = time.Since(start)
	st.records, st.kinesisRecords, st.bytes, st.retried = total, putRecords.Load(), bytes.Load(), retried.Load()
	return st, nil
}

// createStream creates a stream on kinesis-local and waits until it is active.
func createStream(ctx context.Context, k *kinesis.Client, name string, shards int) error {
	if _, err := k.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards))}); err != nil {
		return err
	}
	w := kinesis.NewStreamExistsWaiter(k, func(o *kinesis.StreamExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	return w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 2*time.Minute)
}

// fillEmulatorStream creates cfg's stream on kinesis-local and puts its records: one key
// slot per shard, so that lost records are counted as with the replay source.
func fillEmulatorStream(ctx context.Context, cfg runConfig) error {
	cl, err := newClients(ctx, cfg)
	if err != nil {
		return err
	}
	if err := createStream(ctx, cl.kinesis, cfg.Stream, cfg.Shards); err != nil {
		return fmt.Errorf("create stream: %w", err)
	}
	_, err = produce(ctx, cl.kinesis, produceConfig{stream: cfg.Stream, keys: cfg.Shards, perKey: cfg.userRecordsPerShard(),
		size: cfg.RecordSize, aggregate: cfg.Aggregate, concurrency: 4}, newProgress("filling "+cfg.Stream))
	return err
}

func produceMain(args []string) error {
	fs := flag.NewFlagSet("produce", flag.ContinueOnError)
	source := fs.String("source", "emulators", "emulators (kinesis-local) or aws (a real stream, -stream)")
	stream := fs.String("stream", "", "the stream; with -source emulators a new one is created when empty")
	shards := fs.Int("shards", 4, "shards of a created stream")
	records := fs.Int64("records", 2000, "user records to put")
	size := fs.Int("record-size", 100, "bytes of each user record")
	keys := fs.Int("keys", 100, "partition keys the records spread over")
	agg := fs.Int("aggregate", 0, "user records per KPL aggregate (0: none)")
	rate := fs.Float64("rate", 0, "user records per second (0: as fast as the stream takes them)")
	conc := fs.Int("concurrency", 4, "PutRecords calls in flight")
	out := fs.String("out", "bench/results", "directory for produce.json (empty: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keys < 1 || *records < 1 || *size < replay.HeaderSize {
		return fmt.Errorf("need -keys >= 1, -records >= 1 and -record-size >= %d", replay.HeaderSize)
	}
	ctx, cancel := signalContext()
	defer cancel()
	env, err := setUpEnvironment(ctx, *source)
	if err != nil {
		return err
	}
	defer env.stop()
	cfg := runConfig{Source: *source, KinesisEndpoint: env.kinesis, Stream: *stream}
	cl, err := newClients(ctx, cfg)
	if err != nil {
		return err
	}
	if cfg.Stream == "" {
		if *source == "aws" {
			return errors.New("-source aws needs -stream")
		}
		cfg.Stream = fmt.Sprintf("bench-produce-%d", time.Now().UnixNano())
		if err := createStream(ctx, cl.kinesis, cfg.Stream, *shards); err != nil {
			return err
		}
	}
	perKey := (*records + int64(*keys) - 1) / int64(*keys)
	load := loadAverage()
	st, err := produce(ctx, cl.kinesis, produceConfig{stream: cfg.Stream, keys: *keys, perKey: perKey, size: *size,
		aggregate: *agg, rate: *rate, concurrency: *conc}, newProgress("produce "+cfg.Stream))
	if err != nil {
		return err
	}
	secs := st.elapsed.Seconds()
	fmt.Printf("stream %s (%s), %d keys, %d B records, aggregation %d, load %s\n", cfg.Stream, *source, *keys, *size, *agg, load)
	fmt.Printf("user records   %d (%.0f/s)\nkinesis records %d (%.0f/s)\nMiB/s          %.2f\nretried        %d\nPutRecords p50 %.1f ms  p99 %.1f ms  max %.1f ms\n",
		st.records, float64(st.records)/secs, st.kinesisRecords, float64(st.kinesisRecords)/secs, float64(st.bytes)/mib/secs, st.retried,
		ms(st.putLatency.quantile(0.5)), ms(st.putLatency.quantile(0.99)), ms(st.putLatency.Max))
	calls := cl.kinesisCalls.snapshot()
	fmt.Printf("kinesis calls  %v\n", calls)
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		return writeJSONFile(*out+"/produce.json", map[string]any{"machine": machine(), "stream": cfg.Stream, "source": *source,
			"keys": *keys, "record_size": *size, "aggregate": *agg, "user_records": st.records, "kinesis_records": st.kinesisRecords,
			"seconds": secs, "records_per_sec": float64(st.records) / secs, "mib_per_sec": float64(st.bytes) / mib / secs,
			"retried": st.retried, "put_p50_ns": st.putLatency.quantile(0.5), "put_p99_ns": st.putLatency.quantile(0.99),
			"put_max_ns": st.putLatency.Max, "kinesis_calls": calls, "load_average": load})
	}
	return nil
}
