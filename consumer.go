package kcl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/leases"
	"github.com/kclgo/kcl/polling"
)

// Consumer reads one stream for one worker of an application: it takes leases on shards
// in the application's lease table, balancing them with the other workers, and hands each
// leased shard to the application as a *Shard on Shards().
type Consumer struct {
	cfg    Config
	table  *leases.Table
	coord  *leases.Coordinator
	log    *slog.Logger
	shards chan *Shard
	done   chan struct{}

	// stopReq carries the first Stop or Drain to Run.
	stopReq chan stopRequest
	// draining is closed when a drain begins: shards stop reading and flush.
	draining chan struct{}

	mu    sync.Mutex
	state consumerState
	err   error
	// failure is why Process stopped the consumer (its function's error), Run's result
	// unless Run failed by itself.
	failure error
	// checkpointStrategy is what Process asked for; zero means Manual.
	checkpointStrategy checkpointer.Strategy
	// stopNow ends whatever Run is doing at once: setting up, or the shards of a drain.
	stopNow context.CancelCauseFunc
}

type consumerState int

const (
	stateIdle consumerState = iota
	stateRunning
	stateStopping
	stateDone
)

type stopRequest struct {
	drain bool
	// ctx bounds the whole drain: set-up still under way, a shard sync in flight, the
	// readers' final checkpoints.
	ctx context.Context
}

// New validates cfg, fills in its defaults and returns a Consumer; it makes no AWS call.
// Run starts it.
func New(cfg Config) (*Consumer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Retrieval == Polling {
		// Only to validate them here rather than at Run; Run builds its own.
		if _, err := polling.New(cfg.Kinesis, cfg.PollingOptions...); err != nil {
			return nil, &ConfigError{Field: "PollingOptions", Reason: err.Error()}
		}
	}
	table, err := leases.NewTable(cfg.DynamoDB, cfg.LeaseTable, leases.WithTableLogger(cfg.Logger))
	if err != nil {
		return nil, &ConfigError{Field: "LeaseTable", Reason: err.Error()}
	}
	coordOpts := []leases.CoordinatorOption{
		leases.WithFailoverTime(cfg.FailoverTime), leases.WithLogger(cfg.Logger),
		// Only the stream's own rows: multi-stream rows (another application's, sharing the
		// table) are never taken, written or counted for balancing.
		leases.WithLeaseFilter(singleStreamLease),
	}
	if cfg.MaxLeasesForWorker > 0 {
		coordOpts = append(coordOpts, leases.WithMaxLeasesForWorker(cfg.MaxLeasesForWorker))
	}
	coord, err := leases.NewCoordinator(table, cfg.WorkerID, coordOpts...)
	if err != nil {
		// withDefaults validated what the options carry; this is a bug, not bad input.
		return nil, fmt.Errorf("kcl: lease coordinator: %w", err)
	}
	return &Consumer{
		cfg:      cfg,
		table:    table,
		coord:    coord,
		log:      cfg.Logger.With(slog.String("app", cfg.App), slog.String("worker", cfg.WorkerID)),
		shards:   make(chan *Shard),
		done:     make(chan struct{}),
		stopReq:  make(chan stopRequest, 1),
		draining: make(chan struct{}),
	}, nil
}

// WorkerID is the name this worker writes into the lease table.
func (c *Consumer) WorkerID() string { return c.cfg.WorkerID }

// Shards delivers each shard whose lease this worker acquires, once its parent shards are
// finished. Read every shard's Batches, or the shard stalls. Closed when Run returns.
func (c *Consumer) Shards() <-chan *Shard { return c.shards }

// Done is closed when Run has returned and every goroutine of the consumer has ended.
func (c *Consumer) Done() <-chan struct{} { return c.done }

// Err is what Run returned, nil before then: nil after Stop or a Drain that completed, the
// context's cause, a *StartError, a *ShardError, or the error of Process's function.
func (c *Consumer) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Stop ends the consumer now: shards' channels close with ErrShutdown, and leases are
// released at once, without waiting for final checkpoints (records delivered but not
// checkpointed are read again by the next owner). It returns when everything has ended.
func (c *Consumer) Stop() error {
	return c.shutdown(stopRequest{})
}

// Drain ends the consumer gracefully: shards stop reading, their channels deliver what the
// consumer holds and close with ErrShutdown, and Drain waits until every reader has
// checkpointed what it was given (or ctx ends; without a deadline, Config.ShutdownTimeout
// bounds the wait), then releases the leases so that other workers take them at once.
// It returns when everything has ended, with Run's result; when ctx ended first (the
// consumer then stops as by Stop), with an error wrapping ctx's cause, never nil.
//
// Do not call Drain and wait for it on the goroutine that reads a shard's batches, or inside
// Process's function: Drain waits for that very reader to checkpoint what it took, which it
// cannot while it waits in Drain, so Drain waits out its whole timeout and returns an error.
// Call it from another goroutine (go c.Drain(ctx)), e.g. where the signal arrives.
func (c *Consumer) Drain(ctx context.Context) error {
	return c.shutdown(stopRequest{drain: true, ctx: ctx})
}

// stopFor stops the consumer as Stop does, with err as Run's result.
func (c *Consumer) stopFor(err error) {
	c.mu.Lock()
	if c.failure == nil {
		c.failure = err
	}
	c.mu.Unlock()
	_ = c.Stop()
}

func (c *Consumer) shutdown(req stopRequest) error {
	if req.drain {
		// The drain's context bounds all of it: set-up still under way, a shard sync, the
		// readers' final checkpoints. Once it ends, the consumer stops as by Stop.
		if req.ctx == nil {
			req.ctx = context.Background()
		}
		if _, ok := req.ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			req.ctx, cancel = context.WithTimeout(req.ctx, c.cfg.ShutdownTimeout)
			defer cancel()
		}
	}
	c.mu.Lock()
	switch c.state {
	case stateIdle:
		// Never ran: nothing to stop, and Run must not start later.
		c.state = stateDone
		close(c.shards)
		close(c.done)
		c.mu.Unlock()
		return nil
	case stateRunning:
		c.state = stateStopping
		c.stopReq <- req
		if !req.drain && c.stopNow != nil {
			c.stopNow(ErrShutdown) // still setting up: give up at once
		}
	case stateStopping:
		if !req.drain && c.stopNow != nil {
			c.stopNow(ErrShutdown) // Stop during a Drain: release now
		}
	}
	c.mu.Unlock()
	if req.drain {
		select {
		case <-c.done:
		case <-req.ctx.Done():
			c.mu.Lock()
			if c.stopNow != nil {
				c.stopNow(ErrShutdown)
			}
			c.mu.Unlock()
			<-c.done
			// Cut short is not drained: say so, unless the consumer ended for a reason of
			// its own.
			if err := c.Err(); err != nil {
				return err
			}
			return fmt.Errorf("kcl: drain cut short, leases released as by Stop: %w", context.Cause(req.ctx))
		}
	}
	<-c.done
	return c.Err()
}

// Run consumes the stream until Stop or Drain, or until ctx ends (then the leases are
// released as by Stop and Run returns the context's cause), or until a shard fails in a way
// that retrying cannot mend (a *ShardError: stream deleted, access denied). A Consumer runs
// once.
func (c *Consumer) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.state != stateIdle {
		c.mu.Unlock()
		return ErrClosed
	}
	c.state = stateRunning
	c.mu.Unlock()

	err := c.run(ctx)

	c.mu.Lock()
	if err == nil {
		err = c.failure
	}
	c.err = err
	c.state = stateDone
	c.mu.Unlock()
	close(c.done)
	return err
}

// run owns every goroutine of the consumer and returns after all of them ended.
func (c *Consumer) run(ctx context.Context) error {
	defer close(c.shards)
	setupCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c.mu.Lock()
	c.stopNow = cancel
	c.mu.Unlock()
	w, err := c.setUp(setupCtx)
	if err != nil {
		if errors.Is(context.Cause(setupCtx), ErrShutdown) {
			return nil // stopped on request before it started
		}
		return err
	}
	return w.run(ctx)
}

// singleStreamLease reports whether l is a lease of a single-stream application, keyed by
// the shard id alone.
func singleStreamLease(l leases.Lease) bool { return l.Stream.IsZero() }

// streamInfo is what the consumer knows of its stream.
type streamInfo struct {
	name string
	arn  string
	// byARN: the user gave the ARN (cross-account, say). Calls address the stream the way
	// the user did: real Kinesis takes either, some emulators (kinesalite) only names.
	byARN bool
}

// account is the AWS account in the stream's ARN (arn:partition:kinesis:region:account:stream/name).
func (s streamInfo) account() string {
	parts := strings.SplitN(s.arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// names reports whether a multi-stream lease's stream identifier is this stream: same
// account and name. The creation epoch is not compared: a row of an earlier stream of the
// same name still says that the table is a multi-stream application's.
func (s streamInfo) names(id leases.StreamIdentifier) bool {
	return id.Name == s.name && (id.AccountID == s.account() || s.account() == "")
}

// ref is how calls address the stream: its ARN when the user gave one, else its name.
func (s streamInfo) ref() string {
	if s.byARN {
		return s.arn
	}
	return s.name
}

// setUp checks the stream, finds or registers the enhanced fan-out consumer, and only then
// makes sure of the lease table (so a wrong stream name leaves no stray table), creates the
// first leases and returns the worker that runs them. Every failure is a *StartError.
func (c *Consumer) setUp(ctx context.Context) (*worker, error) {
	out, err := c.cfg.Kinesis.DescribeStreamSummary(ctx, streamInput(c.cfg.Stream))
	if err != nil {
		return nil, &StartError{Resource: "stream", Name: c.cfg.Stream, Err: err}
	}
	stream := streamInfo{
		name:  aws.ToString(out.StreamDescriptionSummary.StreamName),
		arn:   aws.ToString(out.StreamDescriptionSummary.StreamARN),
		byARN: isARN(c.cfg.Stream),
	}
	var open openReader
	switch c.cfg.Retrieval {
	case Polling:
		opts := append([]polling.Option{polling.WithLogger(c.cfg.Logger), polling.WithMetrics(pollingMetrics{c.cfg.Metrics, stream.name})}, c.cfg.PollingOptions...)
		p, err := polling.New(c.cfg.Kinesis, opts...)
		if err != nil {
			return nil, &ConfigError{Field: "PollingOptions", Reason: err.Error()}
		}
		open = pollingOpener(p, stream.ref())
	default:
		opts := append([]efo.Option{efo.WithLogger(c.cfg.Logger), efo.WithMetrics(efoMetrics{c.cfg.Metrics, stream.name})}, c.cfg.EFOOptions...)
		ec, err := efo.NewConsumer(ctx, c.cfg.Kinesis, stream.arn, c.cfg.ConsumerName, opts...)
		if err != nil {
			return nil, &StartError{Resource: "enhanced fan-out consumer", Name: c.cfg.ConsumerName, Err: err}
		}
		open = efoOpener(ec)
	}
	if err := c.table.EnsureTable(ctx); err != nil {
		return nil, &StartError{Resource: "lease table", Name: c.cfg.LeaseTable, Err: err}
	}
	w := &worker{c: c, stream: stream, open: open, coord: c.coord, holes: map[string]int{}}
	if err := w.bootstrap(ctx); err != nil {
		return nil, &StartError{Resource: "leases", Name: c.cfg.LeaseTable, Err: err}
	}
	return w, nil
}

// streamInput addresses the stream by ARN when given one, by name otherwise.
func streamInput(stream string) *kinesis.DescribeStreamSummaryInput {
	if isARN(stream) {
		return &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String(stream)}
	}
	return &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)}
}

func isARN(s string) bool { return len(s) > 4 && s[:4] == "arn:" }

// worker is one run of the consumer: the coordinator, the shard goroutines and the sync loop.
type worker struct {
	c      *Consumer
	stream streamInfo
	open   openReader
	coord  *leases.Coordinator
	// holes counts, per uncovered open shard, the shard syncs in a row that saw it.
	holes map[string]int
}

func (w *worker) run(ctx context.Context) error {
	c := w.c
	// shardsCtx ends every shard at once on stop; its cause is what their Err reports.
	shardsCtx, stopShards := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopShards(ErrShutdown)
	c.mu.Lock()
	c.stopNow = stopShards
	c.mu.Unlock()
	coordCtx, stopCoord := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopCoord(ErrShutdown)

	fatal := make(chan error, 1)
	acquiring := make(chan struct{}) // closed when no new shard may start
	var (
		loops  sync.WaitGroup // coordinator, event loop, shard sync
		shards sync.WaitGroup // one per acquired lease
	)
	coordErr := make(chan error, 1)
	loops.Go(func() { coordErr <- w.coord.Run(coordCtx) })
	// The event loop is the only starter of shard goroutines: shards.Wait may begin only
	// after it has ended, or a shard started meanwhile would outlive Run.
	eventsDone := make(chan struct{})
	loops.Go(func() {
		defer close(eventsDone)
		for {
			select {
			case ev, ok := <-w.coord.Events():
				if !ok {
					return
				}
				w.event(ev, func() {
					shards.Go(func() {
						if err := w.runShard(shardsCtx, ev); err != nil {
							select {
							case fatal <- err:
							default:
							}
						}
					})
				})
			case <-acquiring:
				return
			}
		}
	})
	// A shard sync under way when a drain begins runs on until it ends or the drain's
	// context does (shutdown then stops the shards, and with them the sync).
	loops.Go(func() { w.syncLoop(shardsCtx, acquiring) })

	var (
		req    stopRequest
		result error
	)
	select {
	case req = <-c.stopReq:
	case <-ctx.Done():
		result = context.Cause(ctx)
	case result = <-fatal:
	case err := <-coordErr:
		result = fmt.Errorf("kcl: lease coordinator stopped: %w", err)
	}
	c.mu.Lock()
	c.state = stateStopping
	c.mu.Unlock()

	if req.drain {
		result = w.drain(req.ctx, &shards, acquiring, eventsDone, stopShards)
	} else {
		close(acquiring)
		stopShards(ErrShutdown)
		<-eventsDone
		shards.Wait()
	}
	// Release every lease now that the shards are done with them.
	releaseCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.FailoverTime)
	if err := w.coord.Shutdown(releaseCtx); err != nil {
		c.log.Warn("releasing leases", slog.Any("error", err))
		if result == nil && req.drain {
			result = fmt.Errorf("kcl: releasing leases: %w", err)
		}
	}
	cancel()
	stopCoord(ErrShutdown)
	loops.Wait()
	return result
}

// drain stops reading, lets the shards flush and waits for their final checkpoints.
func (w *worker) drain(ctx context.Context, shards *sync.WaitGroup, acquiring chan struct{}, eventsDone <-chan struct{}, stopShards context.CancelCauseFunc) error {
	c := w.c
	w.coord.StopTaking() // leases taken now would only be released again
	close(acquiring)
	close(c.draining)
	<-eventsDone
	waited := make(chan struct{})
	go func() { shards.Wait(); close(waited) }()
	select {
	case <-waited:
		return nil
	case <-ctx.Done():
		// Readers that did not checkpoint in time: their records are read again by the
		// next owner. End their shards now.
		stopShards(ErrShutdown)
		<-waited
		return fmt.Errorf("kcl: drain: readers did not checkpoint in time: %w", context.Cause(ctx))
	}
}

// event reports a coordinator event and starts a shard for an acquired lease.
func (w *worker) event(ev leases.Event, start func()) {
	m := w.c.cfg.Metrics
	switch ev.Type {
	case leases.Acquired:
		m.LeaseAcquired(w.stream.name, ev.Lease.ShardID)
		// The coordinator logs the acquisition at info level; this adds where the shard starts.
		w.c.log.Debug("starting shard", slog.String("shard", ev.Lease.ShardID), slog.String("checkpoint", ev.Lease.Checkpoint.String()))
		start()
	case leases.Lost:
		m.LeaseLost(w.stream.name, ev.Lease.ShardID, ev.Reason.String())
		w.c.log.Info("lease lost", slog.String("shard", ev.Lease.ShardID), slog.String("reason", ev.Reason.String()))
	}
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
