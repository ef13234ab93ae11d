package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/internal/testenv"
)

// Options configure a run.
type Options struct {
	// Seed draws the schedule of faults; 0 picks one (printed either way).
	Seed uint64
	// Duration is how long faults are applied, per retrieval mode.
	Duration time.Duration
	// Workers is how many worker processes run at once.
	Workers int
	// Shards is the stream's shard count at the start.
	Shards int
	// Rate is user records per second.
	Rate int
	// FailoverTime is the workers' lease failover time.
	FailoverTime time.Duration
	// Modes are "polling" and/or "efo".
	Modes []string
	// Dir receives the logs, the report (report.json) and the summary.
	Dir string
	// WorkerCommand starts a worker process (the program must call WorkerMain when IsWorker).
	WorkerCommand []string
	// Broken is passed to the workers as EnvBroken (a deliberately broken consumer).
	Broken string
	// WorkerDebug logs kcl at debug level into each worker's stderr file.
	WorkerDebug bool
	// Out receives progress and the summary.
	Out io.Writer
}

// Run runs every mode in turn and verifies each; the report says whether everything held.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		opts.Seed = new(big.Int).SetBytes(b[:]).Uint64()>>1 + 1
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if len(opts.WorkerCommand) == 0 {
		return nil, errors.New("chaos: Options.WorkerCommand is required")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	env, err := testenv.FromEnvironment()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.Out, "chaos: seed %d, %v of faults per mode, %d workers, %d shards, %d records/s, failover %v, modes %v, logs in %s\n",
		opts.Seed, opts.Duration, opts.Workers, opts.Shards, opts.Rate, opts.FailoverTime, opts.Modes, opts.Dir)
	rep := &Report{Seed: opts.Seed, Duration: opts.Duration.String(), Workers: opts.Workers, Broken: opts.Broken}
	for i, mode := range opts.Modes {
		r := &runner{
			opts:    opts,
			env:     env,
			polling: mode == "polling",
			mode:    mode,
			dir:     filepath.Join(opts.Dir, mode),
			rng:     mrand.New(mrand.NewPCG(opts.Seed, uint64(i))),
			procs:   map[int]*proc{},
		}
		mr, err := r.run(ctx)
		if err != nil {
			return rep, fmt.Errorf("chaos: %s: %w", mode, err)
		}
		rep.Modes = append(rep.Modes, mr)
	}
	rep.OK = true
	for _, m := range rep.Modes {
		rep.OK = rep.OK && m.OK
	}
	if err := rep.write(filepath.Join(opts.Dir, "report.json")); err != nil {
		return rep, err
	}
	rep.Summary(opts.Out)
	return rep, nil
}

// runner runs one mode.
type runner struct {
	opts    Options
	env     *testenv.Env
	polling bool
	mode    string
	dir     string
	rng     *mrand.Rand

	runID, app, stream, table string
	events                    *jsonlWriter

	mu       sync.Mutex
	procs    map[int]*proc // slot -> current process
	all      []*proc
	gens     map[int]int
	control  map[string]controlFile // worker id -> its faults
	inflight sync.WaitGroup
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.opts.Out, "chaos %s %s: %s\n", time.Now().Format("15:04:05.000"), r.mode, fmt.Sprintf(format, args...))
}

func (r *runner) run(ctx context.Context) (*ModeReport, error) {
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	r.runID = hex.EncodeToString(b[:])
	r.app = "chaos-" + r.mode + "-" + r.runID
	r.stream, r.table = r.app, r.app
	r.gens = map[int]int{}
	r.control = map[string]controlFile{}
	ev, err := createLog(filepath.Join(r.dir, "events.jsonl"))
	if err != nil {
		return nil, err
	}
	r.events = ev
	defer ev.Close()
	start := time.Now()

	kc := r.env.Kinesis
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(r.stream), ShardCount: aws.Int32(int32(r.opts.Shards))}); err != nil {
		return nil, fmt.Errorf("create stream: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = kc.DeleteStream(dctx, &kinesis.DeleteStreamInput{StreamName: aws.String(r.stream), EnforceConsumerDeletion: aws.Bool(true)})
	}()
	if err := r.waitActive(ctx); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(r.dir, "run.json"), runMeta{Mode: r.mode, Run: r.runID, Stream: r.stream, FailoverTime: r.opts.FailoverTime}); err != nil {
		return nil, err
	}
	_ = r.events.write(event{Ev: evPhase, Kind: "start", Target: r.stream})
	r.logf("stream %s, %d workers", r.stream, r.opts.Workers)

	for slot := range r.opts.Workers {
		if err := r.spawn(slot); err != nil {
			return nil, err
		}
	}
	defer r.killAll()

	prodLog, err := createLog(filepath.Join(r.dir, "producer.jsonl"))
	if err != nil {
		return nil, err
	}
	defer prodLog.Close()
	prod := &producer{client: kc, stream: r.stream, run: r.runID, out: prodLog, rng: mrand.New(mrand.NewPCG(r.opts.Seed, 99)), rate: r.opts.Rate}
	pctx, stopProducer := context.WithCancel(ctx)
	defer stopProducer()
	acked := make(chan int64, 1)
	go func() {
		n, _ := prod.runLoop(pctx)
		acked <- n
	}()

	// The faults.
	sched := r.schedule()
	r.logf("schedule: %s", describeSchedule(sched))
	for _, f := range sched {
		if err := sleepUntil(ctx, start.Add(f.at)); err != nil {
			return nil, err
		}
		r.apply(ctx, f.kind)
	}
	if err := sleepUntil(ctx, start.Add(r.opts.Duration)); err != nil {
		return nil, err
	}
	r.inflight.Wait()
	r.clearControl()
	stopProducer()
	nAcked := <-acked
	_ = r.events.write(event{Ev: evPhase, Kind: "settle"})
	r.logf("faults over; producer acknowledged %d user records; waiting until every one is delivered", nAcked)

	// Settle: every acknowledged record delivered, or give up after a while (then the
	// verifier names what is missing).
	settleBy := time.Now().Add(r.opts.settleTimeout())
	for {
		d, err := loadRun(r.dir)
		if err != nil {
			return nil, err
		}
		lost := d.countUndelivered()
		if lost == 0 {
			break
		}
		if time.Now().After(settleBy) {
			r.logf("%d acknowledged records still undelivered after %v; stopping anyway", lost, r.opts.settleTimeout())
			break
		}
		if err := sleepUntil(ctx, time.Now().Add(time.Second)); err != nil {
			return nil, err
		}
	}

	// Shut the workers down: drain all but the last, stop that one.
	_ = r.events.write(event{Ev: evPhase, Kind: "shutdown"})
	r.mu.Lock()
	var live []*proc
	for _, p := range r.procs {
		live = append(live, p)
	}
	r.mu.Unlock()
	sort.Slice(live, func(i, j int) bool { return live[i].slot < live[j].slot })
	var hung []string
	for i, p := range live {
		sig := syscall.SIGTERM
		if i == len(live)-1 {
			sig = syscall.SIGINT
		}
		p.mu.Lock()
		p.ending = true
		p.mu.Unlock()
		_ = p.signal(sig)
	}
	for _, p := range live {
		if !p.wait(60 * time.Second) {
			hung = append(hung, p.cfg.ID)
			_ = p.signal(syscall.SIGKILL)
			<-p.done
		}
	}
	_ = r.events.write(event{Ev: evPhase, Kind: "verify"})
	r.logf("workers stopped; reading the stream and verifying")

	final, err := readStream(ctx, kc, r.stream)
	if err != nil {
		return nil, fmt.Errorf("read the stream's final state: %w", err)
	}
	if err := final.save(filepath.Join(r.dir, "final-stream.json")); err != nil {
		return nil, err
	}
	d, err := loadRun(r.dir)
	if err != nil {
		return nil, err
	}
	mr := verify(d, final, r.opts.FailoverTime)
	mr.Mode, mr.Run, mr.Stream = r.mode, r.runID, r.stream
	mr.Hung = hung
	mr.Elapsed = time.Since(start).Round(time.Second).String()
	mr.finish()
	return mr, nil
}

func (o Options) settleTimeout() time.Duration { return max(90*time.Second, 10*o.FailoverTime) }

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

func (r *runner) spawn(slot int) error {
	r.mu.Lock()
	r.gens[slot]++
	gen := r.gens[slot]
	r.mu.Unlock()
	p, err := r.startWorker(slot, gen)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.procs[slot] = p
	r.all = append(r.all, p)
	r.mu.Unlock()
	return nil
}

func (r *runner) killAll() {
	r.mu.Lock()
	all := slices.Clone(r.all)
	r.mu.Unlock()
	for _, p := range all {
		if !p.exited() {
			_ = p.signal(syscall.SIGKILL)
			<-p.done
		}
	}
}

func (r *runner) waitActive(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := r.env.Kinesis.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(r.stream)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stream %s not ACTIVE after 60 s (%v)", r.stream, err)
		}
		if err := sleepUntil(ctx, time.Now().Add(100*time.Millisecond)); err != nil {
			return err
		}
	}
}
