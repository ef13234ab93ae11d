package leases

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/internal/testenv"
)

// Worker processes: the test binary runs itself again as TestWorkerProcess, a worker that
// checkpoints every lease it holds every 50 ms and reports on stdout (JSON lines). The
// parent kills, pauses and resumes it with signals and checks the lease table.

const envWorkerConfig = "KCL_LEASES_TEST_WORKER"

type workerConfig struct {
	Table    string
	ID       string
	Index    int64 // the sub-sequence number of this worker's checkpoints, to tell them apart
	Failover time.Duration
	Taker    time.Duration
	MaxSteal int
}

// workerLine is one report of a worker process.
type workerLine struct {
	Ev     string `json:"ev"` // acquired, lost, checkpoint, final, exit
	Key    string `json:"key,omitempty"`
	Seq    string `json:"seq,omitempty"`
	Sub    int64  `json:"sub,omitempty"`
	OK     bool   `json:"ok,omitempty"`
	Lost   bool   `json:"lost,omitempty"`
	Start  int64  `json:"start,omitempty"` // wall clock of a checkpoint attempt's start, ns
	Reason string `json:"reason,omitempty"`
	Err    string `json:"err,omitempty"`
}

// TestWorkerProcess is the worker; it only runs when a multi-process test starts it.
func TestWorkerProcess(t *testing.T) {
	raw := os.Getenv(envWorkerConfig)
	if raw == "" {
		t.Skip("runs only as a worker process started by the multi-process tests")
	}
	var cfg workerConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	env := testenv.New(t)
	tbl, err := NewTable(env.DynamoDB, cfg.Table)
	if err != nil {
		t.Fatal(err)
	}
	coord, err := NewCoordinator(tbl, cfg.ID, WithFailoverTime(cfg.Failover), WithTakerInterval(cfg.Taker),
		WithMaxLeasesToStealAtOneTime(cfg.MaxSteal))
	if err != nil {
		t.Fatal(err)
	}
	var outMu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	report := func(l workerLine) {
		outMu.Lock()
		defer outMu.Unlock()
		_ = enc.Encode(l)
	}

	term, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stopSignals()
	runErr := make(chan error, 1)
	go func() { runErr <- coord.Run(context.Background()) }()

	work, stopWork := context.WithCancel(context.Background())
	var shards sync.WaitGroup
	var finalsMu sync.Mutex
	finals := map[string]checkpointer.ExtendedSequenceNumber{}
	checkpoint := func(ctx context.Context, cp *checkpointer.Checkpointer, key string) error {
		// Wall-clock positions grow across processes on one machine, as a shard's do.
		p, err := checkpointer.ParseSequenceNumber(fmt.Sprintf("4959%020d", time.Now().UnixNano()), cfg.Index)
		if err == nil {
			err = cp.Delivered(p)
		}
		if err != nil {
			report(workerLine{Ev: "checkpoint", Key: key, Err: err.Error()})
			return err
		}
		start := time.Now()
		err = cp.Checkpoint(ctx)
		l := workerLine{Ev: "checkpoint", Key: key, Seq: p.SequenceNumber(), Sub: p.SubSequenceNumber(),
			OK: err == nil, Lost: errors.Is(err, ErrLeaseLost), Start: start.UnixNano()}
		if err != nil {
			l.Err = err.Error()
		} else {
			finalsMu.Lock()
			finals[key] = p
			finalsMu.Unlock()
		}
		report(l)
		return err
	}
	// A shard loop checkpoints until its lease is lost. It ignores the tenure's Done channel
	// on purpose, like an application slow to notice, so that the fencing is what stops it.
	shard := func(ev Event) {
		cp, err := coord.NewCheckpointer(ev, checkpointer.WithThrottleBackoff(10*time.Millisecond, 200*time.Millisecond))
		if err != nil {
			report(workerLine{Ev: "checkpoint", Key: ev.Lease.Key, Err: err.Error()})
			return
		}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-work.Done():
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = checkpoint(ctx, cp, ev.Lease.Key) // the final checkpoint
				return
			case <-tick.C:
			}
			if err := checkpoint(work, cp, ev.Lease.Key); errors.Is(err, ErrLeaseLost) {
				return
			}
		}
	}

events:
	for {
		select {
		case <-term.Done():
			break events
		case ev, ok := <-coord.Events():
			if !ok {
				break events
			}
			switch ev.Type {
			case Acquired:
				report(workerLine{Ev: "acquired", Key: ev.Lease.Key})
				shards.Go(func() { shard(ev) })
			case Lost:
				report(workerLine{Ev: "lost", Key: ev.Lease.Key, Reason: ev.Reason.String()})
			}
		}
	}
	// Graceful stop: final checkpoints, then release everything.
	stopWork()
	shards.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := coord.Shutdown(ctx); err != nil {
		report(workerLine{Ev: "exit", Err: err.Error()})
	}
	if err := <-runErr; err != nil {
		report(workerLine{Ev: "exit", Err: err.Error()})
	}
	finalsMu.Lock()
	for key, p := range finals {
		report(workerLine{Ev: "final", Key: key, Seq: p.SequenceNumber(), Sub: p.SubSequenceNumber()})
	}
	finalsMu.Unlock()
	report(workerLine{Ev: "exit"})
}

// workerProc is a running worker process.
type workerProc struct {
	cfg    workerConfig
	cmd    *exec.Cmd
	stderr bytes.Buffer
	mu     sync.Mutex
	lines  []workerLine
	done   chan struct{}
	err    error // from Wait
}

func startWorker(t *testing.T, cfg workerConfig) *workerProc {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &workerProc{cfg: cfg, done: make(chan struct{})}
	w.cmd = exec.Command(os.Args[0], "-test.run=^TestWorkerProcess$", "-test.count=1", "-test.timeout=3m")
	w.cmd.Env = append(os.Environ(), envWorkerConfig+"="+string(raw))
	w.cmd.Stderr = &w.stderr
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l workerLine
			if line := sc.Bytes(); len(line) > 0 && line[0] == '{' && json.Unmarshal(line, &l) == nil {
				w.mu.Lock()
				w.lines = append(w.lines, l)
				w.mu.Unlock()
			}
		}
		w.err = w.cmd.Wait()
		close(w.done)
	}()
	t.Cleanup(func() {
		select {
		case <-w.done:
		default:
			_ = w.cmd.Process.Kill()
			<-w.done
		}
		if t.Failed() {
			t.Logf("worker %s stderr:\n%s", cfg.ID, w.stderr.String())
		}
	})
	return w
}

func (w *workerProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := w.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to worker %s: %v", sig, w.cfg.ID, err)
	}
}

// terminate stops the worker gracefully and waits for it.
func (w *workerProc) terminate(t *testing.T) {
	t.Helper()
	w.signal(t, syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("worker %s did not stop within 30 s of SIGTERM", w.cfg.ID)
	}
	if w.err != nil {
		t.Fatalf("worker %s: %v\n%s", w.cfg.ID, w.err, w.stderr.String())
	}
	for _, l := range w.snapshot() {
		if l.Ev == "exit" && l.Err != "" {
			t.Fatalf("worker %s exit: %s", w.cfg.ID, l.Err)
		}
	}
}

func (w *workerProc) snapshot() []workerLine {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]workerLine(nil), w.lines...)
}

func (w *workerProc) finals() map[string]workerLine {
	m := map[string]workerLine{}
	for _, l := range w.snapshot() {
		if l.Ev == "final" {
			m[l.Key] = l
		}
	}
	return m
}

// checkpointedKeys are the leases w reported a successful checkpoint of, in its lines from
// index from on.
func checkpointedKeys(w *workerProc, from int) map[string]bool {
	keys := map[string]bool{}
	for _, l := range w.snapshot()[from:] {
		if l.Ev == "checkpoint" && l.OK {
			keys[l.Key] = true
		}
	}
	return keys
}

// checkTableHoldsFinals: every lease's checkpoint is the worker's last successful one.
func checkTableHoldsFinals(t *testing.T, tbl *Table, keys []string, w *workerProc) {
	t.Helper()
	finals := w.finals()
	for _, k := range keys {
		f, ok := finals[k]
		if !ok {
			t.Fatalf("worker %s reported no final checkpoint for %s", w.cfg.ID, k)
		}
		l := mustGet(t, tbl, k)
		if l.Checkpoint.SequenceNumber() != f.Seq || l.Checkpoint.SubSequenceNumber() != f.Sub {
			t.Fatalf("%s: table checkpoint %v, but worker %s's last successful one is %s/%d", k, l.Checkpoint, w.cfg.ID, f.Seq, f.Sub)
		}
		if l.Owner != "" {
			t.Fatalf("%s still owned by %q after %s stopped gracefully", k, l.Owner, w.cfg.ID)
		}
	}
}

// Of two worker processes, one is killed with SIGKILL: the other owns every lease within
// failoverTime plus two taker intervals (plus a small margin).
func TestFailoverAfterSIGKILL(t *testing.T) {
	env := testenv.New(t)
	tbl := newTestTable(t, env)
	keys := createLeases(t, tbl, 8)
	cfg := workerConfig{Table: tbl.Name(), Failover: 2 * time.Second, Taker: 500 * time.Millisecond, MaxSteal: 1}
	a, b := cfg, cfg
	a.ID, a.Index = "A", 1
	b.ID, b.Index = "B", 2
	wa, wb := startWorker(t, a), startWorker(t, b)
	waitFor(t, 30*time.Second, "A and B hold 4 leases each", func() bool {
		o := tableOwners(t, tbl)
		return o["A"] == 4 && o["B"] == 4
	})
	waitFor(t, 30*time.Second, "A and B checkpointed each lease they hold", func() bool {
		done := map[string]map[string]bool{"A": checkpointedKeys(wa, 0), "B": checkpointedKeys(wb, 0)}
		for _, k := range keys {
			if l := mustGet(t, tbl, k); !done[l.Owner][k] {
				return false
			}
		}
		return true
	})
	before := tableOwners(t, tbl)
	wa.signal(t, syscall.SIGKILL)
	<-wa.done
	// B sees a lease expire a failover time after the first taker cycle that saw its last
	// counter (up to one interval after A's last renewal), and takes it at the next cycle:
	// at worst failover + 2 taker intervals (3 s), typically 2.5 s. The margin is small
	// enough that a 60% slower takeover (4 s) fails.
	const margin = 300 * time.Millisecond
	bound := cfg.Failover + 2*cfg.Taker + margin
	took := waitFor(t, bound+5*time.Second, "B owns all 8", func() bool { return tableOwners(t, tbl)["B"] == 8 })
	t.Logf("A held %d, B %d; after SIGKILL of A, B owned all 8 in %v (failover %v + taker %v = %v)",
		before["A"], before["B"], took.Round(time.Millisecond), cfg.Failover, cfg.Taker, cfg.Failover+cfg.Taker)
	if took > bound {
		t.Fatalf("takeover took %v, more than failover + two taker intervals + %v", took, margin)
	}
	mark := len(wb.snapshot())
	waitFor(t, 30*time.Second, "B checkpointed all 8 leases", func() bool { return len(checkpointedKeys(wb, mark)) == 8 })
	wb.terminate(t)
	checkTableHoldsFinals(t, tbl, keys, wb)
}

// A worker paused (SIGSTOP) past the failover time and then resumed cannot write a
// checkpoint over the new owner's: its attempts after resuming all fail with ErrLeaseLost.
func TestPausedWorkerCannotOverwriteNewOwner(t *testing.T) {
	env := testenv.New(t)
	tbl := newTestTable(t, env)
	keys := createLeases(t, tbl, 8)
	// No stealing: B must take A's leases only because they expired.
	cfg := workerConfig{Table: tbl.Name(), Failover: 2 * time.Second, Taker: 500 * time.Millisecond, MaxSteal: 0}
	a, b := cfg, cfg
	a.ID, a.Index = "A", 1
	b.ID, b.Index = "B", 2
	wa := startWorker(t, a)
	waitFor(t, 30*time.Second, "A owns all 8", func() bool { return tableOwners(t, tbl)["A"] == 8 })
	wb := startWorker(t, b)
	time.Sleep(time.Second)
	if o := tableOwners(t, tbl); o["A"] != 8 {
		t.Fatalf("owners before the pause %v", o)
	}

	wa.signal(t, syscall.SIGSTOP)
	stopped := time.Now()
	markB := len(wb.snapshot())
	took := waitFor(t, 30*time.Second, "B owns all 8", func() bool { return tableOwners(t, tbl)["B"] == 8 })
	waitFor(t, 30*time.Second, "B checkpointed its new leases", func() bool { return len(checkpointedKeys(wb, markB)) == 8 })
	// A stopped process writes no lines: whatever A reports from here on, it reported after
	// resuming.
	markA := len(wa.snapshot())
	resumed := time.Now()
	wa.signal(t, syscall.SIGCONT)
	t.Logf("A paused; B owned all 8 after %v; A resumed after %v", took.Round(time.Millisecond), resumed.Sub(stopped).Round(time.Millisecond))

	// Each of A's shard loops checkpoints until it gets ErrLeaseLost. One whose attempt was in
	// flight across the pause may get it from that attempt and never start another, so what
	// is awaited is that all 8 learnt the loss after resuming.
	reported := func() []workerLine {
		var out []workerLine
		for _, l := range wa.snapshot()[markA:] {
			if l.Ev == "checkpoint" {
				out = append(out, l)
			}
		}
		return out
	}
	waitFor(t, 10*time.Second, "A's 8 shard loops got ErrLeaseLost after resuming", func() bool {
		lost := map[string]bool{}
		for _, l := range reported() {
			if l.Lost {
				lost[l.Key] = true
			}
		}
		return len(lost) == 8
	})
	wa.terminate(t)
	wb.terminate(t)

	// Every attempt A started after resuming failed with ErrLeaseLost.
	attempts := 0
	for _, l := range reported() {
		if l.Start <= resumed.UnixNano() {
			continue // started before the pause; the fence judged it at the table
		}
		attempts++
		if l.OK || !l.Lost {
			t.Fatalf("A's checkpoint after resuming: %+v, want ErrLeaseLost", l)
		}
	}
	var reasons []string
	for _, l := range wa.snapshot() {
		if l.Ev == "lost" {
			reasons = append(reasons, l.Reason)
		}
	}
	t.Logf("A after resuming: %d checkpoint attempts, all ErrLeaseLost; Lost events: %s", attempts, strings.Join(reasons, "; "))
	checkTableHoldsFinals(t, tbl, keys, wb)
}
