package leases

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
)

// The coordinator against a real table (dynalite), several coordinators in one process.

// countingDDB counts the calls that reach DynamoDB, by operation.
type countingDDB struct {
	DynamoDBAPI
	mu    sync.Mutex
	calls map[string]int
}

func newCountingDDB(ddb DynamoDBAPI) *countingDDB {
	return &countingDDB{DynamoDBAPI: ddb, calls: map[string]int{}}
}

func (c *countingDDB) count(op string) {
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
}

func (c *countingDDB) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.calls))
	for k, v := range c.calls {
		m[k] = v
	}
	return m
}

func (c *countingDDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.count("GetItem")
	return c.DynamoDBAPI.GetItem(ctx, in, o...)
}

func (c *countingDDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.count("UpdateItem")
	return c.DynamoDBAPI.UpdateItem(ctx, in, o...)
}

func (c *countingDDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.count("PutItem")
	return c.DynamoDBAPI.PutItem(ctx, in, o...)
}

func (c *countingDDB) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.count("Scan")
	return c.DynamoDBAPI.Scan(ctx, in, o...)
}

func createLeases(t testing.TB, tbl *Table, n int) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range n {
		l := leaseN(i)
		if _, err := tbl.CreateLeaseIfAbsent(t.Context(), l); err != nil {
			t.Fatal(err)
		}
		keys[i] = l.Key
	}
	return keys
}

func tableOwners(t testing.TB, tbl *Table) map[string]int {
	t.Helper()
	leases, _, err := tbl.ListLeases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, l := range leases {
		m[l.Owner]++
	}
	return m
}

// takerLog records taker cycles and acquisitions with their times.
type takerLog struct {
	NoMetrics
	mu       sync.Mutex
	cycles   []cycleSpan
	acquired []time.Time
}

type cycleSpan struct{ start, end time.Time }

func (m *takerLog) TakerCycle(_ TakerStats, d time.Duration) {
	end := time.Now()
	m.mu.Lock()
	m.cycles = append(m.cycles, cycleSpan{start: end.Add(-d), end: end})
	m.mu.Unlock()
}

func (m *takerLog) LeaseAcquired(string, bool) {
	m.mu.Lock()
	m.acquired = append(m.acquired, time.Now())
	m.mu.Unlock()
}

// firstCycleEndAfter is the end of the first cycle that started after t.
func (m *takerLog) firstCycleEndAfter(t time.Time) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.cycles {
		if c.start.After(t) {
			return c.end, true
		}
	}
	return time.Time{}, false
}

func (m *takerLog) acquiredAfter(t time.Time) []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []time.Time
	for _, a := range m.acquired {
		if a.After(t) {
			out = append(out, a)
		}
	}
	return out
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(25 * time.Millisecond)
	}
	return time.Since(start)
}

// Three coordinators over 12 leases settle at 4/4/4; one stopping gracefully hands its
// leases to the other two within one taker cycle of theirs.
func TestThreeCoordinatorsConvergeAndHandOver(t *testing.T) {
	env := testenv.New(t)
	tbl := newTestTable(t, env)
	createLeases(t, tbl, 12)
	const failover, taker = 4 * time.Second, 300 * time.Millisecond

	names := []string{"A", "B", "C"}
	runs := map[string]*running{}
	logs := map[string]*takerLog{}
	for _, n := range names {
		logs[n] = &takerLog{}
		runs[n] = startRun(t, tbl, n, WithFailoverTime(failover), WithTakerInterval(taker), WithMetrics(logs[n]))
	}
	balanced := func() bool {
		o := tableOwners(t, tbl)
		for _, n := range names {
			if o[n] != 4 || len(runs[n].c.Held()) != 4 {
				return false
			}
		}
		return true
	}
	took := waitFor(t, 20*time.Second, "4/4/4", balanced)
	t.Logf("converged to 4/4/4 in %v", took.Round(time.Millisecond))
	time.Sleep(5 * taker) // it stays so
	if !balanced() {
		t.Fatalf("not stable: %v", tableOwners(t, tbl))
	}

	// C writes its final checkpoints, then shuts down.
	final := map[string]checkpointer.ExtendedSequenceNumber{}
	for i, l := range runs["C"].c.Held() {
		p := seqN(t, 100+i)
		if err := runs["C"].c.Checkpoint(t.Context(), l.Key, p); err != nil {
			t.Fatal(err)
		}
		final[l.Key] = p
	}
	if err := runs["C"].c.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	released := time.Now()
	if err := <-runs["C"].errc; err != nil {
		t.Fatalf("C's Run: %v", err)
	}
	handover := waitFor(t, failover, "A and B own all 12", func() bool {
		o := tableOwners(t, tbl)
		return o["A"]+o["B"] == 12
	})
	t.Logf("handover after graceful shutdown: %v (taker interval %v, failover %v)", handover.Round(time.Millisecond), taker, failover)
	// Every lease C released was taken in A's or B's first cycle started after the release
	// (or earlier): within one taker cycle.
	// A cycle's takes reach the table before the cycle ends and reports itself: wait for
	// both reports.
	waitFor(t, failover, "A and B report a cycle after the release", func() bool {
		_, a := logs["A"].firstCycleEndAfter(released)
		_, b := logs["B"].firstCycleEndAfter(released)
		return a && b
	})
	var deadline time.Time
	for _, n := range []string{"A", "B"} {
		end, _ := logs[n].firstCycleEndAfter(released)
		if end.After(deadline) {
			deadline = end
		}
	}
	var acquired []time.Time
	for _, n := range []string{"A", "B"} {
		acquired = append(acquired, logs[n].acquiredAfter(released)...)
	}
	if len(acquired) != 4 {
		t.Fatalf("%d acquisitions after the release, want 4", len(acquired))
	}
	for _, a := range acquired {
		if a.After(deadline) {
			t.Fatalf("a released lease was taken %v after the release, later than the survivors' first cycle (%v)",
				a.Sub(released), deadline.Sub(released))
		}
	}
	for key, p := range final {
		if got := mustGet(t, tbl, key).Checkpoint; got != p {
			t.Fatalf("%s: checkpoint %v, want C's final %v", key, got, p)
		}
	}
	waitFor(t, 10*time.Second, "6/6", func() bool {
		o := tableOwners(t, tbl)
		return o["A"] == 6 && o["B"] == 6
	})
	for _, n := range []string{"A", "B"} {
		if err := runs[n].stop(); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	}
}

// A worker whose lease was stolen cannot checkpoint over the new owner, even before its
// renewer noticed; and it learns so at once.
func TestStaleOwnerFencedByTable(t *testing.T) {
	env := testenv.New(t)
	ddb := newCountingDDB(env.DynamoDB)
	tbl := newTestTableWith(t, ddb, env.LeaseTable(t))
	keys := createLeases(t, tbl, 1)
	r := startRun(t, tbl, "A", WithFailoverTime(20*time.Second)) // no renewal during the test
	log := logEvents(r.c)
	waitFor(t, 10*time.Second, "A holds the lease", func() bool { return len(r.c.Held()) == 1 })
	if err := r.c.Checkpoint(t.Context(), keys[0], seqN(t, 1)); err != nil {
		t.Fatal(err)
	}
	// B steals it (as B's taker would) and checkpoints.
	if _, err := tbl.take(t.Context(), mustGet(t, tbl, keys[0]), "B"); err != nil {
		t.Fatal(err)
	}
	stolen := mustGet(t, tbl, keys[0])
	if err := tbl.checkpoint(t.Context(), keys[0], "B", stolen.Counter, seqN(t, 5), nil); err != nil {
		t.Fatal(err)
	}
	err := r.c.Checkpoint(t.Context(), keys[0], seqN(t, 3))
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("stale owner's checkpoint: %v", err)
	}
	if got := mustGet(t, tbl, keys[0]); got.Owner != "B" || got.Checkpoint != seqN(t, 5) {
		t.Fatalf("row after the stale checkpoint: %+v", got)
	}
	waitFor(t, time.Second, "Lost event", func() bool { return log.count(Lost) == 1 })
	if ev := log.snapshot()[1]; ev.Reason != LostTaken || ev.NewOwner != "B" {
		t.Fatalf("lost event %+v", ev)
	}
	before := ddb.snapshot()["UpdateItem"]
	if err := r.c.Checkpoint(t.Context(), keys[0], seqN(t, 4)); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("again: %v", err)
	}
	if after := ddb.snapshot()["UpdateItem"]; after != before {
		t.Fatalf("a checkpoint of a lost lease called UpdateItem (%d -> %d)", before, after)
	}
	if err := r.stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// Rows that are not leases (KCL 3.5) or are corrupt stay exactly as they were while a
// coordinator takes, renews, checkpoints and releases the leases around them.
func TestCoordinatorLeavesForeignRowsAlone(t *testing.T) {
	env := testenv.New(t)
	tbl := newTestTable(t, env)
	foreign := map[string]map[string]types.AttributeValue{}
	for _, it := range loadSharedItems(t) {
		if it.Expect.Kind == "lease" {
			continue
		}
		raw := attributeValues(t, it.Item)
		putRaw(t, env.DynamoDB, tbl.Name(), raw)
		foreign[raw[attrLeaseKey].(*types.AttributeValueMemberS).Value] = raw
	}
	keys := createLeases(t, tbl, 3)
	m := &recordingMetrics{}
	r := startRun(t, tbl, "A", WithFailoverTime(3*time.Second), WithTakerInterval(200*time.Millisecond), WithMetrics(m))
	waitFor(t, 10*time.Second, "A holds 3", func() bool { return len(r.c.Held()) == 3 })
	for i, k := range keys {
		if err := r.c.Checkpoint(t.Context(), k, seqN(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second) // renewals and taker cycles
	if err := r.c.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-r.errc; err != nil {
		t.Fatal(err)
	}
	for key, want := range foreign {
		got := rawItem(t, env.DynamoDB, tbl.Name(), key)
		if len(got) != len(want) {
			t.Fatalf("row %s changed: %v -> %v", key, attrTypes(want), attrTypes(got))
		}
		for name, w := range want {
			if !sameValue(got[name], w) {
				t.Fatalf("row %s attribute %s changed", key, name)
			}
		}
	}
	m.mu.Lock()
	reported := len(m.skipped)
	m.mu.Unlock()
	if reported < len(foreign) {
		t.Fatalf("%d skipped rows reported, want at least %d", reported, len(foreign))
	}
	if o := tableOwners(t, tbl); o[""] != 3 {
		t.Fatalf("owners after shutdown %v", o)
	}
}

// DynamoDB throttling (all three kinds) and writes applied whose answer was lost, injected
// into a third of the UpdateItem calls: no checkpoint is lost, none goes backwards, and the
// leases stay held.
func TestThrottlingLosesNoCheckpoint(t *testing.T) {
	env := testenv.New(t)
	inj := faults.New()
	// The SDK's default retryer sleeps up to 2 s and 4 s between its attempts at a throttled
	// call; that works too (the test then takes ~30 s), but a short cap keeps the suite fast.
	ddb := env.NewDynamoDB(inj.Wrap, func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts, so.MaxBackoff = 3, 100*time.Millisecond })
	})
	tbl := newTestTableWith(t, ddb, env.LeaseTable(t))
	keys := createLeases(t, tbl, 4)
	r := startRun(t, tbl, "A", WithFailoverTime(6*time.Second), WithTakerInterval(500*time.Millisecond))
	log := logEvents(r.c)
	waitFor(t, 10*time.Second, "A holds 4", func() bool { return log.count(Acquired) == 4 })

	var n, faultedCheckpoints, resetCheckpoints atomic.Int64
	pattern := []faults.Fault{faults.Throttle(), nil, faults.Throttling(), nil, faults.RequestLimitExceeded(), faults.ResetAfter(), nil, nil, nil}
	rule := inj.Add(faults.Rule{Op: "UpdateItem", Fault: faults.FaultFunc(func(call faults.Call, req *http.Request, next http.RoundTripper) (*http.Response, error) {
		f := pattern[int(n.Add(1))%len(pattern)]
		if f == nil {
			return next.RoundTrip(req)
		}
		if bytes.Contains(call.Body, []byte(`"checkpointSubSequenceNumber"`)) {
			faultedCheckpoints.Add(1)
			if _, reset := f.(faults.Reset); reset {
				resetCheckpoints.Add(1)
			}
		}
		return f.Inject(call, req, next)
	})})

	const perLease = 25
	last := make([]checkpointer.ExtendedSequenceNumber, len(keys))
	var wg sync.WaitGroup
	for i, ev := range log.snapshot() {
		wg.Go(func() {
			cp, err := r.c.NewCheckpointer(ev, checkpointer.WithThrottleBackoff(5*time.Millisecond, 50*time.Millisecond))
			if err != nil {
				t.Error(err)
				return
			}
			for j := range perLease {
				p := seqN(t, i*1000+j+1)
				if err := cp.Delivered(p); err != nil {
					t.Error(err)
					return
				}
				if err := cp.Checkpoint(t.Context()); err != nil {
					t.Errorf("%s checkpoint %d: %v", ev.Lease.Key, j, err)
					return
				}
			}
			last[i] = cp.LastCheckpoint()
			if row := mustGet(t, tbl, ev.Lease.Key); row.Checkpoint != last[i] {
				t.Errorf("%s: table has %v, checkpointer wrote %v", ev.Lease.Key, row.Checkpoint, last[i])
			}
		})
	}
	wg.Wait()
	rule.Remove()
	if log.count(Lost) != 0 {
		t.Fatalf("leases lost under throttling: %+v", log.snapshot())
	}
	if faultedCheckpoints.Load() < 10 || resetCheckpoints.Load() == 0 {
		t.Fatalf("only %d checkpoint writes were hit (%d applied, then reset): the test did not test much",
			faultedCheckpoints.Load(), resetCheckpoints.Load())
	}
	t.Logf("%d UpdateItem calls; faults injected into %d checkpoint writes (%d applied, then reset)",
		n.Load(), faultedCheckpoints.Load(), resetCheckpoints.Load())
	if err := r.c.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-r.errc; err != nil {
		t.Fatal(err)
	}
	leases, _, err := tbl.ListLeases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(leases, func(i, j int) bool { return leases[i].Key < leases[j].Key })
	for _, l := range leases {
		if l.Owner != "" || !l.Checkpoint.IsSequenceNumber() {
			t.Fatalf("after shutdown: %+v", l)
		}
	}
}
