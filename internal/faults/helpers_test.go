package faults_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
)

// noRetries makes the SDK give up after one attempt, so a test sees the fault itself.
func noRetries(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} }

func noRetriesDDB(o *dynamodb.Options) { o.Retryer = aws.NopRetryer{} }

// fastRetries keeps the SDK's standard retry classification but without backoff delays.
func fastRetries() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
	})
}

func withFastRetries(o *kinesis.Options) { o.Retryer = fastRetries() }

// iterator returns a TRIM_HORIZON iterator of shardID through client.
func iterator(t *testing.T, client *kinesis.Client, stream, shardID string) *string {
	t.Helper()
	out, err := client.GetShardIterator(t.Context(), &kinesis.GetShardIteratorInput{
		StreamName: aws.String(stream), ShardId: aws.String(shardID),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		t.Fatalf("GetShardIterator %s: %v", shardID, err)
	}
	return out.ShardIterator
}

// readShard reads every record of shardID with the unwrapped client, up to the tip.
func readShard(t *testing.T, env *testenv.Env, stream, shardID string) []types.Record {
	t.Helper()
	it := iterator(t, env.Kinesis, stream, shardID)
	var recs []types.Record
	for it != nil {
		out, err := env.Kinesis.GetRecords(t.Context(), &kinesis.GetRecordsInput{ShardIterator: it})
		if err != nil {
			t.Fatalf("GetRecords %s: %v", shardID, err)
		}
		recs = append(recs, out.Records...)
		if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
			break
		}
		it = out.NextShardIterator
	}
	return recs
}

// countData counts the records of the stream's only shard whose data is data.
func countData(t *testing.T, env *testenv.Env, stream *testenv.Stream, data string) int {
	t.Helper()
	n := 0
	for _, sh := range stream.Shards(t) {
		for _, r := range readShard(t, env, stream.Name, aws.ToString(sh.ShardId)) {
			if string(r.Data) == data {
				n++
			}
		}
	}
	return n
}

func putRecord(ctx context.Context, client *kinesis.Client, stream, data string) error {
	_, err := client.PutRecord(ctx, &kinesis.PutRecordInput{
		StreamName: aws.String(stream), PartitionKey: aws.String("pk"), Data: []byte(data),
	})
	return err
}

// createTable creates an on-demand table with hash key "leaseKey" (S) and waits for it.
func createTable(t *testing.T, env *testenv.Env) string {
	t.Helper()
	table := env.LeaseTable(t)
	_, err := env.DynamoDB.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	w := dynamodb.NewTableExistsWaiter(env.DynamoDB, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := w.Wait(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 30*time.Second); err != nil {
		t.Fatalf("table not ACTIVE: %v", err)
	}
	return table
}

func putItem(ctx context.Context, client *dynamodb.Client, table, key string) error {
	_, err := client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item:      map[string]ddbtypes.AttributeValue{"leaseKey": &ddbtypes.AttributeValueMemberS{Value: key}},
	})
	return err
}

// itemExists reads key consistently with the unwrapped client.
func itemExists(t *testing.T, env *testenv.Env, table, key string) bool {
	t.Helper()
	out, err := env.DynamoDB.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"leaseKey": &ddbtypes.AttributeValueMemberS{Value: key}},
	})
	if err != nil {
		t.Fatalf("GetItem %s: %v", key, err)
	}
	return out.Item != nil
}

// injected lists, per call of op, whether a fault handled it.
func injected(inj *faults.Injector, op string) []bool {
	var got []bool
	for _, c := range inj.Calls(op) {
		got = append(got, c.Injected)
	}
	return got
}
