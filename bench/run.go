package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/kclgo/kcl/internal/replay"
)

// child is one worker process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{} // closed at the worker's end of output
	mu     sync.Mutex
	last   sample
	final  *workerFinal
	heap   chan uint64
	// timeline is the worker's samples, for charts.
	timeline []sample
}

func startChild(ctx context.Context, cfg runConfig, index int) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "worker", string(b), fmt.Sprint(index))
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin, exited: make(chan struct{}), heap: make(chan uint64, 1)}
	go func() {
		defer close(c.exited)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<30) // the final report carries bitsets
		for sc.Scan() {
			var m workerMessage
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				fmt.Fprintf(os.Stderr, "bench: worker %d: unreadable line: %v\n", index, err)
				continue
			}
			c.mu.Lock()
			switch m.Type {
			case "progress":
				c.last = m.sample
				c.timeline = append(c.timeline, m.sample)
			case "heap":
				select {
				case c.heap <- m.HeapAfterGC:
				default:
				}
			case "final":
				c.last = m.sample
				c.final = m.Final
			}
			c.mu.Unlock()
		}
	}()
	return c, nil
}

func (c *child) send(cmd string) { _, _ = io.WriteString(c.stdin, cmd+"\n") }

func (c *child) snapshot() sample {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// stop asks the worker to drain and waits for its report.
func (c *child) stop() (*workerFinal, error) {
	c.send("stop")
	_ = c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(60 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	err := c.cmd.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.final == nil {
		return nil, fmt.Errorf("worker ended without a report: %v", err)
	}
	return c.final, err
}

// source is where a run's records come from.
type source struct {
	replay *replay.Server
}

func (s *source) close() {
	if s.replay != nil {
		_ = s.replay.Close()
	}
}

// openSource prepares the stream of cfg and fills in its endpoints and name.
func openSource(ctx context.Context, env *environment, cfg *runConfig) (*source, error) {
	cfg.DynamoDBEndpoint = env.dynamoDB
	switch cfg.Source {
	case "replay":
		rc := replay.Config{Shards: cfg.Shards, RecordSize: cfg.RecordSize, RecordsPerShard: cfg.RecordsPerShard,
			Aggregate: cfg.Aggregate, BytesPerSecond: cfg.Rate, ProbeGapMin: cfg.ProbeGapMin, ProbeGapMax: cfg.ProbeGapMax,
			Seed: 1, Idle: cfg.Idle, EventInterval: cfg.EventInterval}
		srv, err := replay.Start(rc)
		if err != nil {
			return nil, err
		}
		cfg.KinesisEndpoint = srv.URL()
		return &source{replay: srv}, nil
	case "emulators":
		cfg.KinesisEndpoint = env.kinesis
		if err := fillEmulatorStream(ctx, *cfg); err != nil {
			return nil, err
		}
		return &source{}, nil
	}
	return &source{}, nil // aws: the stream exists and is filled by the user (bench produce)
}

// runOnce runs one measured configuration with its workers as separate processes.
func runOnce(ctx context.Context, env *environment, cfg runConfig) (*result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	stamp := time.Now().UnixNano()
	if cfg.Source != "aws" || cfg.Stream == "" {
		cfg.Stream = fmt.Sprintf("bench-%d", stamp)
	}
	if cfg.Source == "aws" {
		// A fresh lease table per run (so nothing starts from an earlier run's
		// checkpoints), one fan-out consumer for all runs (a stream allows 20).
		cfg.ConsumerName = cfg.App
		cfg.App = fmt.Sprintf("%s-%d", cfg.App, stamp)
	} else {
		cfg.App = fmt.Sprintf("bench-%s-%d", cfg.Reader, stamp)
	}
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return nil, err
		}
	}
	load := loadAverage()
	src, err := openSource(ctx, env, &cfg)
	if err != nil {
		return nil, err
	}
	defer src.close()
	children := make([]*child, 0, cfg.Workers)
	defer func() {
		for _, c := range children {
			if c.cmd.ProcessState == nil {
				_ = c.cmd.Process.Kill()
				_ = c.cmd.Wait()
			}
		}
	}()
	began := time.Now()
	for i := range cfg.Workers {
		c, err := startChild(ctx, cfg, i)
		if err != nil {
			return nil, err
		}
		children = append(children, c)
	}
	expected := int64(cfg.Shards) * cfg.userRecordsPerShard()
	if cfg.Idle || cfg.Source == "aws" {
		expected = 0
	}
	bar := newProgress(cfg.label())
	deadline := began.Add(cfg.Duration)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var idleHeap uint64
	idleSince := time.Time{}
wait:
	for {
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-tick.C:
		}
		var total int64
		for _, c := range children {
			s := c.snapshot()
			total += s.Unique
			select {
			case <-c.exited:
				break wait // a worker failed: its report says why
			default:
			}
		}
		bar.update(total, expected, deadline, "")
		if expected > 0 && total >= expected {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		if cfg.Idle && src.replay != nil && idleReady(src.replay, cfg) {
			if idleSince.IsZero() {
				idleSince = time.Now()
			}
			// Let every reader settle into its idle state before measuring.
			if time.Since(idleSince) > 3*time.Second {
				idleHeap, err = measureIdleHeap(ctx, children)
				if err != nil {
					return nil, err
				}
				break
			}
		}
	}
	bar.done()
	ended := time.Now()
	var finals []*workerFinal
	var errs []error
	for i, c := range children {
		f, err := c.stop()
		if err != nil {
			errs = append(errs, fmt.Errorf("worker %d: %w", i, err))
		}
		if f != nil {
			if f.Err != "" {
				errs = append(errs, fmt.Errorf("worker %d: %s", i, f.Err))
			}
			finals = append(finals, f)
		}
	}
	if len(finals) == 0 {
		return nil, errors.Join(errs...)
	}
	r := summarize(cfg, finals, children, ended.Sub(began), load)
	r.IdleHeapAfterGC = idleHeap
	if idleHeap > 0 {
		r.IdleHeapPerShard = float64(idleHeap) / float64(cfg.Shards)
	}
	if r.Unread > 0 {
		errs = append(errs, fmt.Errorf("%d records not read within -duration %v", r.Unread, cfg.Duration))
	}
	if err := errors.Join(errs...); err != nil {
		r.Errors = err.Error()
	}
	return r, nil
}

// idleReady reports whether every shard is being read: subscribed, or polled at least
// twice.
func idleReady(s *replay.Server, cfg runConfig) bool {
	if cfg.Retrieval == "efo" {
		return s.ActiveSubscriptions() >= int64(cfg.Shards)
	}
	return s.Calls()["GetRecords"] >= 2*int64(cfg.Shards)
}

func measureIdleHeap(ctx context.Context, children []*child) (uint64, error) {
	var total uint64
	for _, c := range children {
		c.send("gc")
		select {
		case h := <-c.heap:
			total += h
		case <-time.After(30 * time.Second):
			return 0, errors.New("worker did not answer gc")
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return total, nil
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	var a, b5, c float64
	if _, err := fmt.Sscanf(string(b), "%f %f %f", &a, &b5, &c); err != nil {
		return "?"
	}
	return fmt.Sprintf("%.2f %.2f %.2f", a, b5, c)
}
