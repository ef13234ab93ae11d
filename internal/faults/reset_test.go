package faults_test

import (
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
)

// isReset reports whether err is a connection reset the way net/http reports one.
func isReset(err error) bool {
	var opErr *net.OpError
	return errors.Is(err, syscall.ECONNRESET) && errors.As(err, &opErr)
}

// TestResets shows each reset surfaces as a connection reset, reaches the emulator or not
// as it claims, and that with the SDK's retries on the call succeeds on its second attempt.
func TestResets(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)

	tests := map[string]struct {
		fault faults.Reset
		// stored is how many times the record is stored after a failed call without retries.
		stored int
	}{
		"BeforeRequest": {faults.ResetBefore(), 0},
		"AfterResponse": {faults.ResetAfter(), 1},
		"MidBody":       {faults.ResetMidBody(10), 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			stream := env.CreateStream(t, 1)
			inj := faults.New()
			client := env.NewKinesis(inj.Wrap, noRetries)
			inj.Add(faults.Rule{Op: "PutRecord", Times: 1, Fault: tc.fault})
			err := putRecord(t.Context(), client, stream.Name, "once")
			if !isReset(err) {
				t.Fatalf("PutRecord: got %T %v, want a *net.OpError with ECONNRESET", err, err)
			}
			if n := countData(t, env, stream, "once"); n != tc.stored {
				t.Errorf("record stored %d times, want %d", n, tc.stored)
			}

			// With retries: the reset attempt, then a clean one. A lost response means the
			// retry stores the record a second time, which is what idempotency tests need.
			retrying := env.NewKinesis(inj.Wrap, withFastRetries)
			inj.Add(faults.Rule{Op: "PutRecord", Times: 1, Fault: tc.fault})
			if err := putRecord(t.Context(), retrying, stream.Name, "retried"); err != nil {
				t.Fatalf("PutRecord with SDK retries: %v", err)
			}
			if n := countData(t, env, stream, "retried"); n != tc.stored+1 {
				t.Errorf("retried record stored %d times, want %d", n, tc.stored+1)
			}
			calls := inj.Calls("PutRecord")
			if len(calls) != 3 || !calls[1].Injected || calls[2].Injected {
				t.Errorf("PutRecord calls %+v: want 3, the second injected, the third not", calls)
			}
		})
	}
}

// TestResetMidBodyOfLargeResponse cuts a GetRecords response well inside its body.
func TestResetMidBodyOfLargeResponse(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	stream.PutN(t, "big", 50)
	inj := faults.New()
	client := env.NewKinesis(inj.Wrap, noRetries)
	shardID := aws.ToString(stream.Shards(t)[0].ShardId)
	it := iterator(t, client, stream.Name, shardID)
	inj.Add(faults.Rule{Op: "GetRecords", Fault: faults.ResetMidBody(1000)})
	if _, err := client.GetRecords(t.Context(), &kinesis.GetRecordsInput{ShardIterator: it}); !isReset(err) {
		t.Fatalf("GetRecords: got %T %v, want a reset", err, err)
	}
}

// TestResetDynamoDB shows a lost PutItem response: the item is written, the caller told of a reset.
func TestResetDynamoDB(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	table := createTable(t, env)
	inj := faults.New()
	client := env.NewDynamoDB(inj.Wrap, noRetriesDDB)
	inj.Add(faults.Rule{Op: "PutItem", Fault: faults.ResetAfter()})
	if err := putItem(t.Context(), client, table, "lost-answer"); !isReset(err) {
		t.Fatalf("PutItem: got %v, want a reset", err)
	}
	if !itemExists(t, env, table, "lost-answer") {
		t.Error("the item whose response was lost is not in the table")
	}
}
