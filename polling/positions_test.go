package polling_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/polling"
)

// TestStartPositions reads one shard from every start position, by stream name and by ARN,
// and checks that exactly the records from that position on arrive, in order.
func TestStartPositions(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	first := stream.PutN(t, "first", 150)
	time.Sleep(50 * time.Millisecond) // so the two puts have distinct arrival timestamps
	second := stream.PutN(t, "second", 150)
	shardID := first[0].ShardID
	all := append(append([]testenv.Put(nil), first...), second...)

	// AT_TIMESTAMP: the arrival time of the second put's first record, as the stream recorded it.
	p := newPoller(t, env.Kinesis)
	stored := readCaughtUp(t, startReader(t, testenv.WithTimeout(t, time.Minute), p, stream.Name, shardID, polling.TrimHorizon()), len(all))
	checkRecords(t, shardID, stored, all)
	lastFirst := aws.ToTime(stored[len(first)-1].ApproximateArrivalTimestamp)
	firstSecond := aws.ToTime(stored[len(first)].ApproximateArrivalTimestamp)
	if !lastFirst.Before(firstSecond) {
		t.Fatalf("the two puts share an arrival time (%v, %v): AT_TIMESTAMP cannot tell them apart", lastFirst, firstSecond)
	}

	tests := map[string]struct {
		pos  polling.StartPosition
		want []testenv.Put
	}{
		"TRIM_HORIZON":          {polling.TrimHorizon(), all},
		"AT_SEQUENCE_NUMBER":    {polling.AtSequenceNumber(first[70].SequenceNumber), all[70:]},
		"AFTER_SEQUENCE_NUMBER": {polling.AfterSequenceNumber(first[70].SequenceNumber), all[71:]},
		"AFTER the last record": {polling.AfterSequenceNumber(second[149].SequenceNumber), nil},
		"AT_TIMESTAMP":          {polling.AtTimestamp(firstSecond), second},
		"AT_TIMESTAMP before":   {polling.AtTimestamp(firstSecond.Add(-time.Hour)), all},
	}
	for name, tc := range tests {
		for _, addr := range []struct{ name, stream string }{{"by name", stream.Name}, {"by ARN", stream.ARN}} {
			t.Run(name+" "+addr.name, func(t *testing.T) {
				r := startReader(t, testenv.WithTimeout(t, time.Minute), p, addr.stream, shardID, tc.pos)
				checkRecords(t, shardID, readCaughtUp(t, r, len(tc.want)), tc.want)
			})
		}
	}

	// LATEST: only what is put after the reader got its iterator. The first batch (empty,
	// caught up) shows it has one.
	for _, addr := range []struct{ name, stream string }{{"by name", stream.Name}, {"by ARN", stream.ARN}} {
		t.Run("LATEST "+addr.name, func(t *testing.T) {
			r := startReader(t, testenv.WithTimeout(t, time.Minute), p, addr.stream, shardID, polling.Latest())
			if b := next(t, r); len(b.Records) != 0 {
				t.Fatalf("LATEST delivered %d old records", len(b.Records))
			}
			later := stream.PutN(t, "later-"+addr.name, 40)
			checkRecords(t, shardID, readCaughtUp(t, r, len(later)), later)
		})
	}
}

// TestReadShardOfMissingStream ends the reader with a PermanentError that unwraps to the
// SDK's ResourceNotFoundException.
func TestReadShardOfMissingStream(t *testing.T) {
	env := testenv.New(t)
	p := newPoller(t, env.Kinesis)
	r := startReader(t, testenv.WithTimeout(t, time.Minute), p, testenv.UniqueName(t, "missing"), "shardId-000000000000", polling.TrimHorizon())
	if got, _ := readToEnd(t, r); len(got) != 0 {
		t.Fatalf("read %d records from a stream that does not exist", len(got))
	}
	checkPermanent(t, r.Err(), "shardId-000000000000", "GetShardIterator")
}

// TestStreamDeletedWhileReading ends the reader with a PermanentError once the stream is
// gone, after it has handed on every record it read.
func TestStreamDeletedWhileReading(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	puts := stream.PutN(t, "doomed", 100)
	p := newPoller(t, env.Kinesis)
	r := startReader(t, testenv.WithTimeout(t, time.Minute), p, stream.ARN, puts[0].ShardID, polling.TrimHorizon())
	checkRecords(t, puts[0].ShardID, readCaughtUp(t, r, len(puts)), puts)

	if _, err := env.Kinesis.DeleteStream(t.Context(), deleteInput(stream.Name)); err != nil {
		t.Fatalf("DeleteStream: %v", err)
	}
	if got, last := readToEnd(t, r); len(got) != 0 || last.ShardEnd {
		t.Fatalf("after the delete: %d more records, shard end %v", len(got), last.ShardEnd)
	}
	checkPermanent(t, r.Err(), puts[0].ShardID, "GetRecords")
}

func checkPermanent(t *testing.T, err error, shardID, op string) {
	t.Helper()
	var pe *polling.PermanentError
	if !errors.As(err, &pe) {
		t.Fatalf("reader ended with %v, want a *polling.PermanentError", err)
	}
	if pe.ShardID != shardID || pe.Op != op {
		t.Errorf("PermanentError for shard %s op %s, want %s %s", pe.ShardID, pe.Op, shardID, op)
	}
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("%v does not unwrap to ResourceNotFoundException", err)
	}
}

func deleteInput(name string) *kinesis.DeleteStreamInput {
	return &kinesis.DeleteStreamInput{StreamName: aws.String(name), EnforceConsumerDeletion: aws.Bool(true)}
}
