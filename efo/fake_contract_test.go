package efo

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/internal/testenv"
)

// TestFakeContract holds the scripted SubscribeToShard of the synctest tests to what they
// take from it, against kinesis-local through the real SDK call: an event carries its
// records in order, a MillisBehindLatest, and a ContinuationSequenceNumber equal to its last
// record's sequence number (what event() builds); and a subscribe AFTER that continuation
// starts with the next record, never repeating one (what the scripts of the resume tests
// assume when they answer a resubscribe with the following records).
func TestFakeContract(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	puts := stream.PutN(t, "contract", 20)
	ctx := testenv.WithTimeout(t, time.Minute)
	c, err := NewConsumer(ctx, env.NewKinesis(nil), stream.ARN, "c-"+strings.ReplaceAll(t.Name(), "/", "-"),
		WithPollInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	shard := puts[0].ShardID

	// firstRecords subscribes at pos (waiting out kinesis-local's ResourceInUse after a
	// close) and returns the first event that holds records.
	firstRecords := func(pos StartPosition) types.SubscribeToShardEvent {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			es, _, err := c.subscribe(ctx, &kinesis.SubscribeToShardInput{
				ConsumerARN: aws.String(c.arn), ShardId: aws.String(shard), StartingPosition: pos.sdk(),
			})
			if err != nil {
				t.Fatalf("SubscribeToShard at %v: %v", pos, err)
			}
			for ev := range es.Events() {
				if e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent); ok && len(e.Value.Records) > 0 {
					_ = es.Close()
					return e.Value
				}
			}
			var inUse *types.ResourceInUseException
			if err := es.Err(); !errors.As(err, &inUse) {
				t.Fatalf("event stream at %v ended without records: %v", pos, err)
			}
			_ = es.Close()
			time.Sleep(500 * time.Millisecond) // kinesis-local refuses for ~3 s after a close
		}
		t.Fatalf("no records at %v within 30 s", pos)
		return types.SubscribeToShardEvent{}
	}

	check := func(name string, e types.SubscribeToShardEvent) {
		t.Helper()
		if e.MillisBehindLatest == nil {
			t.Errorf("%s: no MillisBehindLatest", name)
		}
		for i := 1; i < len(e.Records); i++ {
			if testenv.CompareSequenceNumbers(aws.ToString(e.Records[i-1].SequenceNumber), aws.ToString(e.Records[i].SequenceNumber)) >= 0 {
				t.Errorf("%s: record %d does not follow record %d", name, i, i-1)
			}
		}
		last := aws.ToString(e.Records[len(e.Records)-1].SequenceNumber)
		if cont := aws.ToString(e.ContinuationSequenceNumber); cont != last {
			t.Errorf("%s: continuation %s, last record %s: the fake's events set them equal", name, cont, last)
		}
	}

	// The fake's own events have the shape the emulator's have.
	check("fake event", event(seq(3), 1, 2, 3).(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent).Value)

	first := firstRecords(StartPosition{Type: types.ShardIteratorTypeTrimHorizon})
	check("kinesis-local's first event", first)
	if got := aws.ToString(first.Records[0].SequenceNumber); got != puts[0].SequenceNumber {
		t.Fatalf("first record %s, want the first put %s", got, puts[0].SequenceNumber)
	}
	n := len(first.Records)
	if n == len(puts) {
		puts = append(puts, stream.PutN(t, "more", 5)...) // something to resume at
	}
	cont := aws.ToString(first.ContinuationSequenceNumber)
	next := firstRecords(StartPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: cont})
	check("kinesis-local's event after a resubscribe", next)
	if got := aws.ToString(next.Records[0].SequenceNumber); got != puts[n].SequenceNumber {
		t.Fatalf("a subscribe AFTER the continuation %s starts at %s, want the next put %s", cont, got, puts[n].SequenceNumber)
	}
}
