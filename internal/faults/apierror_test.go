package faults_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
)

// errorAs reports whether err holds a T.
func errorAs[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// TestKinesisErrorsAreTyped shows the SDK decodes each injected Kinesis error into its own type.
func TestKinesisErrorsAreTyped(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	shardID := aws.ToString(stream.Shards(t)[0].ShardId)

	tests := map[string]struct {
		fault  faults.APIError
		op     string
		isType func(error) bool
		status int
	}{
		"ProvisionedThroughputExceeded": {faults.Throttle(), "GetRecords", errorAs[*types.ProvisionedThroughputExceededException], 400},
		"LimitExceeded":                 {faults.LimitExceeded(), "ListShards", errorAs[*types.LimitExceededException], 400},
		"ResourceInUse":                 {faults.ResourceInUse(), "ListShards", errorAs[*types.ResourceInUseException], 400},
		"ExpiredIterator":               {faults.ExpireIterator(), "GetRecords", errorAs[*types.ExpiredIteratorException], 400},
		"ResourceNotFound":              {faults.ResourceNotFound(), "ListShards", errorAs[*types.ResourceNotFoundException], 400},
		"AccessDenied":                  {faults.AccessDenied(), "GetRecords", errorAs[*types.AccessDeniedException], 400},
		"InternalFailure":               {faults.InternalFailure(), "GetRecords", errorAs[*types.InternalFailureException], 500},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			inj := faults.New()
			client := env.NewKinesis(inj.Wrap, noRetries)
			h := inj.Add(faults.Rule{Op: tc.op, Fault: tc.fault})
			var err error
			switch tc.op {
			case "GetRecords":
				_, err = client.GetRecords(t.Context(), &kinesis.GetRecordsInput{ShardIterator: iterator(t, client, stream.Name, shardID)})
			case "ListShards":
				_, err = client.ListShards(t.Context(), &kinesis.ListShardsInput{StreamName: aws.String(stream.Name)})
			}
			if !tc.isType(err) {
				t.Fatalf("%s: got %T %v, want the SDK's typed error", tc.op, err, err)
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.fault.Kinesis {
				t.Errorf("error code: got %v, want %s", err, tc.fault.Kinesis)
			}
			if got := httpStatus(err); got != tc.status {
				t.Errorf("HTTP status %d, want %d", got, tc.status)
			}
			if h.Hits() != 1 {
				t.Errorf("Hits() = %d, want 1", h.Hits())
			}
		})
	}
}

// TestDynamoDBErrorsAreTyped shows the SDK decodes each injected DynamoDB error into its own
// type, checksum header included.
func TestDynamoDBErrorsAreTyped(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	table := createTable(t, env)

	tests := map[string]struct {
		fault  faults.APIError
		isType func(error) bool
		code   string
		status int
	}{
		"ProvisionedThroughputExceeded": {faults.Throttle(), errorAs[*ddbtypes.ProvisionedThroughputExceededException], "ProvisionedThroughputExceededException", 400},
		"ThrottlingException":           {faults.Throttling(), errorAs[*ddbtypes.ThrottlingException], "ThrottlingException", 400},
		"RequestLimitExceeded":          {faults.RequestLimitExceeded(), errorAs[*ddbtypes.RequestLimitExceeded], "RequestLimitExceeded", 400},
		"ResourceNotFound":              {faults.ResourceNotFound(), errorAs[*ddbtypes.ResourceNotFoundException], "ResourceNotFoundException", 400},
		"InternalServerError":           {faults.InternalFailure(), errorAs[*ddbtypes.InternalServerError], "InternalServerError", 500},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			inj := faults.New()
			client := env.NewDynamoDB(inj.Wrap, noRetriesDDB)
			inj.Add(faults.Rule{Op: "GetItem", Fault: tc.fault})
			_, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{
				TableName: aws.String(table),
				Key:       map[string]ddbtypes.AttributeValue{"leaseKey": &ddbtypes.AttributeValueMemberS{Value: "k"}},
			})
			if !tc.isType(err) {
				t.Fatalf("GetItem: got %T %v, want the SDK's typed error", err, err)
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.code {
				t.Errorf("error code: got %v, want %s", err, tc.code)
			}
			if got := httpStatus(err); got != tc.status {
				t.Errorf("HTTP status %d, want %d", got, tc.status)
			}
		})
	}
}

// TestAPIErrorForward shows that an error is answered without the emulator seeing the
// request, unless AfterForward asks for the request to take effect first.
func TestAPIErrorForward(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)

	t.Run("Kinesis", func(t *testing.T) {
		stream := env.CreateStream(t, 1)
		inj := faults.New()
		client := env.NewKinesis(inj.Wrap, noRetries)
		h := inj.Add(faults.Rule{Op: "PutRecord", Times: 1, Fault: faults.Throttle()})
		if err := putRecord(t.Context(), client, stream.Name, "not-forwarded"); !errorAs[*types.ProvisionedThroughputExceededException](err) {
			t.Fatalf("PutRecord: got %v, want ProvisionedThroughputExceededException", err)
		}
		h.Remove()
		inj.Add(faults.Rule{Op: "PutRecord", Times: 1, Fault: faults.Throttle().AfterForward()})
		if err := putRecord(t.Context(), client, stream.Name, "forwarded"); !errorAs[*types.ProvisionedThroughputExceededException](err) {
			t.Fatalf("PutRecord after forward: got %v, want ProvisionedThroughputExceededException", err)
		}
		if n := countData(t, env, stream, "not-forwarded"); n != 0 {
			t.Errorf("the not-forwarded record is stored %d times, want 0", n)
		}
		if n := countData(t, env, stream, "forwarded"); n != 1 {
			t.Errorf("the forwarded record is stored %d times, want 1", n)
		}
	})

	t.Run("DynamoDB", func(t *testing.T) {
		table := createTable(t, env)
		inj := faults.New()
		client := env.NewDynamoDB(inj.Wrap, noRetriesDDB)
		inj.Add(faults.Rule{Op: "PutItem", Match: func(c faults.Call) bool { return c.Key("leaseKey") == "a" }, Fault: faults.Throttle()})
		inj.Add(faults.Rule{Op: "PutItem", Match: func(c faults.Call) bool { return c.Key("leaseKey") == "b" }, Fault: faults.Throttle().AfterForward()})
		for _, key := range []string{"a", "b"} {
			if err := putItem(t.Context(), client, table, key); !errorAs[*ddbtypes.ProvisionedThroughputExceededException](err) {
				t.Fatalf("PutItem %s: got %v, want ProvisionedThroughputExceededException", key, err)
			}
		}
		if err := putItem(t.Context(), client, table, "c"); err != nil {
			t.Fatalf("PutItem c (no rule fits): %v", err)
		}
		for key, want := range map[string]bool{"a": false, "b": true, "c": true} {
			if got := itemExists(t, env, table, key); got != want {
				t.Errorf("item %s exists: %v, want %v", key, got, want)
			}
		}
		if got := inj.Calls("PutItem"); len(got) != 3 || got[0].Table != table {
			t.Errorf("PutItem calls: %+v, want 3 on table %s", got, table)
		}
	})
}

// TestThrottleIsRetriedBySDK shows the SDK's own retryer classifies injected throttles as
// retryable: two throttles, then the third attempt gets through.
func TestThrottleIsRetriedBySDK(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	inj := faults.New()
	client := env.NewKinesis(inj.Wrap, withFastRetries)
	inj.Add(faults.Rule{Op: "ListShards", Times: 2, Fault: faults.Throttle()})
	if _, err := client.ListShards(t.Context(), &kinesis.ListShardsInput{StreamName: aws.String(stream.Name)}); err != nil {
		t.Fatalf("ListShards with retries: %v", err)
	}
	if got, want := injected(inj, "ListShards"), []bool{true, true, false}; !slices.Equal(got, want) {
		t.Errorf("attempts injected %v, want %v", got, want)
	}
}
