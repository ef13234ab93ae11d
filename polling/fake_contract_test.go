package polling

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
)

// TestFakeContract holds scriptedShard, the GetRecords fake of the synctest timing tests, to
// what those tests take from it, against kinesis-local through the real SDK client: a
// response of an open shard has a next iterator, a MillisBehindLatest and its records in
// increasing order, at most Limit of them; and the failures the fake returns are classified
// as the SDK's errors for the same faults are (an expired iterator; an internal failure).
func TestFakeContract(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	puts := stream.PutN(t, "contract", 12)
	ctx := testenv.WithTimeout(t, time.Minute)
	inj := faults.New()
	real := env.NewKinesis(inj.Wrap)
	fake := &scriptedShard{perCall: 5, behind: 3000}

	check := func(name string, api GetRecordsAPI) *kinesis.GetRecordsOutput {
		t.Helper()
		it, err := api.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamARN: aws.String(stream.ARN), ShardId: aws.String(puts[0].ShardID), ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil || it.ShardIterator == nil {
			t.Fatalf("%s: GetShardIterator: %v", name, err)
		}
		out, err := api.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(5), StreamARN: aws.String(stream.ARN)})
		if err != nil {
			t.Fatalf("%s: GetRecords: %v", name, err)
		}
		if out.NextShardIterator == nil || out.MillisBehindLatest == nil {
			t.Errorf("%s: next iterator %v, MillisBehindLatest %v: an open shard's response has both", name, out.NextShardIterator, out.MillisBehindLatest)
		}
		if len(out.Records) == 0 || len(out.Records) > 5 {
			t.Errorf("%s: %d records for Limit 5 with more waiting", name, len(out.Records))
		}
		for i := 1; i < len(out.Records); i++ {
			if testenv.CompareSequenceNumbers(aws.ToString(out.Records[i-1].SequenceNumber), aws.ToString(out.Records[i].SequenceNumber)) >= 0 {
				t.Errorf("%s: record %d does not follow record %d", name, i, i-1)
			}
		}
		return out
	}
	check("kinesis-local", real)
	check("fake", fake)

	failures := []struct {
		name  string
		fault faults.Fault
		fake  error
		is    func(error) bool
	}{
		{"expired iterator", faults.ExpireIterator(), &types.ExpiredIteratorException{Message: aws.String("expired")},
			func(err error) bool { var e *types.ExpiredIteratorException; return errors.As(err, &e) }},
		{"internal failure", faults.InternalFailure(), &types.InternalFailureException{Message: aws.String("internal")},
			func(err error) bool { var e *types.InternalFailureException; return errors.As(err, &e) }},
	}
	for _, f := range failures {
		h := inj.Add(faults.Rule{Op: "GetRecords", Times: 1, Fault: f.fault})
		it, err := real.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamARN: aws.String(stream.ARN), ShardId: aws.String(puts[0].ShardID), ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatal(err)
		}
		_, realErr := real.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, StreamARN: aws.String(stream.ARN)}, oneAttempt)
		if h.Hits() != 1 || realErr == nil {
			t.Fatalf("%s: injected %d times, error %v", f.name, h.Hits(), realErr)
		}
		if !f.is(realErr) || !f.is(f.fake) {
			t.Errorf("%s: the SDK's error %T and the fake's %T are not the same type", f.name, realErr, f.fake)
		}
		if got, want := classify(f.fake), classify(realErr); got != want {
			t.Errorf("%s: the fake's error is classified %v, the SDK's %v", f.name, got, want)
		}
	}
}
