package main

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

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/aggregation"
	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/polling"
)

// runKCL reads with the library as an application would: Process with checkpoints.
func runKCL(ctx context.Context, cfg runConfig, cl *clients, v *verifier, stop <-chan struct{}, log *slog.Logger, index string) error {
	kc := kcl.Config{
		App:             cfg.App,
		Stream:          cfg.Stream,
		Kinesis:         cl.kinesis,
		DynamoDB:        cl.dynamodb,
		WorkerID:        fmt.Sprintf("bench-%s-%d", index, time.Now().UnixNano()),
		InitialPosition: kcl.TrimHorizon,
		ConsumerName:    cfg.ConsumerName,
		Logger:          log,
	}
	if cfg.Retrieval == "polling" {
		kc.Retrieval = kcl.Polling
		if cfg.Buffer > 0 {
			kc.PollingOptions = append(kc.PollingOptions, polling.WithReadAhead(cfg.Buffer, 8<<20))
		}
		if cfg.PollingMaxBytes > 0 {
			kc.PollingOptions = append(kc.PollingOptions, polling.WithMaxBytesPerSecond(cfg.PollingMaxBytes))
		}
	} else if cfg.Buffer > 0 {
		kc.EFOOptions = append(kc.EFOOptions, efo.WithBufferSize(cfg.Buffer))
	}
	c, err := kcl.New(kc)
	if err != nil {
		return err
	}
	kind, n, every, _ := parseCheckpoint(cfg.Checkpoint)
	var opt kcl.ProcessOption
	switch kind {
	case "records":
		opt = kcl.CheckpointEveryRecords(n)
	case "every":
		opt = kcl.CheckpointEvery(every)
	default:
		opt = kcl.CheckpointEveryBatch()
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	stopped := make(chan struct{})
	defer close(stopped)
	wg.Go(func() {
		select {
		case <-stop:
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = c.Drain(dctx) // Process returns Run's result
		case <-stopped:
		}
	})
	err = c.Process(ctx, func(_ context.Context, b kcl.Batch) error {
		s := v.begin()
		for _, r := range b.Records {
			s.add(r.Data)
		}
		s.commit()
		return nil
	}, opt)
	if errors.Is(err, kcl.ErrShutdown) {
		err = nil
	}
	return err
}

// runBare is the floor: the AWS SDK doing the same reads with nothing around them (no
// leases, no checkpoints, no buffering), deaggregating with the same package.
func runBare(ctx context.Context, cfg runConfig, cl *clients, v *verifier, stop <-chan struct{}, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	sum, err := cl.kinesis.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(cfg.Stream)})
	if err != nil {
		return err
	}
	streamARN := sum.StreamDescriptionSummary.StreamARN
	var shards []string
	var next *string
	for {
		in := &kinesis.ListShardsInput{NextToken: next}
		if next == nil {
			in.StreamARN = streamARN
		}
		out, err := cl.kinesis.ListShards(ctx, in)
		if err != nil {
			return err
		}
		for _, s := range out.Shards {
			shards = append(shards, aws.ToString(s.ShardId))
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	read := func(ctx context.Context, shard string) error {
		return barePoll(ctx, cfg, cl.kinesis, streamARN, shard, v)
	}
	if cfg.Retrieval == "efo" {
		name := cfg.App
		if cfg.ConsumerName != "" {
			name = cfg.ConsumerName
		}
		consumerARN, err := bareRegister(ctx, cl.kinesis, streamARN, name)
		if err != nil {
			return err
		}
		read = func(ctx context.Context, shard string) error {
			return bareSubscribe(ctx, cl.kinesis, consumerARN, shard, v)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(shards))
	for _, sh := range shards {
		wg.Go(func() {
			if err := read(ctx, sh); err != nil && ctx.Err() == nil {
				log.Error("bare reader failed", "shard", sh, "error", err)
				errs <- err
				cancel()
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func deliverSDK(v *verifier, d *aggregation.Deaggregator, users []aggregation.UserRecord, recs []types.Record) ([]aggregation.UserRecord, error) {
	s := v.begin()
	for _, r := range recs {
		var err error
		users, _, err = d.Append(users[:0], aggregation.FromSDK(r))
		if err != nil {
			return users, err
		}
		for _, u := range users {
			s.add(u.Data)
		}
	}
	s.commit()
	return users, nil
}

// barePoll reads a shard with GetRecords, within the same limits kcl's poller keeps: at
// most 5 calls a second and the per-shard byte rate, 200 ms between calls at the tip.
func barePoll(ctx context.Context, cfg runConfig, k *kinesis.Client, streamARN *string, shard string, v *verifier) error {
	it, err := k.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamARN: streamARN, ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		return err
	}
	rate := cfg.PollingMaxBytes
	if rate <= 0 {
		rate = 2 << 20
	}
	d := aggregation.NewDeaggregator(aggregation.FullRange())
	var users []aggregation.UserRecord
	iter := it.ShardIterator
	for iter != nil {
		start := time.Now()
		out, err := k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, StreamARN: streamARN, Limit: aws.Int32(10000)})
		if err != nil {
			return err
		}
		if users, err = deliverSDK(v, d, users, out.Records); err != nil {
			return err
		}
		iter = out.NextShardIterator
		bytes := 0
		for _, r := range out.Records {
			bytes += len(r.Data)
		}
		// 5 calls a second, and the byte rate; kcl waits 200 ms at the tip, too.
		wait := max(time.Second/5, time.Duration(float64(bytes)/float64(rate)*float64(time.Second))) - time.Since(start)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

func bareRegister(ctx context.Context, k *kinesis.Client, streamARN *string, name string) (*string, error) {
	var arn *string
	reg, err := k.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: streamARN, ConsumerName: aws.String(name)})
	var inUse *types.ResourceInUseException
	switch {
	case err == nil:
		arn = reg.Consumer.ConsumerARN
	case errors.As(err, &inUse):
	default:
		return nil, err
	}
	for {
		in := &kinesis.DescribeStreamConsumerInput{ConsumerARN: arn}
		if arn == nil {
			in = &kinesis.DescribeStreamConsumerInput{StreamARN: streamARN, ConsumerName: aws.String(name)}
		}
		d, err := k.DescribeStreamConsumer(ctx, in)
		if err != nil {
			return nil, err
		}
		if d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive {
			return d.ConsumerDescription.ConsumerARN, nil
		}
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// bareSubscribe reads a shard over SubscribeToShard, resubscribing after each
// subscription's end from its last continuation, at most once a second.
func bareSubscribe(ctx context.Context, k *kinesis.Client, consumerARN *string, shard string, v *verifier) error {
	pos := &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}
	d := aggregation.NewDeaggregator(aggregation.FullRange())
	var users []aggregation.UserRecord
	for ctx.Err() == nil {
		began := time.Now()
		out, err := k.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: consumerARN, ShardId: aws.String(shard), StartingPosition: pos}, efo.PerCallCodec)
		if err != nil {
			var inUse *types.ResourceInUseException
			if !errors.As(err, &inUse) {
				return err
			}
		} else {
			stream := out.GetStream()
			unhook := context.AfterFunc(ctx, func() { _ = stream.Close() })
			for ev := range stream.Events() {
				e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
				if !ok {
					continue
				}
				if users, err = deliverSDK(v, d, users, e.Value.Records); err != nil {
					unhook()
					_ = stream.Close()
					return err
				}
				if e.Value.ContinuationSequenceNumber != nil {
					pos = &types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: e.Value.ContinuationSequenceNumber}
				}
			}
			unhook()
			_ = stream.Close()
			if err := stream.Err(); err != nil && ctx.Err() == nil {
				return err
			}
		}
		select {
		case <-time.After(time.Second - time.Since(began)):
		case <-ctx.Done():
		}
	}
	return nil
}
