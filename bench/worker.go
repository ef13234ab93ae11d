package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"
)

// workerMessage is a line a worker process writes on its stdout for its parent.
type workerMessage struct {
	Type string `json:"type"` // "progress", "heap" or "final"
	sample
	// HeapAfterGC answers a "gc" command: live heap after a forced collection.
	HeapAfterGC uint64       `json:"heap_after_gc,omitempty"`
	Final       *workerFinal `json:"final,omitempty"`
}

// sample is a worker's state at one moment.
type sample struct {
	T      int64   `json:"t"` // unix nanoseconds
	Unique int64   `json:"unique"`
	Dups   int64   `json:"dups"`
	CPU    float64 `json:"cpu"`  // seconds of user and system CPU of the process so far
	Heap   uint64  `json:"heap"` // heap objects, bytes
	// PutP50 is the p50 put -> reader latency of the records since the last sample.
	PutP50 int64 `json:"put_p50,omitempty"`
}

// workerFinal is what a worker reports when it ends.
type workerFinal struct {
	Err           string           `json:"err,omitempty"`
	PeakHeap      uint64           `json:"peak_heap"`
	MaxRSS        int64            `json:"max_rss"` // bytes
	KinesisCalls  map[string]int64 `json:"kinesis_calls"`
	DynamoDBCalls map[string]int64 `json:"dynamodb_calls"`
	Verify        verifyReport     `json:"verify"`
}

func cpuSeconds() (float64, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9, ru.Maxrss * 1024
}

var heapMetric = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

func heapBytes() uint64 {
	metrics.Read(heapMetric)
	return heapMetric[0].Value.Uint64()
}

// workerMain runs one worker process: `bench worker '<runConfig JSON>' <index>`. It reads
// commands on stdin ("gc", "stop"; end of input means stop) and reports on stdout.
func workerMain(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: bench worker CONFIG-JSON INDEX")
	}
	var cfg runConfig
	if err := json.Unmarshal([]byte(args[0]), &cfg); err != nil {
		return fmt.Errorf("worker config: %w", err)
	}
	out := json.NewEncoder(os.Stdout)
	var outMu sync.Mutex
	send := func(m workerMessage) {
		outMu.Lock()
		defer outMu.Unlock()
		_ = out.Encode(m)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("worker", args[1], "reader", cfg.Reader)

	if cfg.ProfileDir != "" {
		f, err := os.Create(filepath.Join(cfg.ProfileDir, fmt.Sprintf("%s-%s-%s.pprof", cfg.App, cfg.Reader, args[1])))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl, err := newClients(ctx, cfg)
	if err != nil {
		return err
	}
	v := newVerifier()
	stop := make(chan struct{})
	go func() { // commands from the parent
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			switch sc.Text() {
			case "gc":
				runtime.GC()
				send(workerMessage{Type: "heap", HeapAfterGC: heapBytes()})
			case "stop":
				close(stop)
				return
			}
		}
		close(stop)
	}()

	var peak uint64
	take := func() sample {
		cpu, _ := cpuSeconds()
		u, d := v.counts()
		recent := v.takeRecent()
		return sample{T: time.Now().UnixNano(), Unique: u, Dups: d, CPU: cpu, Heap: heapBytes(), PutP50: int64(recent.quantile(0.5))}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	done := make(chan error, 1)
	go func() {
		switch cfg.Reader {
		case "kcl":
			done <- runKCL(ctx, cfg, cl, v, stop, log, args[1])
		default:
			done <- runBare(ctx, cfg, cl, v, stop, log)
		}
	}()
	var runErr error
loop:
	for {
		select {
		case <-tick.C:
			s := take()
			peak = max(peak, s.Heap)
			send(workerMessage{Type: "progress", sample: s})
		case runErr = <-done:
			break loop
		}
	}
	cancel()
	final := &workerFinal{PeakHeap: peak,
		KinesisCalls: cl.kinesisCalls.snapshot(), DynamoDBCalls: cl.dynamodbCalls.snapshot(), Verify: v.report()}
	_, final.MaxRSS = cpuSeconds()
	if runErr != nil {
		final.Err = runErr.Error()
	}
	send(workerMessage{Type: "final", sample: take(), Final: final})
	return nil
}
