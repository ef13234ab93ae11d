package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/polling"
)

// EnvWorker carries a worker's configuration (JSON) from the scheduler to the process it
// starts; its presence makes the process a worker (see IsWorker).
const EnvWorker = "KCL_CHAOS_WORKER"

// EnvBroken switches the worker to a deliberately broken consumer: "drop" skips every 20th
// batch but checkpoints it; "checkpoint-first" checkpoints each batch before processing it
// and processes slowly, so a SIGKILL loses what was checkpointed but not processed.
const EnvBroken = "KCL_CHAOS_BROKEN"

// workerConfig is what a worker process is told.
type workerConfig struct {
	ID           string        `json:"id"`
	App          string        `json:"app"`
	Stream       string        `json:"stream"`
	Table        string        `json:"table"`
	Polling      bool          `json:"polling"`
	FailoverTime time.Duration `json:"failover"`
	// CheckpointEvery is 0 to checkpoint every batch, N to checkpoint every N records.
	CheckpointEvery int    `json:"ckptEvery"`
	LogPath         string `json:"log"`
	ControlPath     string `json:"control"`
	Seed            uint64 `json:"seed"`
	Broken          string `json:"broken,omitempty"`
	Debug           bool   `json:"debug,omitempty"`
}

// IsWorker reports whether this process was started by the scheduler as a worker.
func IsWorker() bool { return os.Getenv(EnvWorker) != "" }

// WorkerMain runs this process as a worker and returns its exit code: it consumes until
// SIGTERM (Drain) or SIGINT (Stop), then reports the goroutines kcl left behind.
func WorkerMain() int {
	var cfg workerConfig
	if err := json.Unmarshal([]byte(os.Getenv(EnvWorker)), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "chaos worker: bad %s: %v\n", EnvWorker, err)
		return 2
	}
	if err := runWorker(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "chaos worker %s: %v\n", cfg.ID, err)
		return 1
	}
	return 0
}

func runWorker(cfg workerConfig) error {
	out, err := createLog(cfg.LogPath)
	if err != nil {
		return err
	}
	defer out.Close()
	env, err := testenv.FromEnvironment()
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6b636c))
	ctl := newControl(cfg.ControlPath, rng)
	ends := newShardEnds(env.Kinesis, cfg.Stream)
	if !cfg.Polling {
		ends.install(ctl.inj)
		ctl.onStart = func(kind string) {
			if kind == faultKinThrottle || kind == faultCutEFO {
				ends.cutAll()
			}
		}
	}
	kc := env.NewKinesis(ctl.inj.Wrap)
	ddb := env.NewDynamoDB(ctl.inj.Wrap)

	// Warnings go to the worker's stderr file, which the run keeps.
	level := slog.LevelWarn
	if cfg.Debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	kcfg := kcl.Config{
		App:                cfg.App,
		Stream:             cfg.Stream,
		Kinesis:            kc,
		DynamoDB:           ddb,
		WorkerID:           cfg.ID,
		LeaseTable:         cfg.Table,
		InitialPosition:    kcl.TrimHorizon,
		FailoverTime:       cfg.FailoverTime,
		ShardSyncInterval:  time.Second,
		ParentPollInterval: 200 * time.Millisecond,
		ShutdownTimeout:    20 * time.Second,
		Logger:             logger,
	}
	if cfg.Polling {
		kcfg.Retrieval = kcl.Polling
		kcfg.PollingOptions = []polling.Option{polling.WithIdleDelay(200 * time.Millisecond), polling.WithRetryBackoff(50*time.Millisecond, time.Second)}
	} else {
		kcfg.EFOOptions = []efo.Option{efo.WithRetryBackoff(50*time.Millisecond, time.Second)}
	}
	c, err := kcl.New(kcfg)
	if err != nil {
		return err
	}
	if err := out.write(event{Ev: evStart, Worker: cfg.ID, PID: os.Getpid()}); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var bg sync.WaitGroup
	bg.Go(func() { ctl.poll(ctx) })
	if !cfg.Polling {
		bg.Go(func() { ends.poll(ctx) })
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()

	r := &reader{cfg: cfg, out: out, ctl: ctl}
	var readers sync.WaitGroup
	readers.Go(func() {
		for sh := range c.Shards() {
			readers.Go(func() { r.readShard(sh) })
		}
	})

	var how string
	var stopErr error
	select {
	case sig := <-sigs:
		if sig == syscall.SIGTERM {
			how = "drain"
			stopErr = c.Drain(context.Background())
		} else {
			how = "stop"
			stopErr = c.Stop()
		}
		<-runErr
	case err := <-runErr:
		how, stopErr = "run-returned", err
	}
	<-c.Done()
	readers.Wait()
	cancel()
	bg.Wait()
	n, dump := leftGoroutines()
	e := event{Ev: evClosed, Worker: cfg.ID, How: how, Goroutines: n, Dump: dump, Injected: map[string]int{}}
	for _, call := range ctl.inj.Log() {
		if call.Injected && !strings.HasPrefix(call.Fault, "faults.FaultFunc") {
			e.Injected[call.Op+": "+call.Fault]++
		}
	}
	e.Injected["SubscribeToShard: cut"] = ctl.cuts()
	e.Injected["SubscribeToShard: shard end"] = ends.ended()
	if stopErr != nil {
		e.Err = stopErr.Error()
	}
	return out.write(e)
}

// reader consumes shards as an application would: processing is logging each record, then
// it checkpoints every batch or every N records.
type reader struct {
	cfg workerConfig
	out *jsonlWriter
	ctl *control

	mu      sync.Mutex
	tenures int
}

func (r *reader) readShard(sh *kcl.Shard) {
	r.mu.Lock()
	r.tenures++
	tenure := fmt.Sprintf("%s/%s/%d", r.cfg.ID, sh.ID(), r.tenures)
	r.mu.Unlock()
	_ = r.out.write(event{Ev: evTenure, Worker: r.cfg.ID, Tenure: tenure, Shard: sh.ID(), Parents: sh.Parents()})
	ctx := context.Background()
	sinceCkpt, batches := 0, 0
	var last *kcl.Record // the last record delivered
	for b := range sh.Batches() {
		received := time.Now().UnixNano()
		batches++
		r.ctl.stallIfAsked()
		if r.cfg.Broken == "checkpoint-first" && len(b.Records) > 0 {
			r.checkpoint(tenure, b, len(b.Records)-1, func() error { return b.Checkpoint(ctx) })
			time.Sleep(150 * time.Millisecond) // the "processing" a SIGKILL interrupts
		}
		if r.cfg.Broken == "drop" && batches%20 == 0 && len(b.Records) > 0 {
			r.checkpoint(tenure, b, len(b.Records)-1, func() error { return b.Checkpoint(ctx) })
			continue
		}
		evs := make([]event, 0, len(b.Records))
		for _, rec := range b.Records {
			e := event{Ev: evRecord, T: received, Worker: r.cfg.ID, Tenure: tenure, Shard: b.ShardID, Seq: rec.SequenceNumber, Sub: rec.SubSequenceNumber}
			if p, err := decodePayload(rec.Data); err != nil {
				e.N, e.Bad = -1, err.Error()
			} else {
				e.N = p.N
			}
			evs = append(evs, e)
		}
		if len(b.Records) > 0 {
			last = &b.Records[len(b.Records)-1]
		}
		if len(evs) > 0 {
			if err := r.out.write(evs...); err != nil {
				// The delivery log is the proof: without it the worker must not checkpoint.
				fmt.Fprintf(os.Stderr, "chaos worker %s: write log: %v\n", r.cfg.ID, err)
				os.Exit(3)
			}
		}
		if r.cfg.Broken == "checkpoint-first" && len(b.Records) > 0 {
			continue
		}
		// Today's consumer finishes a closed shard only when its ShardEnd batch is
		// checkpointed, so that batch is always checkpointed, empty or not.
		switch {
		case b.ShardEnd || r.cfg.CheckpointEvery == 0:
			if len(b.Records) > 0 || b.ShardEnd {
				r.checkpoint(tenure, b, len(b.Records)-1, func() error { return b.Checkpoint(ctx) })
			}
		default:
			for i, rec := range b.Records {
				sinceCkpt++
				if sinceCkpt >= r.cfg.CheckpointEvery {
					sinceCkpt = 0
					r.checkpoint(tenure, b, i, func() error { return b.CheckpointAt(ctx, rec) })
				}
			}
		}
	}
	// Draining: the channel delivered what the consumer held and closed; checkpoint the
	// rest, as an application that checkpoints every N records does on the way out.
	if errors.Is(sh.Err(), kcl.ErrShutdown) && last != nil && r.cfg.Broken == "" {
		r.checkpointShard(ctx, tenure, sh, *last)
	}
	e := event{Ev: evTenureEnd, Worker: r.cfg.ID, Tenure: tenure, Shard: sh.ID()}
	if err := sh.Err(); err != nil {
		e.Err = err.Error()
	}
	_ = r.out.write(e)
}

// checkpoint makes a checkpoint call and logs it; at is the index of the batch's record it
// covers (-1 for an empty batch).
func (r *reader) checkpoint(tenure string, b kcl.Batch, at int, call func() error) {
	start := time.Now().UnixNano()
	err := call()
	e := event{Ev: evCkpt, T0: start, Worker: r.cfg.ID, Tenure: tenure, Shard: b.ShardID, End: b.ShardEnd && at == len(b.Records)-1, OK: err == nil}
	if at >= 0 {
		e.Seq, e.Sub = b.Records[at].SequenceNumber, b.Records[at].SubSequenceNumber
	}
	if err != nil {
		e.Err = err.Error()
	}
	_ = r.out.write(e)
}

// harness are the packages of this test harness (kcltest only for its emulator clients),
// whose goroutines are not the consumer's.
var harness = []string{"kcl/internal/chaos", "kcl/internal/faults", "kcl/internal/testenv", "kcl/kcltest", "kcl/cmd/"}

// isLibraryFrame reports whether a line of a goroutine dump is in kcl's own code.
func isLibraryFrame(line string) bool {
	if !strings.Contains(line, "github.com/kclgo/kcl") {
		return false
	}
	for _, h := range harness {
		if strings.Contains(line, h) {
			return false
		}
	}
	return true
}

// checkpointShard logs a Shard.Checkpoint call, which covers everything delivered up to last.
func (r *reader) checkpointShard(ctx context.Context, tenure string, sh *kcl.Shard, last kcl.Record) {
	start := time.Now().UnixNano()
	err := sh.Checkpoint(ctx)
	e := event{Ev: evCkpt, T0: start, Worker: r.cfg.ID, Tenure: tenure, Shard: sh.ID(), Seq: last.SequenceNumber, Sub: last.SubSequenceNumber, OK: err == nil}
	if err != nil {
		e.Err = err.Error()
	}
	_ = r.out.write(e)
}

// leftGoroutines counts the goroutines running kcl code (the harness's own packages
// aside), waiting up to 2 s for ones that are on their way out, and returns their stacks.
func leftGoroutines() (int, string) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		n, dump := kclGoroutines()
		if n == 0 || time.Now().After(deadline) {
			return n, dump
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func kclGoroutines() (int, string) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var left []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "runtime.Stack(") {
			continue // this one
		}
		for _, line := range strings.Split(g, "\n") {
			if isLibraryFrame(line) {
				left = append(left, g)
				break
			}
		}
	}
	return len(left), strings.Join(left, "\n\n")
}
