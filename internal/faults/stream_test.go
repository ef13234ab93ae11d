package faults_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"

	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
)

// ownCodec gives one SubscribeToShard call a protocol (and so an event-stream codec) of its
// own: smithy-go v1.28.8 shares the client's codec between streams without a lock, which
// -race reports as soon as two subscriptions of one client overlap (aws/smithy-go#714).
func ownCodec(o *kinesis.Options) { o.Protocol = awsjson.New11(schemas.Kinesis_20131202) }

func subscribe(ctx context.Context, t *testing.T, client *kinesis.Client, consumerARN, shardID string) *kinesis.SubscribeToShardEventStream {
	t.Helper()
	out, err := client.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
		ConsumerARN: aws.String(consumerARN), ShardId: aws.String(shardID),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon},
	}, ownCodec)
	if err != nil {
		t.Fatalf("SubscribeToShard %s: %v", shardID, err)
	}
	es := out.GetStream()
	t.Cleanup(func() { es.Close() })
	return es
}

// collect reads events until the stream ends (or max events arrived) and returns them with
// the stream's error; it fails t if ctx ends first.
func collect(ctx context.Context, t *testing.T, es *kinesis.SubscribeToShardEventStream, max int) ([]types.SubscribeToShardEvent, error) {
	t.Helper()
	var events []types.SubscribeToShardEvent
	for len(events) < max {
		select {
		case ev, ok := <-es.Events():
			if !ok {
				return events, es.Err()
			}
			e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
			if !ok {
				t.Fatalf("unexpected event %T", ev)
			}
			events = append(events, e.Value)
		case <-ctx.Done():
			t.Fatalf("stream still open after %d events: %v", len(events), ctx.Err())
		}
	}
	return events, nil
}

func sequenceNumbers(events []types.SubscribeToShardEvent) []string {
	var seqs []string
	for _, e := range events {
		for _, r := range e.Records {
			seqs = append(seqs, aws.ToString(r.SequenceNumber))
		}
	}
	return seqs
}

// TestCutStream shows a cut stream delivers exactly n events and then ends cleanly or with
// a reset, touches only the shard its rule names, and leaves non-stream calls alone.
func TestCutStream(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	byShard := testenv.ByShard(stream.PutN(t, "cut", 40))
	shards := stream.Shards(t)
	s0, s1 := aws.ToString(shards[0].ShardId), aws.ToString(shards[1].ShardId)

	tests := map[string]struct {
		fault     faults.CutStream
		wantReset bool
	}{
		"CleanAfterTwo": {faults.CutStream{AfterEvents: 2}, false},
		"ResetAfterOne": {faults.CutStream{AfterEvents: 1, Err: faults.ConnReset(nil)}, true},
		"CleanAtOnce":   {faults.CutStream{AfterEvents: 0}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			consumer := stream.RegisterConsumer(t)
			inj := faults.New()
			client := env.NewKinesis(inj.Wrap, noRetries)
			h := inj.Add(faults.Rule{Op: "SubscribeToShard", Shard: s1, Fault: tc.fault})
			ctx := testenv.WithTimeout(t, 20*time.Second)

			// Both subscriptions run at once: kinesis-local sends about one event a second.
			cut := subscribe(ctx, t, client, consumer, s1)
			uncut := subscribe(ctx, t, client, consumer, s0)
			events, err := collect(ctx, t, cut, 1000)
			if len(events) != tc.fault.AfterEvents {
				t.Errorf("got %d events, want %d", len(events), tc.fault.AfterEvents)
			}
			if tc.wantReset != isReset(err) || (!tc.wantReset && err != nil) {
				t.Errorf("stream ended with %v; want a reset: %v", err, tc.wantReset)
			}
			want := byShard[s1]
			got := sequenceNumbers(events)
			if len(got) > len(want) {
				t.Fatalf("%d records delivered, the shard has %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i].SequenceNumber {
					t.Fatalf("record %d: %s, want %s", i, got[i], want[i].SequenceNumber)
				}
			}

			// Shard 0 is not cut: it delivers more events than shard 1's limit.
			events, err = collect(ctx, t, uncut, tc.fault.AfterEvents+1)
			if err != nil || len(events) != tc.fault.AfterEvents+1 {
				t.Errorf("shard 0: %d events, %v; want %d events", len(events), err, tc.fault.AfterEvents+1)
			}
			if h.Hits() != 1 {
				t.Errorf("Hits() = %d, want 1", h.Hits())
			}
		})
	}

	t.Run("NotAStream", func(t *testing.T) {
		t.Parallel()
		inj := faults.New()
		client := env.NewKinesis(inj.Wrap, noRetries)
		inj.Add(faults.Rule{Fault: faults.CutStream{}})
		if _, err := client.ListShards(t.Context(), &kinesis.ListShardsInput{StreamName: aws.String(stream.Name)}); err != nil {
			t.Fatalf("ListShards under a stream fault: %v", err)
		}
	})
}

// TestHangStream shows a hung stream goes silent after n events (kinesis-local would send
// one a second) and ends when the caller closes it or its context ends.
func TestHangStream(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	stream.PutN(t, "hang", 10)
	shardID := aws.ToString(stream.Shards(t)[0].ShardId)

	for _, how := range []string{"Close", "Cancel"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			consumer := stream.RegisterConsumer(t)
			inj := faults.New()
			client := env.NewKinesis(inj.Wrap, noRetries)
			inj.Add(faults.Rule{Op: "SubscribeToShard", Fault: faults.HangStream{AfterEvents: 1}})
			ctx, cancel := context.WithCancel(testenv.WithTimeout(t, 20*time.Second))
			defer cancel()
			es := subscribe(ctx, t, client, consumer, shardID)
			if events, err := collect(ctx, t, es, 1); len(events) != 1 || err != nil {
				t.Fatalf("first event: %d events, %v", len(events), err)
			}
			select {
			case ev, ok := <-es.Events():
				t.Fatalf("a hung stream delivered %v (open %v)", ev, ok)
			case <-time.After(1500 * time.Millisecond):
			}
			if how == "Close" {
				es.Close()
			} else {
				cancel()
			}
			select {
			case _, ok := <-es.Events():
				if ok {
					t.Fatal("an event after the stream was ended")
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("the stream did not end after %s", how)
			}
			if how == "Cancel" && !errors.Is(es.Err(), context.Canceled) {
				t.Errorf("after cancel, Err() = %v, want context.Canceled", es.Err())
			}
		})
	}
}

// TestStreamException shows an exception injected into the stream reaches the caller as
// the SDK's typed error after n events.
func TestStreamException(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	shardID := aws.ToString(stream.Shards(t)[0].ShardId)

	tests := map[string]struct {
		typ    string
		isType func(error) bool
	}{
		"InternalFailure": {"InternalFailureException", errorAs[*types.InternalFailureException]},
		"ResourceInUse":   {"ResourceInUseException", errorAs[*types.ResourceInUseException]},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			consumer := stream.RegisterConsumer(t)
			inj := faults.New()
			client := env.NewKinesis(inj.Wrap, noRetries)
			inj.Add(faults.Rule{Op: "SubscribeToShard", Fault: faults.StreamException{AfterEvents: 1, Type: tc.typ}})
			ctx := testenv.WithTimeout(t, 20*time.Second)
			events, err := collect(ctx, t, subscribe(ctx, t, client, consumer, shardID), 100)
			if len(events) != 1 || !tc.isType(err) {
				t.Fatalf("got %d events and %T %v; want 1 event, then a typed %s", len(events), err, err, tc.typ)
			}
		})
	}
}
