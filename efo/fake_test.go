package efo

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// A scripted SubscribeToShard for the timing tests, which run in synctest bubbles where the
// emulator cannot be reached. It imitates only what the subscription sees of the SDK: a call
// that fails or opens an event stream, and the stream's events, end and error.

// fakeCall is one SubscribeToShard call the fake saw.
type fakeCall struct {
	at    time.Time
	start StartPosition
}

// fakeKinesis answers call n (0-based) with script(n, start).
type fakeKinesis struct {
	script func(n int, start StartPosition) (*fakeStream, error)

	mu    sync.Mutex
	calls []fakeCall
}

func (f *fakeKinesis) subscribe(ctx context.Context, in *kinesis.SubscribeToShardInput) (eventStream, transportInfo, error) {
	start := StartPosition{Type: in.StartingPosition.Type, SequenceNumber: aws.ToString(in.StartingPosition.SequenceNumber)}
	if in.StartingPosition.Timestamp != nil {
		start.Timestamp = *in.StartingPosition.Timestamp
	}
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, fakeCall{at: time.Now(), start: start})
	f.mu.Unlock()
	s, err := f.script(n, start)
	if err != nil {
		return nil, transportInfo{}, err
	}
	s.run(ctx)
	return s, transportInfo{}, nil
}

func (f *fakeKinesis) callLog() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

// fakeStream sends its events, then ends with err (nil: a clean end) unless hang is set, in
// which case it stays silent until closed. sent counts the events the reader took.
type fakeStream struct {
	events []types.SubscribeToShardEventStream
	err    error
	hang   bool
	// endless, when set, makes events without end: event i is endless(i).
	endless func(i int) types.SubscribeToShardEventStream

	ch     chan types.SubscribeToShardEventStream
	closed chan struct{}
	once   sync.Once
	mu     sync.Mutex
	sent   int
	final  error
}

func (s *fakeStream) run(ctx context.Context) {
	s.ch = make(chan types.SubscribeToShardEventStream)
	s.closed = make(chan struct{})
	go func() {
		var final error
		defer func() {
			s.mu.Lock()
			s.final = final
			s.mu.Unlock()
			close(s.ch)
		}()
		next := func(i int) (types.SubscribeToShardEventStream, bool) {
			if s.endless != nil {
				return s.endless(i), true
			}
			if i < len(s.events) {
				return s.events[i], true
			}
			return nil, false
		}
		for i := 0; ; i++ {
			ev, ok := next(i)
			if !ok {
				break
			}
			select {
			case s.ch <- ev:
				s.mu.Lock()
				s.sent++
				s.mu.Unlock()
			case <-s.closed:
				return
			case <-ctx.Done():
				final = ctx.Err()
				return
			}
		}
		if s.hang {
			select {
			case <-s.closed:
			case <-ctx.Done():
				final = ctx.Err()
			}
			return
		}
		final = s.err
	}()
}

func (s *fakeStream) Events() <-chan types.SubscribeToShardEventStream { return s.ch }
func (s *fakeStream) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}
func (s *fakeStream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.final
}
func (s *fakeStream) taken() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// event makes a SubscribeToShardEvent holding records with the given sequence numbers;
// cont "" makes it the final event of a closed shard.
func event(cont string, seqs ...int) types.SubscribeToShardEventStream {
	e := types.SubscribeToShardEvent{MillisBehindLatest: aws.Int64(0)}
	for _, s := range seqs {
		e.Records = append(e.Records, types.Record{SequenceNumber: aws.String(seq(s)), Data: []byte(seq(s)), PartitionKey: aws.String("k")})
	}
	if cont != "" {
		e.ContinuationSequenceNumber = aws.String(cont)
	}
	return &types.SubscribeToShardEventStreamMemberSubscribeToShardEvent{Value: e}
}

// seq is a valid sequence number for small n, ordered as n.
func seq(n int) string { return fmt.Sprintf("4968%020d", n) }

// fakeConsumer is a Consumer whose calls go to f.
func fakeConsumer(t testing.TB, f *fakeKinesis, opts ...Option) *Consumer {
	t.Helper()
	cfg, err := newConfig(append([]Option{WatchRepeats(t)}, opts...))
	if err != nil {
		t.Fatal(err)
	}
	return newConsumer(f.subscribe, "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:1", "arn:aws:kinesis:us-east-1:123456789012:stream/s", "c", cfg)
}

// drain takes every batch until Batches closes and returns the records' sequence numbers.
func drain(s *Subscription) ([]string, []Batch) {
	var got []string
	var batches []Batch
	for b := range s.Batches() {
		batches = append(batches, b)
		for _, r := range b.Records {
			got = append(got, aws.ToString(r.SequenceNumber))
		}
	}
	return got, batches
}

func seqRange(from, to int) []string {
	var s []string
	for i := from; i <= to; i++ {
		s = append(s, seq(i))
	}
	return s
}
