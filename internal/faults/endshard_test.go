package faults_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
)

// TestEndShard splits a shard, subscribes to the closed parent and shows the caller gets
// all of its records in order, then a final event with the children and no continuation
// sequence number, then the end of the stream.
func TestEndShard(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	puts := stream.PutN(t, "end", 60)
	parent := puts[0].ShardID
	stream.Split(t, parent)
	children, err := faults.ChildrenOf(t.Context(), env.Kinesis, stream.Name, parent)
	if err != nil {
		t.Fatalf("ChildrenOf: %v", err)
	}
	if len(children) != 2 {
		t.Fatalf("a split shard has %d children, want 2", len(children))
	}

	tests := map[string]faults.EndShard{
		"CaughtUp":           {Children: children},
		"LastSequenceNumber": {Children: children, LastSequenceNumber: puts[len(puts)-1].SequenceNumber},
	}
	for name, fault := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			consumer := stream.RegisterConsumer(t)
			inj := faults.New()
			client := env.NewKinesis(inj.Wrap, noRetries)
			inj.Add(faults.Rule{Op: "SubscribeToShard", Shard: parent, Fault: fault})
			ctx := testenv.WithTimeout(t, 20*time.Second)
			events, err := collect(ctx, t, subscribe(ctx, t, client, consumer, parent), 1000)
			if err != nil {
				t.Fatalf("stream ended with %v, want a clean end", err)
			}
			if len(events) < 2 {
				t.Fatalf("%d events, want the records and then the final event", len(events))
			}
			var want []string
			for _, p := range puts {
				want = append(want, p.SequenceNumber)
			}
			if got := sequenceNumbers(events); !slices.Equal(got, want) {
				t.Fatalf("records delivered %v,\nwant all of the shard's, in order: %v", got, want)
			}
			last := events[len(events)-1]
			if len(last.Records) != 0 || last.ContinuationSequenceNumber != nil || aws.ToInt64(last.MillisBehindLatest) != 0 {
				t.Errorf("final event: %d records, continuation %v, behind %d; want none, nil, 0",
					len(last.Records), aws.ToString(last.ContinuationSequenceNumber), aws.ToInt64(last.MillisBehindLatest))
			}
			if got, want := childShardStrings(last.ChildShards), childShardStrings(children); !slices.Equal(got, want) {
				t.Errorf("final event's children %v, want %v", got, want)
			}
			for i, e := range events[:len(events)-1] {
				if e.ContinuationSequenceNumber == nil || len(e.ChildShards) != 0 {
					t.Errorf("event %d before the end: continuation %v, %d children", i, e.ContinuationSequenceNumber, len(e.ChildShards))
				}
			}
		})
	}
}

func childShardStrings(cs []types.ChildShard) []string {
	var s []string
	for _, c := range cs {
		r := "<no range>"
		if c.HashKeyRange != nil {
			r = aws.ToString(c.HashKeyRange.StartingHashKey) + "-" + aws.ToString(c.HashKeyRange.EndingHashKey)
		}
		s = append(s, aws.ToString(c.ShardId)+" parents "+strings.Join(c.ParentShards, "+")+" range "+r)
	}
	return s
}

// TestEndShardLastSequenceNumber shows EndShard ends at the first caught-up event, and with
// LastSequenceNumber only at the first one after that record.
func TestEndShardLastSequenceNumber(t *testing.T) {
	t.Parallel()
	children := []types.ChildShard{{
		ShardId: aws.String("shardId-000000000001"), ParentShards: []string{"shardId-000000000000"},
		HashKeyRange: &types.HashKeyRange{StartingHashKey: aws.String("0"), EndingHashKey: aws.String("9")},
	}}
	tests := map[string]struct {
		fault faults.EndShard
		want  []string // sequence numbers delivered before the final event
	}{
		"FirstCaughtUp":  {faults.EndShard{Children: children}, nil},
		"AfterLast":      {faults.EndShard{Children: children, LastSequenceNumber: "17"}, []string{"5", "6", "17"}},
		"LastIsNumeric":  {faults.EndShard{Children: children, LastSequenceNumber: "9"}, []string{"5", "6", "17"}},
		"LastNeverComes": {faults.EndShard{Children: children, LastSequenceNumber: "99"}, []string{"5", "6", "17", "18"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			inj := faults.New()
			inj.Add(faults.Rule{Op: "SubscribeToShard", Fault: tc.fault})
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			out, err := scriptedClient(inj, scriptedStream(t)).SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
				ConsumerARN:      aws.String("arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:1"),
				ShardId:          aws.String("shardId-000000000000"),
				StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon},
			})
			if err != nil {
				t.Fatalf("SubscribeToShard: %v", err)
			}
			es := out.GetStream()
			defer es.Close()
			events, err := collect(ctx, t, es, 100)
			if err != nil {
				t.Fatalf("stream ended with %v", err)
			}
			if got := sequenceNumbers(events); !slices.Equal(got, tc.want) {
				t.Errorf("records %v, want %v", got, tc.want)
			}
			last := events[len(events)-1]
			ended := last.ContinuationSequenceNumber == nil && len(last.ChildShards) == 1
			if wantEnd := name != "LastNeverComes"; ended != wantEnd {
				t.Errorf("last event %+v: shard end %v, want %v", last, ended, wantEnd)
			}
		})
	}
}

func scriptedClient(inj *faults.Injector, stream []byte) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String("http://scripted.invalid"),
		HTTPClient:   &http.Client{Transport: inj.Wrap(streamTransport(stream))},
		Retryer:      aws.NopRetryer{},
	})
}
