package polling_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/polling"
)

// quiet is how long a stalled reader is watched for calls it must not make: while behind,
// an unbounded reader makes 5 calls a second.
const quiet = time.Second

// waitCalls waits until inj has seen at least n calls of op, failing t after a minute.
func waitCalls(t *testing.T, inj *faults.Injector, op string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for len(inj.Calls(op)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d %s calls after a minute, want %d", len(inj.Calls(op)), op, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkNoMoreCalls fails t if inj sees more than n calls of op within quiet.
func checkNoMoreCalls(t *testing.T, inj *faults.Injector, op string, n int) {
	t.Helper()
	time.Sleep(quiet)
	if got := len(inj.Calls(op)); got != n {
		t.Fatalf("%d %s calls while the consumer stalled, want %d", got, op, n)
	}
}

// TestStalledConsumerStopsPolling shows both read-ahead bounds: a consumer that does not
// take stops the GetRecords calls once the reader holds the bound's worth of batches (or
// bytes), and a batch it takes lets exactly one more call through.
func TestStalledConsumerStopsPolling(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	// 10 records of the same size a batch: 6 batches, more than either bound lets through.
	records := make([]testenv.Record, 60)
	for i := range records {
		records[i] = testenv.Record{PartitionKey: fmt.Sprintf("pk-%03d", i), Data: fmt.Appendf(nil, "bp-%03d", i)}
	}
	puts := stream.Put(t, records...)
	shardID := puts[0].ShardID
	const batchBytes = 10 * (6 + 6)

	tests := map[string]struct {
		readAhead polling.Option
		held      int // batches held when the calls stop
	}{
		"3 batches":                {polling.WithReadAhead(3, 8<<20), 3},
		"1 batch":                  {polling.WithReadAhead(1, 8<<20), 1},
		"bytes of 2.5 batches":     {polling.WithReadAhead(100, int64(batchBytes*5/2)), 3},
		"bytes below one response": {polling.WithReadAhead(100, 1), 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			inj := faults.New()
			p := newPoller(t, env.NewKinesis(inj.Wrap), polling.WithMaxRecords(10), tc.readAhead)
			r := startReader(t, testenv.WithTimeout(t, time.Minute), p, stream.Name, shardID, polling.TrimHorizon())

			waitCalls(t, inj, "GetRecords", tc.held)
			checkNoMoreCalls(t, inj, "GetRecords", tc.held)

			// Taking one batch lets exactly one more call through.
			recs := next(t, r).Records
			waitCalls(t, inj, "GetRecords", tc.held+1)
			checkNoMoreCalls(t, inj, "GetRecords", tc.held+1)

			recs = append(recs, readCaughtUp(t, r, len(puts)-len(recs))...)
			checkRecords(t, shardID, recs, puts)
		})
	}
}

// TestStalledConsumerHeapStaysBounded puts 2 MiB of records and lets a reader with a
// 512 KiB read-ahead run against a consumer that takes nothing: the heap grows by about
// the read-ahead, not by the stream's size.
func TestStalledConsumerHeapStaysBounded(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	const recordSize, records = 32 << 10, 64 // 2 MiB in 16 responses of 4 (128 KiB each)
	payload := make([]byte, recordSize)
	var puts []testenv.Put
	for i := 0; i < records; i += 32 {
		batch := make([]testenv.Record, 32)
		for j := range batch {
			data := fmt.Appendf(nil, "%05d-", i+j)
			batch[j] = testenv.Record{PartitionKey: "k", Data: append(data, payload[len(data):]...)}
		}
		puts = append(puts, stream.Put(t, batch...)...)
	}
	shardID := puts[0].ShardID

	inj := faults.New()
	p := newPoller(t, env.NewKinesis(inj.Wrap), polling.WithMaxRecords(4), polling.WithReadAhead(100, 512<<10))
	before := heapInUse()
	r := startReader(t, testenv.WithTimeout(t, time.Minute), p, stream.Name, shardID, polling.TrimHorizon())
	waitCalls(t, inj, "GetRecords", 4) // 4 responses of 128 KiB hold 512 KiB
	checkNoMoreCalls(t, inj, "GetRecords", 4)
	grown := int64(heapInUse()) - int64(before)
	t.Logf("heap grew by %.2f MiB with %.2f MiB put and a stalled consumer", float64(grown)/(1<<20), float64(records*recordSize)/(1<<20))
	// The reader holds 512 KiB of records; allow the SDK, HTTP and test overhead 768 KiB
	// more, still well below the 2 MiB an unbounded reader would hold.
	if grown > 5<<18 {
		t.Fatalf("heap grew by %d bytes with a 512 KiB read-ahead", grown)
	}

	got := readCaughtUp(t, r, len(puts))
	checkRecords(t, shardID, got, puts)
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
