package kcl_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/polling"
)

// newConfig is a consumer configuration for the emulators with test-sized timings.
func newConfig(t *testing.T, env *testenv.Env, stream *testenv.Stream, table string) kcl.Config {
	t.Helper()
	return kcl.Config{
		App:                testenv.UniqueName(t, "app"),
		Stream:             stream.Name,
		Kinesis:            env.Kinesis,
		DynamoDB:           env.DynamoDB,
		LeaseTable:         table,
		InitialPosition:    kcl.TrimHorizon,
		FailoverTime:       5 * time.Second,
		ShardSyncInterval:  time.Second,
		ParentPollInterval: 100 * time.Millisecond,
		ShutdownTimeout:    10 * time.Second,
		Logger:             testLogger(t),
	}
}

// mustNew is kcl.New for a configuration the test knows to be valid.
func mustNew(t *testing.T, cfg kcl.Config) *kcl.Consumer {
	t.Helper()
	c, err := kcl.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testLogger logs to the test's output when KCL_TEST_LOG is set, and discards otherwise.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("KCL_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// seen is one user record as a reader got it.
type seen struct {
	// tenure names one holding of one shard's lease by one worker.
	worker, shard, tenure string
	seq                   string
	sub                   uint64
	data                  string
}

// collector records what every reader of one or more consumers got, and checkpoints as told.
type collector struct {
	mu      sync.Mutex
	records []seen
	ends    map[string]error // shard -> why its channel closed (last tenure)
	changed chan struct{}
	// checkpointed is, per tenure/shard, how many of its records the last successful
	// checkpoint covered; failedCheckpoints are the checkpoints that failed.
	checkpointed      map[string]int
	failedCheckpoints []failedCheckpoint
	// started is, per tenure/shard, when the reader received the shard: after the lease
	// was taken.
	started map[string]time.Time
}

// failedCheckpoint is a checkpoint the collector's reader got an error from.
type failedCheckpoint struct {
	shard, tenure string
	err           error
}

func newCollector() *collector {
	return &collector{ends: map[string]error{}, changed: make(chan struct{}, 1), checkpointed: map[string]int{}, started: map[string]time.Time{}}
}

// consume reads every shard of c, checkpointing each batch after recording it, until c's
// Shards closes. It returns when every shard goroutine ended.
func (col *collector) consume(c *kcl.Consumer, worker string, slow time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		var shards sync.WaitGroup
		n := 0
		for shard := range c.Shards() {
			n++
			tenure := fmt.Sprintf("%s#%d", worker, n)
			col.mu.Lock()
			col.started[tenure+"/"+shard.ID()] = time.Now()
			col.mu.Unlock()
			shards.Go(func() {
				for b := range shard.Batches() {
					if slow > 0 {
						time.Sleep(slow)
					}
					col.add(worker, tenure, b)
					col.checkpoint(shard, tenure, b)
				}
				col.mu.Lock()
				col.ends[shard.ID()] = shard.Err()
				col.mu.Unlock()
			})
		}
		shards.Wait()
	})
	return &wg
}

func (col *collector) add(worker, tenure string, b kcl.Batch) {
	col.mu.Lock()
	for _, r := range b.Records {
		col.records = append(col.records, seen{worker: worker, shard: b.ShardID, tenure: tenure, seq: r.SequenceNumber, sub: r.SubSequenceNumber, data: string(r.Data)})
	}
	col.mu.Unlock()
	select {
	case col.changed <- struct{}{}:
	default:
	}
}

// checkpoint checkpoints b as a user would right after processing it, and notes the outcome.
func (col *collector) checkpoint(shard *kcl.Shard, tenure string, b kcl.Batch) {
	err := b.Checkpoint(shard.Context())
	col.mu.Lock()
	defer col.mu.Unlock()
	if err != nil {
		col.failedCheckpoints = append(col.failedCheckpoints, failedCheckpoint{shard: shard.ID(), tenure: tenure, err: err})
		return
	}
	n := 0
	for _, r := range col.records {
		if r.tenure == tenure && r.shard == shard.ID() {
			n++
		}
	}
	col.checkpointed[tenure+"/"+shard.ID()] = n
}

// checkCheckpoints fails t for every checkpoint that failed other than because the shard
// ended under it: its lease lost, the consumer shut down, or its context cancelled.
func (col *collector) checkCheckpoints(t *testing.T) {
	t.Helper()
	col.mu.Lock()
	defer col.mu.Unlock()
	for _, f := range col.failedCheckpoints {
		if !errors.Is(f.err, kcl.ErrLeaseLost) && !errors.Is(f.err, kcl.ErrShutdown) &&
			!errors.Is(f.err, context.Canceled) && !errors.Is(f.err, context.DeadlineExceeded) {
			t.Errorf("tenure %s of shard %s: checkpoint failed: %v", f.tenure, f.shard, f.err)
		}
	}
}

func (col *collector) snapshot() []seen {
	col.mu.Lock()
	defer col.mu.Unlock()
	return append([]seen(nil), col.records...)
}

// waitFor waits until every put record was seen, failing t after d.
func (col *collector) waitFor(t *testing.T, puts []testenv.Put, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		if missing := missingRecords(col.snapshot(), puts); len(missing) == 0 {
			return
		} else {
			select {
			case <-col.changed:
			case <-time.After(200 * time.Millisecond):
			case <-deadline:
				t.Fatalf("after %v, %d of %d records never arrived, e.g. %v", d, len(missing), len(puts), missing[:min(3, len(missing))])
			}
		}
	}
}

func missingRecords(got []seen, puts []testenv.Put) []string {
	have := map[string]bool{}
	for _, s := range got {
		have[s.shard+"/"+s.seq+"/"+s.data] = true
	}
	var missing []string
	for _, p := range puts {
		if !have[p.ShardID+"/"+p.SequenceNumber+"/"+string(p.Data)] {
			missing = append(missing, p.ShardID+"/"+p.SequenceNumber)
		}
	}
	return missing
}

// checkOrder checks that every record seen was put, and that each tenure of a shard saw its
// records in order, each once. A record may repeat in a later tenure (after its lease moved
// before the record was checkpointed) only where failover says leases may have moved.
func checkOrder(t *testing.T, got []seen, puts []testenv.Put, failover bool) {
	t.Helper()
	put := map[string]bool{}
	for _, p := range puts {
		put[p.SequenceNumber+"/"+string(p.Data)] = true
	}
	last := map[string]seen{}
	count := map[string]int{}
	for _, s := range got {
		if !put[s.seq+"/"+s.data] {
			t.Errorf("record %s %q was delivered but never put", s.seq, s.data)
		}
		k := s.tenure + "/" + s.shard
		if prev, ok := last[k]; ok {
			c := testenv.CompareSequenceNumbers(prev.seq, s.seq)
			if c > 0 || (c == 0 && prev.sub >= s.sub) {
				t.Errorf("tenure %s of shard %s: %s/%d after %s/%d: out of order or repeated", s.tenure, s.shard, s.seq, s.sub, prev.seq, prev.sub)
			}
		}
		last[k] = s
		count[s.seq+"/"+s.data]++
	}
	if !failover {
		for k, n := range count {
			if n > 1 {
				t.Errorf("record %s delivered %d times, with no failover", k, n)
			}
		}
	}
}

// checkHandovers checks the duplicates checkOrder allows where leases moved: a record comes
// again only in a later tenure of its shard, and only when no checkpoint of an earlier tenure
// covered it. Each tenure after the first starts after the last record the tenures before it
// checkpointed, and no later than right after the last one they delivered (put order, by
// math/big). Tenures are ordered by when their shard was received, not by their first
// record: an old owner may still deliver until it learns of a steal (issue 18's overlap),
// but every checkpoint it got through was applied before the new owner's take, which read
// it. It also fails t for checkpoints that failed for another reason than the shard ending
// under them.
func (col *collector) checkHandovers(t *testing.T, puts []testenv.Put) {
	t.Helper()
	col.checkCheckpoints(t)
	index := map[string]int{} // shard/seq/data -> position among the shard's puts
	for shard, ps := range testenv.ByShard(puts) {
		for i, p := range ps {
			index[shard+"/"+p.SequenceNumber+"/"+string(p.Data)] = i
		}
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	type tenureRecords struct {
		key       string
		positions []int
	}
	var order []*tenureRecords
	byKey := map[string]*tenureRecords{}
	for _, r := range col.records {
		k := r.tenure + "/" + r.shard
		tr := byKey[k]
		if tr == nil {
			tr = &tenureRecords{key: k}
			byKey[k] = tr
			order = append(order, tr)
		}
		i, ok := index[r.shard+"/"+r.seq+"/"+r.data]
		if !ok {
			continue // checkOrder reports records never put
		}
		tr.positions = append(tr.positions, i)
	}
	slices.SortStableFunc(order, func(a, b *tenureRecords) int { return col.started[a.key].Compare(col.started[b.key]) })
	type shardState struct{ checkpointed, delivered int }
	shards := map[string]*shardState{}
	for _, tr := range order {
		if len(tr.positions) == 0 {
			continue
		}
		shard := tr.key[strings.LastIndex(tr.key, "/")+1:]
		st := shards[shard]
		if st != nil {
			if first := tr.positions[0]; first <= st.checkpointed || first > st.delivered+1 {
				t.Errorf("tenure %s started at record #%d of its shard; the tenures before it checkpointed up to #%d and delivered up to #%d",
					tr.key, first, st.checkpointed, st.delivered)
			}
		} else {
			st = &shardState{checkpointed: -1, delivered: -1}
			shards[shard] = st
		}
		if n := col.checkpointed[tr.key]; n > 0 && n <= len(tr.positions) {
			st.checkpointed = max(st.checkpointed, tr.positions[n-1])
		}
		st.delivered = max(st.delivered, slices.Max(tr.positions))
	}
}

// runConsumer starts c.Run and returns the channel its result arrives on. A test that
// receives from it judges the result itself; when it does not, the result is judged when the
// test ends (after Stop): Run must return nil, or the cause of ctx once ctx ended.
func runConsumer(t *testing.T, ctx context.Context, c *kcl.Consumer) <-chan error {
	t.Helper()
	errc := make(chan error) // unbuffered: a send means the test took the result
	ending := make(chan struct{})
	var unread error
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		err := c.Run(ctx)
		select {
		case errc <- err:
		case <-ending:
			unread = err
		}
	}()
	t.Cleanup(func() {
		_ = c.Stop()
		<-c.Done()
		close(ending)
		<-ran
		if unread != nil && (ctx.Err() == nil || !errors.Is(unread, context.Cause(ctx))) {
			t.Errorf("Run returned %v", unread)
		}
	})
	return errc
}

func shardList(puts []testenv.Put) string {
	var b strings.Builder
	for shard, ps := range testenv.ByShard(puts) {
		fmt.Fprintf(&b, "%s:%d ", shard, len(ps))
	}
	return b.String()
}

// libraryGoroutines lists goroutines running code of the library (not of its tests).
func libraryGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		// Test code and the test-only wrappers are not the library; internal/ctxwait is.
		if strings.Contains(g, "github.com/kclgo/kcl") && !strings.Contains(g, "kcl_test.") &&
			!strings.Contains(g, "kcl/internal/testenv") && !strings.Contains(g, "kcl/internal/faults") &&
			!strings.Contains(g, "kcl/kcltest") {
			found = append(found, g)
		}
	}
	return found
}

// checkNoGoroutinesLeft fails t when library goroutines outlive the consumers, allowing a
// moment for goroutines that are returning.
func checkNoGoroutinesLeft(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		left := libraryGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d library goroutines left after the consumers ended; first:\n%s", len(left), left[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processAll runs c.Process with opts, collecting every batch, until every record put was
// seen (failing t after d); then it drains c and fails t unless Drain and Process both
// return nil. It returns what was collected.
func processAll(t *testing.T, ctx context.Context, c *kcl.Consumer, puts []testenv.Put, d time.Duration, opts ...kcl.ProcessOption) *collector {
	t.Helper()
	col := newCollector()
	done := make(chan error, 1)
	go func() {
		done <- c.Process(ctx, func(_ context.Context, b kcl.Batch) error {
			col.add("w", b.ShardID, b)
			return nil
		}, opts...)
	}()
	col.waitFor(t, puts, d)
	if err := c.Drain(ctx); err != nil {
		t.Errorf("Drain: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("Process: %v", err)
	}
	return col
}

// readAheadOfOne configures a polling consumer of 10 records a call whose poller reads one
// GetRecords response ahead of the reader, and returns it with an observer of its
// GetRecords calls.
func readAheadOfOne(t *testing.T, env *testenv.Env, stream *testenv.Stream, table string) (kcl.Config, *faults.Handle) {
	t.Helper()
	inj := faults.New()
	gets := inj.Add(faults.Rule{Op: "GetRecords"})
	cfg := newConfig(t, env, stream, table)
	cfg.Kinesis = env.NewKinesis(inj.Wrap)
	cfg.Retrieval = kcl.Polling
	cfg.PollingOptions = []polling.Option{polling.WithMaxRecords(10), polling.WithReadAhead(1, 8<<20)}
	return cfg, gets
}
