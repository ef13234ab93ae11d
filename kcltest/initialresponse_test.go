package kcltest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/internal/testenv"
)

// TestSubscribeToShardThroughShim reads records put to kinesis-local over SubscribeToShard
// with the SDK, through the shim.
func TestSubscribeToShardThroughShim(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	consumerARN := stream.RegisterConsumer(t)
	want := stream.PutN(t, "efo", 50)

	ctx := testenv.WithTimeout(t, 30*time.Second)
	out, err := env.Kinesis.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
		ConsumerARN: aws.String(consumerARN), ShardId: aws.String(want[0].ShardID),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon},
	})
	if err != nil {
		t.Fatalf("SubscribeToShard through the shim: %v", err)
	}
	es := out.GetStream()
	defer es.Close()
	var got []string
	for len(got) < len(want) {
		select {
		case ev, ok := <-es.Events():
			if !ok {
				t.Fatalf("stream ended after %d of %d records: %v", len(got), len(want), es.Err())
			}
			e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
			if !ok {
				t.Fatalf("unexpected event %T", ev)
			}
			if e.Value.ContinuationSequenceNumber == nil {
				t.Fatalf("event without a continuation sequence number on an open shard")
			}
			for _, r := range e.Value.Records {
				got = append(got, aws.ToString(r.SequenceNumber))
			}
		case <-ctx.Done():
			t.Fatalf("read %d of %d records before the deadline", len(got), len(want))
		}
	}
	for i := range want {
		if got[i] != want[i].SequenceNumber {
			t.Fatalf("record %d: sequence %s, want %s", i, got[i], want[i].SequenceNumber)
		}
	}
}

// TestEmulatorStillNeedsShim fails when kinesis-local starts sending initial-response itself:
// then the shim would send a second one, and must go.
func TestEmulatorStillNeedsShim(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	consumerARN := stream.RegisterConsumer(t)
	bare := kinesis.NewFromConfig(env.Config, func(o *kinesis.Options) {
		o.BaseEndpoint = aws.String(env.KinesisEndpoint)
	})
	shards := stream.Shards(t)
	ctx := testenv.WithTimeout(t, 30*time.Second)
	out, err := bare.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
		ConsumerARN: aws.String(consumerARN), ShardId: shards[0].ShardId,
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest},
	})
	if err == nil {
		out.GetStream().Close()
		t.Fatal("kinesis-local now sends initial-response: remove the shim")
	}
	// The SDK reports the missing message only as text; this test characterises the emulator.
	if !strings.Contains(err.Error(), "initial-response") {
		t.Fatalf("SubscribeToShard without the shim failed otherwise than expected: %v", err)
	}
}
