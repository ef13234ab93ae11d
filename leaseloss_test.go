package kcl_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/internal/testenv"
)

// stealLease makes another worker the owner of shardID's lease, as a worker that took it
// after it expired would.
func stealLease(t *testing.T, env *testenv.Env, table, shardID string) {
	t.Helper()
	_, err := env.DynamoDB.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       map[string]types.AttributeValue{"leaseKey": &types.AttributeValueMemberS{Value: shardID}},
		UpdateExpression:          aws.String("SET leaseOwner = :thief ADD leaseCounter :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":thief": &types.AttributeValueMemberS{Value: "thief"}, ":one": &types.AttributeValueMemberN{Value: "1"}},
	})
	if err != nil {
		t.Fatalf("stealing the lease of %s: %v", shardID, err)
	}
}

// TestNoBatchAfterCheckpointReportedLeaseLost: once a checkpoint of the shard returned
// ErrLeaseLost, the reader gets no further batch, although the consumer had one ready;
// the channel closes with ErrLeaseLost.
func TestNoBatchAfterCheckpointReportedLeaseLost(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	puts := stream.PutN(t, "lost", 100)
	cfg, gets := readAheadOfOne(t, env, stream, table)
	c := mustNew(t, cfg)
	ctx := testenv.WithTimeout(t, time.Minute)
	runConsumer(t, ctx, c)
	shard, ok := <-c.Shards()
	if !ok {
		t.Fatalf("the consumer ended without a shard: %v", c.Err())
	}
	first := <-shard.Batches()
	// The consumer has the next batch ready (see TestShardCheckpointCoversWhatWasTaken).
	if err := gets.Wait(ctx, 3); err != nil {
		t.Fatalf("no read-ahead: %v", err)
	}
	stealLease(t, env, table, puts[0].ShardID)
	if err := first.Checkpoint(ctx); !errors.Is(err, kcl.ErrLeaseLost) {
		t.Fatalf("checkpoint after the lease was stolen: %v, want ErrLeaseLost", err)
	}
	if b, ok := <-shard.Batches(); ok {
		t.Fatalf("a batch of %d records was handed over after a checkpoint reported the lease lost", len(b.Records))
	}
	if err := shard.Err(); !errors.Is(err, kcl.ErrLeaseLost) {
		t.Errorf("Err %v, want ErrLeaseLost", err)
	}
}
