package polling_test

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/polling"
)

// fastRetries keeps fault tests short.
var fastRetries = polling.WithRetryBackoff(5*time.Millisecond, 50*time.Millisecond)

// metricsLog counts what a reader reports.
type metricsLog struct {
	mu        sync.Mutex
	records   int
	throttles int
}

func (m *metricsLog) OnGetRecords(_ string, records, _ int, _ int64, _ time.Duration) {
	m.mu.Lock()
	m.records += records
	m.mu.Unlock()
}

func (m *metricsLog) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.records
}

func (m *metricsLog) OnThrottle(string) {
	m.mu.Lock()
	m.throttles++
	m.mu.Unlock()
}

// iteratorRequest is what the reader asked GetShardIterator for.
type iteratorRequest struct {
	ShardIteratorType      string
	StartingSequenceNumber string
}

func iteratorRequests(t *testing.T, inj *faults.Injector) []iteratorRequest {
	t.Helper()
	var reqs []iteratorRequest
	for _, c := range inj.Calls("GetShardIterator") {
		var r iteratorRequest
		if err := json.Unmarshal(c.Body, &r); err != nil {
			t.Fatalf("GetShardIterator body %s: %v", c.Body, err)
		}
		reqs = append(reqs, r)
	}
	return reqs
}

// TestRecoverableFaults injects each fault a reader recovers from and checks that exactly
// the records put arrive, in order, and that the reader asked for iterators where it must.
func TestRecoverableFaults(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	puts := stream.PutN(t, "fault", 60) // 10 a batch
	shardID := puts[0].ShardID
	trimHorizon := iteratorRequest{ShardIteratorType: "TRIM_HORIZON"}
	// After the second batch: right after its last record.
	afterTwo := iteratorRequest{ShardIteratorType: "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber: puts[19].SequenceNumber}
	atFive := iteratorRequest{ShardIteratorType: "AT_SEQUENCE_NUMBER", StartingSequenceNumber: puts[5].SequenceNumber}

	tests := map[string]struct {
		rule       faults.Rule
		start      polling.StartPosition
		want       []testenv.Put
		sdkRetries bool
		opts       []polling.Option
		iterators  []iteratorRequest // the GetShardIterator calls the reader must make
		throttles  int
	}{
		"GetRecords throttled": {
			rule:      faults.Rule{Op: "GetRecords", Skip: 2, Times: 3, Fault: faults.Throttle()},
			iterators: []iteratorRequest{trimHorizon}, throttles: 3,
		},
		// The client retries on its own, but the reader makes every call a single attempt:
		// each throttle goes through its pacer and metrics.
		"GetRecords throttled on a client with SDK retries": {
			rule:       faults.Rule{Op: "GetRecords", Skip: 2, Times: 5, Fault: faults.Throttle()},
			sdkRetries: true, iterators: []iteratorRequest{trimHorizon}, throttles: 5,
		},
		"GetRecords KMS throttled": {
			rule:      faults.Rule{Op: "GetRecords", Skip: 1, Times: 2, Fault: faults.APIError{Kinesis: "KMSThrottlingException"}},
			iterators: []iteratorRequest{trimHorizon}, throttles: 2,
		},
		"GetShardIterator throttled": {
			rule:      faults.Rule{Op: "GetShardIterator", Times: 2, Fault: faults.Throttle()},
			iterators: []iteratorRequest{trimHorizon, trimHorizon, trimHorizon}, throttles: 2,
		},
		"GetShardIterator limit exceeded": {
			rule:      faults.Rule{Op: "GetShardIterator", Times: 1, Fault: faults.LimitExceeded()},
			iterators: []iteratorRequest{trimHorizon, trimHorizon}, throttles: 1,
		},
		"iterator expires after records": {
			rule:      faults.Rule{Op: "GetRecords", Skip: 2, Times: 1, Fault: faults.ExpireIterator()},
			iterators: []iteratorRequest{trimHorizon, afterTwo},
		},
		"iterator expires twice after records": {
			rule:      faults.Rule{Op: "GetRecords", Skip: 2, Times: 2, Fault: faults.ExpireIterator()},
			iterators: []iteratorRequest{trimHorizon, afterTwo, afterTwo},
		},
		"iterator expires before any record": {
			rule:  faults.Rule{Op: "GetRecords", Times: 2, Fault: faults.ExpireIterator()},
			start: polling.AtSequenceNumber(puts[5].SequenceNumber), want: puts[5:],
			iterators: []iteratorRequest{atFive, atFive, atFive},
		},
		"internal failure": {
			rule:      faults.Rule{Op: "GetRecords", Skip: 2, Times: 2, Fault: faults.InternalFailure()},
			iterators: []iteratorRequest{trimHorizon},
		},
		"internal failure 3 times renews the iterator": {
			rule:      faults.Rule{Op: "GetRecords", Skip: 2, Times: 3, Fault: faults.InternalFailure()},
			iterators: []iteratorRequest{trimHorizon, afterTwo},
		},
		"HTTP 500 unknown error": {
			rule:      faults.Rule{Op: "GetRecords", Skip: 2, Times: 1, Fault: faults.APIError{Kinesis: "UnknownError", Status: 500}},
			iterators: []iteratorRequest{trimHorizon},
		},
		"connection reset before the request": {
			rule:      faults.Rule{Op: "GetRecords", Skip: 2, Times: 2, Fault: faults.ResetBefore()},
			iterators: []iteratorRequest{trimHorizon},
		},
		// The emulator answered, the answer was lost: reading again with the same iterator
		// gives the same records, which must not arrive twice.
		"connection reset after the response": {
			rule:      faults.Rule{Op: "GetRecords", Skip: 2, Times: 2, Fault: faults.ResetAfter()},
			iterators: []iteratorRequest{trimHorizon},
		},
		"connection reset mid-body": {
			rule:      faults.Rule{Op: "GetRecords", Skip: 2, Times: 2, Fault: faults.ResetMidBody(100)},
			iterators: []iteratorRequest{trimHorizon},
		},
		"connection resets on a client with SDK retries": {
			rule:       faults.Rule{Op: "GetRecords", Skip: 2, Times: 4, Fault: faults.ResetAfter()},
			sdkRetries: true, iterators: []iteratorRequest{trimHorizon, afterTwo}, // 3 in a row renew the iterator
		},
		"GetShardIterator connection reset": {
			rule:      faults.Rule{Op: "GetShardIterator", Times: 2, Fault: faults.ResetBefore()},
			iterators: []iteratorRequest{trimHorizon, trimHorizon, trimHorizon},
		},
		"GetRecords stalls past the call timeout": {
			rule:      faults.Rule{Op: "GetRecords", Skip: 2, Times: 1, Fault: faults.Stall{For: time.Hour}},
			opts:      []polling.Option{polling.WithCallTimeout(3 * time.Second)},
			iterators: []iteratorRequest{trimHorizon},
		},
		"GetShardIterator stalls past the call timeout": {
			rule:      faults.Rule{Op: "GetShardIterator", Times: 1, Fault: faults.Stall{For: time.Hour, BeforeRequest: true}},
			opts:      []polling.Option{polling.WithCallTimeout(3 * time.Second)},
			iterators: []iteratorRequest{trimHorizon, trimHorizon},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each subtest has its own client and injector; the stream is only read
			if tc.start.Type == "" {
				tc.start, tc.want = polling.TrimHorizon(), puts
			}
			inj := faults.New()
			h := inj.Add(tc.rule)
			client, _ := newFaultyClient(env, inj, tc.sdkRetries)
			metrics := &metricsLog{}
			opts := append([]polling.Option{polling.WithMaxRecords(10), fastRetries, polling.WithMetrics(metrics)}, tc.opts...)
			p := newPoller(t, client, opts...)
			r := startReader(t, testenv.WithTimeout(t, time.Minute), p, stream.ARN, shardID, tc.start)

			checkRecords(t, shardID, readCaughtUp(t, r, len(tc.want)), tc.want)
			if want := tc.rule.Times; h.Hits() != want {
				t.Fatalf("fault injected %d times, want %d", h.Hits(), want)
			}
			got := iteratorRequests(t, inj)
			if len(got) != len(tc.iterators) {
				t.Fatalf("GetShardIterator calls %+v, want %+v", got, tc.iterators)
			}
			for i := range got {
				if got[i] != tc.iterators[i] {
					t.Fatalf("GetShardIterator call %d: %+v, want %+v", i, got[i], tc.iterators[i])
				}
			}
			metrics.mu.Lock()
			defer metrics.mu.Unlock()
			if metrics.throttles != tc.throttles {
				t.Errorf("OnThrottle called %d times, want %d", metrics.throttles, tc.throttles)
			}
			if metrics.records != len(tc.want) {
				t.Errorf("OnGetRecords counted %d records, want %d", metrics.records, len(tc.want))
			}
		})
	}
}

// TestPermanentFaults ends the reader with a PermanentError carrying the shard and
// unwrapping to the SDK's error, after it handed on every record read before the fault,
// and without further calls.
func TestPermanentFaults(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	puts := stream.PutN(t, "perm", 40)
	shardID := puts[0].ShardID

	tests := map[string]struct {
		rule  faults.Rule
		op    string
		want  []testenv.Put
		check func(error) bool
	}{
		"GetRecords access denied": {
			rule: faults.Rule{Op: "GetRecords", Skip: 2, Fault: faults.AccessDenied()},
			op:   "GetRecords", want: puts[:20],
			check: func(err error) bool { var e *types.AccessDeniedException; return errors.As(err, &e) },
		},
		"GetShardIterator access denied": {
			rule:  faults.Rule{Op: "GetShardIterator", Fault: faults.AccessDenied()},
			op:    "GetShardIterator",
			check: func(err error) bool { var e *types.AccessDeniedException; return errors.As(err, &e) },
		},
		"GetRecords stream not found": {
			rule: faults.Rule{Op: "GetRecords", Skip: 1, Fault: faults.ResourceNotFound()},
			op:   "GetRecords", want: puts[:10],
			check: func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) },
		},
		"GetRecords invalid argument": {
			rule: faults.Rule{Op: "GetRecords", Skip: 3, Fault: faults.APIError{Kinesis: "InvalidArgumentException"}},
			op:   "GetRecords", want: puts[:30],
			check: func(err error) bool { var e *types.InvalidArgumentException; return errors.As(err, &e) },
		},
		"GetRecords KMS access denied": {
			rule:  faults.Rule{Op: "GetRecords", Fault: faults.APIError{Kinesis: "KMSAccessDeniedException"}},
			op:    "GetRecords",
			check: func(err error) bool { var e *types.KMSAccessDeniedException; return errors.As(err, &e) },
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each subtest has its own client and injector; the stream is only read
			inj := faults.New()
			h := inj.Add(tc.rule)
			client, _ := newFaultyClient(env, inj, true)
			p := newPoller(t, client, polling.WithMaxRecords(10), fastRetries)
			r := startReader(t, testenv.WithTimeout(t, time.Minute), p, stream.Name, shardID, polling.TrimHorizon())

			got, last := readToEnd(t, r)
			checkRecords(t, shardID, got, tc.want)
			if last.ShardEnd {
				t.Fatal("a shard end on an open shard")
			}
			var pe *polling.PermanentError
			if err := r.Err(); !errors.As(err, &pe) || pe.ShardID != shardID || pe.Op != tc.op || !tc.check(err) {
				t.Fatalf("Err %v (%T), want a PermanentError of %s for shard %s wrapping the SDK's error", err, err, tc.op, shardID)
			}
			if h.Hits() != 1 {
				t.Fatalf("the reader made %d calls that got the permanent error, want 1", h.Hits())
			}
		})
	}
}

// TestFailedCallsArePaced: through the real emulator, calls that fail (an expired iterator,
// which needs no backoff; an internal failure with a backoff far below the spacing) still
// count toward the 5 calls per second: no two GetRecords calls the injector saw came closer
// than 200 ms, less a margin for the time the SDK takes to prepare a request.
func TestFailedCallsArePaced(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	puts := stream.PutN(t, "paced", 30)
	shardID := puts[0].ShardID
	tests := map[string]faults.Fault{
		"expired iterator": faults.ExpireIterator(),
		"internal failure": faults.InternalFailure(),
	}
	for name, fault := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			inj := faults.New()
			h := inj.Add(faults.Rule{Op: "GetRecords", Skip: 1, Times: 4, Fault: fault})
			client, _ := newFaultyClient(env, inj, false)
			p := newPoller(t, client, polling.WithMaxRecords(10), fastRetries)
			r := startReader(t, testenv.WithTimeout(t, time.Minute), p, stream.ARN, shardID, polling.TrimHorizon())
			checkRecords(t, shardID, readCaughtUp(t, r, len(puts)), puts)
			if h.Hits() != 4 {
				t.Fatalf("fault injected %d times, want 4", h.Hits())
			}
			calls := inj.Calls("GetRecords")
			for i := 1; i < len(calls); i++ {
				if gap := calls[i].Time.Sub(calls[i-1].Time); gap < 150*time.Millisecond {
					t.Fatalf("GetRecords calls %d and %d came %v apart, want about 200ms", i-1, i, gap)
				}
			}
		})
	}
}
