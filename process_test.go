package kcl_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/leases"
)

// Environment of a worker process: the test binary run again (see TestMain).
const (
	envWorkerStream = "KCL_TEST_WORKER_STREAM"
	envWorkerTable  = "KCL_TEST_WORKER_TABLE"
	envWorkerApp    = "KCL_TEST_WORKER_APP"
	envWorkerID     = "KCL_TEST_WORKER_ID"
)

func TestMain(m *testing.M) {
	if os.Getenv(envWorkerStream) != "" {
		os.Exit(workerProcess())
	}
	os.Exit(m.Run())
}

// workerProcess consumes with Process, printing each record it processed before the batch
// is checkpointed: "REC shard seq sub data".
func workerProcess() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	env, err := testenv.FromEnvironment()
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 2
	}
	c, err := kcl.New(kcl.Config{
		App: os.Getenv(envWorkerApp), Stream: os.Getenv(envWorkerStream), LeaseTable: os.Getenv(envWorkerTable),
		WorkerID: os.Getenv(envWorkerID), Kinesis: env.Kinesis, DynamoDB: env.DynamoDB,
		Retrieval: kcl.Polling, InitialPosition: kcl.TrimHorizon,
		FailoverTime: 5 * time.Second, ShardSyncInterval: time.Second,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 2
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	err = c.Process(ctx, func(_ context.Context, b kcl.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range b.Records {
			fmt.Fprintf(out, "REC %s %s %d %s\n", b.ShardID, r.SequenceNumber, r.SubSequenceNumber, r.Data)
		}
		return out.Flush()
	})
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	return 0
}

// TestWorkerKilled kills a worker process with SIGKILL while it consumes; another worker
// takes its leases once they expire and resumes each shard right after the dead worker's
// last checkpoint: every record arrives at least once, in order per shard and worker, and
// what arrives twice came after that checkpoint.
func TestWorkerKilled(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	table := env.LeaseTable(t)
	ctx := testenv.WithTimeout(t, 3*time.Minute)
	cfg := newConfig(t, env, stream, table)
	col := newCollector()

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envWorkerStream+"="+stream.Name, envWorkerTable+"="+table,
		envWorkerApp+"="+cfg.App, envWorkerID+"=victim")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var lines sync.WaitGroup
	lines.Go(func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 5 || f[0] != "REC" {
				continue
			}
			sub, _ := strconv.ParseUint(f[3], 10, 64)
			col.mu.Lock()
			col.records = append(col.records, seen{worker: "victim", shard: f[1], tenure: "victim", seq: f[2], sub: sub, data: f[4]})
			col.mu.Unlock()
			select {
			case col.changed <- struct{}{}:
			default:
			}
		}
	})

	first := stream.PutN(t, "first", 200)
	col.waitFor(t, first, 60*time.Second)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	lines.Wait()
	killedAt := time.Now()

	// What the dead worker checkpointed is final now.
	tbl, err := leases.NewTable(env.DynamoDB, table)
	if err != nil {
		t.Fatal(err)
	}
	ls, _, err := tbl.ListLeases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	checkpoints := map[string]checkpointer.ExtendedSequenceNumber{}
	for _, l := range ls {
		if l.Owner != "victim" {
			t.Errorf("lease %s owned by %q before the kill, want victim", l.Key, l.Owner)
		}
		checkpoints[l.ShardID] = l.Checkpoint
	}

	second := stream.PutN(t, "second", 100)
	cfg.WorkerID = "survivor"
	c := mustNew(t, cfg)
	runConsumer(t, ctx, c)
	readers := col.consume(c, "survivor", 0)
	all := append(first, second...)
	col.waitFor(t, all, 60*time.Second)
	t.Logf("the survivor had every record %v after the kill", time.Since(killedAt).Round(100*time.Millisecond))
	if err := c.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	readers.Wait()

	got := col.snapshot()
	checkOrder(t, got, all, true)
	col.checkHandovers(t, all)
	// The survivor's first record of each shard is the first one after the checkpoint.
	firstOf := map[string]seen{}
	for _, s := range got {
		if _, ok := firstOf[s.shard]; !ok && s.worker == "survivor" {
			firstOf[s.shard] = s
		}
	}
	for shard, puts := range testenv.ByShard(all) {
		cp := checkpoints[shard]
		var want testenv.Put
		for _, p := range puts {
			// PutN's records are not aggregated: the first after the checkpoint has a
			// greater sequence number (SHARD_END and the like are not expected here).
			if !cp.IsSequenceNumber() || testenv.CompareSequenceNumbers(p.SequenceNumber, cp.SequenceNumber()) > 0 {
				want = p
				break
			}
		}
		if got := firstOf[shard]; got.seq != want.SequenceNumber {
			t.Errorf("shard %s: survivor started at %s, want %s (first after checkpoint %v)", shard, got.seq, want.SequenceNumber, cp)
		}
	}
}
