package polling

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// scriptedShard answers GetShardIterator and GetRecords for the synctest tests of the read
// loop's timing: every call takes latency of fake time and returns perCall records of an
// endless shard, with MillisBehindLatest from behind. It models nothing else of Kinesis;
// behaviour is tested against kinesis-local.
type scriptedShard struct {
	latency time.Duration
	perCall int
	behind  int64
	// fail, when set, is asked for each GetRecords call (0-based) whether it fails, after
	// latency, with the error returned instead of records.
	fail func(call int) error

	mu     sync.Mutex
	starts []time.Time // of the GetRecords calls
	next   int         // sequence number of the next record
}

func (s *scriptedShard) GetShardIterator(ctx context.Context, _ *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String("iterator")}, nil
}

func (s *scriptedShard) GetRecords(ctx context.Context, _ *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	s.mu.Lock()
	s.starts = append(s.starts, time.Now())
	s.mu.Unlock()
	select {
	case <-time.After(s.latency):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(len(s.starts) - 1); err != nil {
			return nil, err
		}
	}
	out := &kinesis.GetRecordsOutput{NextShardIterator: aws.String("iterator"), MillisBehindLatest: aws.Int64(s.behind)}
	for range s.perCall {
		out.Records = append(out.Records, types.Record{SequenceNumber: aws.String(strconv.Itoa(s.next)), Data: []byte("x"), PartitionKey: aws.String("k")})
		s.next++
	}
	return out, nil
}

func (s *scriptedShard) callStarts() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.starts...)
}

// TestReaderPacesCalls runs a whole reader on synctest's fake clock with a consumer that
// takes at once: the read loop keeps the pacer's gaps between its calls.
func TestReaderPacesCalls(t *testing.T) {
	tests := map[string]struct {
		shard *scriptedShard
		opts  []Option
		gap   time.Duration // between call starts
	}{
		"behind, fast calls":    {&scriptedShard{latency: 20 * time.Millisecond, perCall: 5, behind: 3000}, nil, 200 * time.Millisecond},
		"behind, slow calls":    {&scriptedShard{latency: 350 * time.Millisecond, perCall: 5, behind: 3000}, nil, 350 * time.Millisecond},
		"caught up":             {&scriptedShard{latency: 20 * time.Millisecond, behind: 0}, nil, 220 * time.Millisecond},
		"caught up, full":       {&scriptedShard{latency: 20 * time.Millisecond, perCall: 5, behind: 0}, []Option{WithMaxRecords(5)}, 200 * time.Millisecond},
		"2 calls per second":    {&scriptedShard{latency: 20 * time.Millisecond, perCall: 5, behind: 3000}, []Option{WithMaxCallsPerSecond(2)}, 500 * time.Millisecond},
		"1.5 s idle, caught up": {&scriptedShard{latency: 20 * time.Millisecond, behind: 0}, []Option{WithIdleDelay(1500 * time.Millisecond)}, 1520 * time.Millisecond},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, err := New(tc.shard, tc.opts...)
				if err != nil {
					t.Fatal(err)
				}
				readToDeadline(t, p, 30*time.Second)
				starts := tc.shard.callStarts()
				if len(starts) < 10 {
					t.Fatalf("%d calls in 30 s", len(starts))
				}
				for i := 1; i < len(starts); i++ {
					if gap := starts[i].Sub(starts[i-1]); gap != tc.gap {
						t.Fatalf("calls %d and %d started %v apart, want %v", i-1, i, gap, tc.gap)
					}
				}
			})
		})
	}
}

// TestReaderStalledConsumer: with nobody taking, the reader makes as many calls as the
// read-ahead holds and then none, however long it waits; one batch taken lets one more
// call through. synctest.Test also fails if any goroutine outlives the cancellation.
func TestReaderStalledConsumer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shard := &scriptedShard{latency: 20 * time.Millisecond, perCall: 10, behind: 3000}
		p, err := New(shard, WithReadAhead(3, 1<<20))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		r, err := p.ReadShard(ctx, "s", "shardId-0", TrimHorizon())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(shard.callStarts()); n != 3 {
			t.Fatalf("%d calls in an hour with a stalled consumer, want 3", n)
		}
		<-r.Batches()
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(shard.callStarts()); n != 4 {
			t.Fatalf("%d calls after one batch was taken, want 4", n)
		}
		cancel()
		for range r.Batches() {
		}
		if !errors.Is(r.Err(), context.Canceled) {
			t.Fatalf("Err %v, want context.Canceled", r.Err())
		}
	})
}

// TestReaderPacesFailedCalls: a failed GetRecords call counts toward the calls-per-second
// limit as Kinesis counts it, so the calls after failures keep the same spacing as the
// calls after successes; an expired iterator (no backoff) and a short retry backoff leave
// the pacer alone to space them.
func TestReaderPacesFailedCalls(t *testing.T) {
	tests := map[string]error{
		"expired iterator": &types.ExpiredIteratorException{Message: aws.String("expired")},
		"internal failure": &types.InternalFailureException{Message: aws.String("internal")},
	}
	for name, failure := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				shard := &scriptedShard{latency: 20 * time.Millisecond, perCall: 5, behind: 3000,
					fail: func(call int) error {
						if call%3 != 0 { // two failures after every success
							return failure
						}
						return nil
					}}
				p, err := New(shard, WithRetryBackoff(time.Millisecond, 10*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				readToDeadline(t, p, 10*time.Second)
				starts := shard.callStarts()
				if len(starts) < 30 {
					t.Fatalf("%d calls in 10 s", len(starts))
				}
				for i := 1; i < len(starts); i++ {
					if gap := starts[i].Sub(starts[i-1]); gap != 200*time.Millisecond {
						t.Fatalf("calls %d and %d started %v apart, want 200ms (call %d failed: %v)", i-1, i, gap, i-1, shard.fail(i-1) != nil)
					}
				}
			})
		})
	}
}

// readToDeadline reads shardId-0 from TRIM_HORIZON for d (of the bubble's time), failing t
// unless its records come as 0, 1, 2, ... and the reader ends with the deadline.
func readToDeadline(t *testing.T, p *Poller, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	r, err := p.ReadShard(ctx, "s", "shardId-0", TrimHorizon())
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for b := range r.Batches() {
		for _, rec := range b.Records {
			if got := aws.ToString(rec.SequenceNumber); got != strconv.Itoa(want) {
				t.Fatalf("record %s, want %d", got, want)
			}
			want++
		}
	}
	if !errors.Is(r.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err %v, want the deadline", r.Err())
	}
}
