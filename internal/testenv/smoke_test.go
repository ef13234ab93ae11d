package testenv_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/internal/testenv"
)

// TestSmokeKinesis puts records through the SDK and reads exactly them back, in order, per shard.
func TestSmokeKinesis(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	puts := stream.PutN(t, "smoke", 200)

	byShard := testenv.ByShard(puts)
	if len(byShard) != 2 {
		t.Fatalf("200 records landed on %d shards, want 2", len(byShard))
	}
	for shardID, want := range byShard {
		it, err := env.Kinesis.GetShardIterator(t.Context(), &kinesis.GetShardIteratorInput{
			StreamName: aws.String(stream.Name), ShardId: aws.String(shardID),
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatalf("GetShardIterator %s: %v", shardID, err)
		}
		var got []types.Record
		iter := it.ShardIterator
		for len(got) < len(want) {
			out, err := env.Kinesis.GetRecords(t.Context(), &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatalf("GetRecords %s: %v", shardID, err)
			}
			got = append(got, out.Records...)
			if out.NextShardIterator == nil || (len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0) {
				break
			}
			iter = out.NextShardIterator
		}
		if len(got) != len(want) {
			t.Fatalf("shard %s: read %d records, want %d", shardID, len(got), len(want))
		}
		for i := range want {
			if aws.ToString(got[i].SequenceNumber) != want[i].SequenceNumber || string(got[i].Data) != string(want[i].Data) {
				t.Fatalf("shard %s record %d: got %s %q, want %s %q", shardID, i,
					aws.ToString(got[i].SequenceNumber), got[i].Data, want[i].SequenceNumber, want[i].Data)
			}
		}
	}
}

// TestSmokeDynamoDBConditionalWrite shows that dynalite enforces conditions with the SDK's
// typed error, which every fenced lease operation relies on.
func TestSmokeDynamoDBConditionalWrite(t *testing.T) {
	env := testenv.New(t)
	table := env.LeaseTable(t)
	ctx := t.Context()
	_, err := env.DynamoDB.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	waiter := dynamodb.NewTableExistsWaiter(env.DynamoDB, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 50e6 })
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 30e9); err != nil {
		t.Fatalf("table not ACTIVE: %v", err)
	}
	put := func(counter int, expect string) error {
		in := &dynamodb.PutItemInput{
			TableName: aws.String(table),
			Item: map[string]ddbtypes.AttributeValue{
				"leaseKey":     &ddbtypes.AttributeValueMemberS{Value: "shardId-000000000000"},
				"leaseCounter": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(counter)},
			},
		}
		if expect == "" {
			in.ConditionExpression = aws.String("attribute_not_exists(leaseKey)")
		} else {
			in.ConditionExpression = aws.String("leaseCounter = :c")
			in.ExpressionAttributeValues = map[string]ddbtypes.AttributeValue{":c": &ddbtypes.AttributeValueMemberN{Value: expect}}
		}
		_, err := env.DynamoDB.PutItem(ctx, in)
		return err
	}
	if err := put(1, ""); err != nil {
		t.Fatalf("first conditional put: %v", err)
	}
	var failed *ddbtypes.ConditionalCheckFailedException
	if err := put(1, ""); !errors.As(err, &failed) {
		t.Fatalf("second create: got %v, want ConditionalCheckFailedException", err)
	}
	if err := put(2, "1"); err != nil {
		t.Fatalf("update on the right counter: %v", err)
	}
	if err := put(3, "1"); !errors.As(err, &failed) {
		t.Fatalf("update on a stale counter: got %v, want ConditionalCheckFailedException", err)
	}
}
