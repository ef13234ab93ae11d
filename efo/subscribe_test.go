package efo_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/internal/testenv"
)

// TestSubscribeStartPositions starts a subscription at each kind of position on a shard
// holding records put before, puts more, and expects exactly the records at and after the
// position, in order, and nothing else.
func TestSubscribeStartPositions(t *testing.T) {
	env := testenv.New(t)
	tests := []struct {
		name string
		// start returns the position given the records put before subscribing, and which of
		// them are expected.
		start func(before []testenv.Put) (efo.StartPosition, []testenv.Put)
	}{
		{"TRIM_HORIZON", func(before []testenv.Put) (efo.StartPosition, []testenv.Put) {
			return efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon}, before
		}},
		{"LATEST", func([]testenv.Put) (efo.StartPosition, []testenv.Put) {
			return efo.StartPosition{Type: types.ShardIteratorTypeLatest}, nil
		}},
		{"AT_SEQUENCE_NUMBER", func(before []testenv.Put) (efo.StartPosition, []testenv.Put) {
			return efo.StartPosition{Type: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: before[7].SequenceNumber}, before[7:]
		}},
		{"AFTER_SEQUENCE_NUMBER", func(before []testenv.Put) (efo.StartPosition, []testenv.Put) {
			return efo.StartPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: before[7].SequenceNumber}, before[8:]
		}},
		{"AT_TIMESTAMP", nil}, // set below: it needs a time between two puts
	}
	// The positions run side by side (they mostly wait); the group ends when all have.
	t.Run("positions", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				stream := env.CreateStream(t, 1)
				c := newConsumer(t, env.Kinesis, stream)
				before := stream.PutN(t, "before", 20)
				start, want := efo.StartPosition{}, []testenv.Put(nil)
				if tt.start != nil {
					start, want = tt.start(before)
				} else {
					time.Sleep(100 * time.Millisecond)
					start = efo.StartPosition{Type: types.ShardIteratorTypeAtTimestamp, Timestamp: time.Now()}
					time.Sleep(100 * time.Millisecond)
				}
				shardID := before[0].ShardID
				sub := subscribe(t, c, shardID, start)
				r := newReader(t, sub)
				if start.Type == types.ShardIteratorTypeLatest {
					// The first event (empty on an idle shard) shows the subscription is live;
					// everything put from now on is after LATEST.
					if b := r.next(10 * time.Second); len(b.Records) != 0 {
						t.Fatalf("LATEST delivered %d records put before it", len(b.Records))
					}
				}
				after := stream.PutN(t, "after", 15)
				want = append(want, after...)
				got := r.until(len(want), 20*time.Second)
				expectExactly(t, got, want)
				r.quiet(1500 * time.Millisecond)
				if r.end != nil {
					t.Fatalf("open shard delivered a shard-end batch")
				}
				sub.Close()
				if err := sub.Err(); err != efo.ErrClosed {
					t.Fatalf("Err after Close = %v, want ErrClosed", err)
				}
				if _, ok := <-sub.Batches(); ok {
					t.Fatal("Batches still open after Close")
				}
			})
		}
	})
	// No subscription of this test left anything running.
	expectNoGoroutines(t)
}
