package efo_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/internal/testenv"
)

// TestSubscribeManyShardsOneClient reads every shard of a stream at once through one client:
// each shard gets exactly its records, in order. Under -race it also shows that concurrent
// event streams on one client do not race inside the SDK's codec (aws/smithy-go#714).
func TestSubscribeManyShardsOneClient(t *testing.T) {
	env := testenv.New(t)
	const shards = 4
	stream := env.CreateStream(t, shards)
	c := newConsumer(t, env.Kinesis, stream)
	readers := make(map[string]*reader)
	for _, sh := range stream.Shards(t) {
		id := *sh.ShardId
		readers[id] = newReader(t, subscribe(t, c, id, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon}))
	}
	want := testenv.ByShard(stream.PutN(t, "multi", 400))
	if len(want) != shards {
		t.Fatalf("records landed on %d shards, want %d", len(want), shards)
	}
	// One after the other: the subscriptions not being read meanwhile wait on their full
	// buffers and must lose nothing.
	for id, r := range readers {
		expectExactly(t, r.until(len(want[id]), 30*time.Second), want[id])
		r.sub.Close()
	}
	// Stopping reads never deregisters the consumer.
	out, err := env.Kinesis.DescribeStreamConsumer(t.Context(), &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(c.ARN())})
	if err != nil || out.ConsumerDescription.ConsumerStatus != types.ConsumerStatusActive {
		t.Fatalf("consumer after its subscriptions closed: %v, %v", out, err)
	}
}
