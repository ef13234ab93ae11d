package replay_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/aggregation"
	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/internal/replay"
)

func newServer(t *testing.T, cfg replay.Config) (*replay.Server, *kinesis.Client) {
	t.Helper()
	s, err := replay.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	c := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(s.URL()),
		HTTPClient:   &http.Client{Transport: replay.Transport()},
	})
	return s, c
}

// checkPayloads fails unless records carry counters from..from+len-1 of key.
func checkPayloads(t *testing.T, recs []types.Record, key uint32, from uint64, agg int) uint64 {
	t.Helper()
	next := from
	for _, r := range recs {
		users, _, err := aggregation.Deaggregate(aggregation.FromSDK(r))
		if err != nil {
			t.Fatal(err)
		}
		if agg > 1 && len(users) != agg {
			t.Fatalf("aggregate of %d user records, want %d", len(users), agg)
		}
		for _, u := range users {
			p, err := replay.ParsePayload(u.Data)
			if err != nil {
				t.Fatal(err)
			}
			if p.Key != key || p.Counter != next {
				t.Fatalf("payload key %d counter %d, want key %d counter %d", p.Key, p.Counter, key, next)
			}
			if p.Wire == 0 || p.Arrival == 0 {
				t.Fatalf("payload %+v not stamped", p)
			}
			next++
		}
	}
	return next
}

func TestGetRecordsReadsEveryRecordOnce(t *testing.T) {
	for _, agg := range []int{0, 4} {
		_, c := newServer(t, replay.Config{Shards: 3, RecordSize: 100, RecordsPerShard: 2500, Aggregate: agg})
		ctx := t.Context()
		shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(2)})
		if err != nil {
			t.Fatal(err)
		}
		if len(shards.Shards) != 2 || shards.NextToken == nil {
			t.Fatalf("first page: %d shards, next token %v", len(shards.Shards), shards.NextToken)
		}
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: shards.Shards[1].ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter, next := it.ShardIterator, uint64(0)
		for calls := 0; ; calls++ {
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
			if err != nil {
				t.Fatal(err)
			}
			next = checkPayloads(t, out.Records, 1, next, agg)
			iter = out.NextShardIterator
			if len(out.Records) == 0 {
				if *out.MillisBehindLatest != 0 {
					t.Fatalf("empty response %d ms behind", *out.MillisBehindLatest)
				}
				break
			}
			if calls > 10 {
				t.Fatal("no end after 10 calls")
			}
		}
		if want := uint64(2500 * max(agg, 1)); next != want {
			t.Fatalf("read %d user records, want %d", next, want)
		}
	}
}

func TestSubscribeToShardStreamsAndContinues(t *testing.T) {
	s, c := newServer(t, replay.Config{Shards: 2, RecordSize: 64, RecordsPerShard: 5000, MaxEventBytes: 64 * 700, Heartbeat: 50 * time.Millisecond})
	ctx := t.Context()
	reg, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/s"), ConsumerName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: reg.Consumer.ConsumerARN})
	if err != nil || desc.ConsumerDescription.ConsumerStatus != types.ConsumerStatusActive {
		t.Fatalf("describe: %v %+v", err, desc)
	}
	pos := &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}
	next := uint64(0)
	// Two subscriptions: the second continues after the first's continuation.
	for round := range 2 {
		sub, err := c.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN, ShardId: aws.String("shardId-000000000001"), StartingPosition: pos}, efo.PerCallCodec)
		if err != nil {
			t.Fatal(err)
		}
		if s.ActiveSubscriptions() != 1 {
			t.Errorf("%d active subscriptions, want 1", s.ActiveSubscriptions())
		}
		stream := sub.GetStream()
		var cont string
		for events := 0; events < 3; events++ {
			ev, ok := <-stream.Events()
			if !ok {
				t.Fatalf("stream ended: %v", stream.Err())
			}
			e := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent).Value
			next = checkPayloads(t, e.Records, 1, next, 0)
			cont = *e.ContinuationSequenceNumber
		}
		if err := stream.Close(); err != nil {
			t.Fatal(err)
		}
		// The server sees the stream reset a moment later; Kinesis refuses for 5 s.
		for deadline := time.Now().Add(5 * time.Second); s.ActiveSubscriptions() != 0; {
			if time.Now().After(deadline) {
				t.Fatal("subscription still live 5 s after the client closed it")
			}
			time.Sleep(time.Millisecond)
		}
		pos = &types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: aws.String(cont)}
		if want := uint64(2100 * (round + 1)); next != want {
			t.Fatalf("round %d: %d records, want %d", round, next, want)
		}
	}
}

func TestSubscribeToShardHeartbeatAtTheTip(t *testing.T) {
	_, c := newServer(t, replay.Config{Shards: 1, RecordSize: 64, RecordsPerShard: 10, Heartbeat: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	reg, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/s"), ConsumerName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN, ShardId: aws.String("shardId-000000000000"), StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}}, efo.PerCallCodec)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.GetStream().Close()
	for range 3 {
		ev := (<-sub.GetStream().Events()).(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent).Value
		if len(ev.Records) != 0 || *ev.MillisBehindLatest != 0 {
			t.Fatalf("heartbeat with %d records, %d ms behind", len(ev.Records), *ev.MillisBehindLatest)
		}
	}
	_, err = c.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN, ShardId: aws.String("shardId-000000000000"), StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}}, efo.PerCallCodec)
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Fatalf("second subscription: %v, want ResourceInUseException", err)
	}
}
