package multilang

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/leases"
	"github.com/kclgo/kcl/polling"
)

// Daemon runs a record-processor child per leased shard of one stream.
type Daemon struct {
	cfg      Config
	consumer *kcl.Consumer
	table    *leases.Table
	log      *slog.Logger
}

// New returns a daemon for cfg that reads with kin and keeps leases with ddb (the SDK's
// *kinesis.Client and *dynamodb.Client). log may be nil.
func New(cfg Config, kin kcl.KinesisAPI, ddb leases.DynamoDBAPI, log *slog.Logger) (*Daemon, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Executable) == 0 {
		return nil, &PropertyError{Key: "executableName", Reason: "required"}
	}
	if _, err := exec.LookPath(cfg.Executable[0]); err != nil {
		return nil, &PropertyError{Key: "executableName", Value: strings.Join(cfg.Executable, " "), Reason: err.Error()}
	}
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = DefaultResponseTimeout
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	if cfg.ProtocolVersion == 0 {
		cfg.ProtocolVersion = DefaultProtocolVersion
	}
	kc := kcl.Config{
		App:                cfg.App,
		Stream:             cfg.Stream,
		Kinesis:            kin,
		DynamoDB:           ddb,
		WorkerID:           cfg.WorkerID,
		LeaseTable:         cfg.LeaseTable,
		Retrieval:          cfg.Retrieval,
		ConsumerName:       cfg.ConsumerName,
		InitialPosition:    cfg.InitialPosition,
		FailoverTime:       cfg.FailoverTime,
		MaxLeasesForWorker: cfg.MaxLeasesForWorker,
		ShardSyncInterval:  cfg.ShardSyncInterval,
		ParentPollInterval: cfg.ParentPollInterval,
		KeepFinishedLeases: cfg.KeepFinishedLeases,
		ShutdownTimeout:    cfg.ShutdownGrace,
		Logger:             log,
	}
	if cfg.MaxRecords > 0 {
		kc.PollingOptions = append(kc.PollingOptions, polling.WithMaxRecords(cfg.MaxRecords))
	}
	if cfg.IdleTimeBetweenReads > 0 {
		kc.PollingOptions = append(kc.PollingOptions, polling.WithIdleDelay(cfg.IdleTimeBetweenReads))
	}
	consumer, err := kcl.New(kc)
	if err != nil {
		var ce *kcl.ConfigError
		if errors.As(err, &ce) {
			if key, ok := configKeys[ce.Field]; ok {
				return nil, &PropertyError{Key: key, Reason: ce.Reason}
			}
		}
		return nil, err
	}
	table := cfg.LeaseTable
	if table == "" {
		table = cfg.App
	}
	t, err := leases.NewTable(ddb, table)
	if err != nil {
		return nil, &PropertyError{Key: "tableName", Value: table, Reason: err.Error()}
	}
	return &Daemon{cfg: cfg, consumer: consumer, table: t, log: log}, nil
}

// configKeys names the property behind each kcl.Config field a property sets.
var configKeys = map[string]string{
	"App":                "applicationName",
	"Stream":             "streamName",
	"WorkerID":           "workerId",
	"LeaseTable":         "tableName",
	"ConsumerName":       "consumerName",
	"InitialPosition":    "initialPositionInStreamExtended",
	"FailoverTime":       "failoverTimeMillis",
	"MaxLeasesForWorker": "maxLeasesForWorker",
	"ShardSyncInterval":  "shardSyncIntervalMillis",
	"ParentPollInterval": "parentShardPollIntervalMillis",
	"ShutdownTimeout":    "shutdownGraceMillis",
	"PollingOptions":     "maxRecords",
}

// WorkerID is the name the daemon writes into the lease table.
func (d *Daemon) WorkerID() string { return d.consumer.WorkerID() }

// Run runs until ctx ends, then shuts down gracefully: every child gets shutdownRequested
// and may checkpoint within ShutdownGrace, then leaseLost, and the leases are released.
// It returns nil after such a shutdown, or the error that stopped it: the consumer's, or a
// child that failed MaxChildRestarts times in a row (then the leases are released at once
// so that other workers take the shards from their last checkpoints).
func (d *Daemon) Run(ctx context.Context) error {
	runDone := make(chan error, 1)
	var sessions sync.WaitGroup
	fatal := make(chan error, 1)
	// Sessions stop restarting children when the daemon stops hard.
	sessionCtx, stopSessions := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopSessions(nil)
	// live counts sessions not yet returned; idle is poked when it drops to zero, so a
	// shutdown ends as soon as every child has had its say.
	var live atomic.Int64
	idle := make(chan struct{}, 1)
	var loops sync.WaitGroup
	loops.Go(func() { runDone <- d.consumer.Run(context.WithoutCancel(ctx)) })
	loops.Go(func() {
		for shard := range d.consumer.Shards() {
			live.Add(1)
			sessions.Go(func() {
				defer func() {
					if live.Add(-1) == 0 {
						select {
						case idle <- struct{}{}:
						default:
						}
					}
				}()
				s := &session{d: d, shard: shard, log: d.log.With(slog.String("shard", shard.ID()))}
				if err := s.run(sessionCtx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, kcl.ErrShutdown) {
					select {
					case fatal <- err:
					default:
					}
					// Keep reading so the consumer can close the channel.
					for range shard.Batches() {
					}
				}
			})
		}
	})

	var result error
	select {
	case <-ctx.Done():
		d.log.Info("shutting down: shutdownRequested to every child, then leases released", slog.Duration("checkpoint window", d.cfg.ShutdownGrace))
		d.shutdown(&live, idle, &loops, &sessions, stopSessions)
	case err := <-fatal:
		d.log.Error("stopping: a record processor keeps failing; leases are released for other workers", slog.Any("error", err))
		result = err
		stopSessions(err)
		_ = d.consumer.Stop()
	case err := <-runDone:
		runDone <- err
		if err != nil {
			result = fmt.Errorf("consumer: %w", err)
		}
		stopSessions(err)
	}
	loops.Wait()
	sessions.Wait()
	if err := <-runDone; err != nil && result == nil && !errors.Is(err, kcl.ErrShutdown) && ctx.Err() == nil {
		result = fmt.Errorf("consumer: %w", err)
	}
	d.log.Info("stopped")
	return result
}

// shutdown drains the consumer within ShutdownGrace. Each session, seeing its channel
// closed, sends shutdownRequested, answers the child's last checkpoints, then sends
// leaseLost; once every session has returned, nothing more can be checkpointed, so the
// drain is cut short there and the leases are released at once instead of at the end of
// the window (a child that does not checkpoint on shutdownRequested would otherwise hold
// every lease for the whole window). Sessions still exchanging their last messages when
// the drain returns are given the rest of the window before their children are stopped.
func (d *Daemon) shutdown(live *atomic.Int64, idle <-chan struct{}, loops, sessions *sync.WaitGroup, stopSessions context.CancelCauseFunc) {
	deadline := time.Now().Add(d.cfg.ShutdownGrace)
	drainCtx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	drained := make(chan error, 1)
	go func() { drained <- d.consumer.Drain(drainCtx) }()
	var err error
wait:
	for {
		select {
		case err = <-drained:
			break wait
		case <-idle:
			if live.Load() == 0 { // not a stale poke from before a later session started
				cancel()
			}
		}
	}
	if err != nil && !(errors.Is(err, context.Canceled) && live.Load() == 0) {
		d.log.Warn("shutdown", slog.Any("error", err))
	}
	// The consumer has ended: its Shards channel is closed, so no session starts any more.
	loops.Wait()
	ended := make(chan struct{})
	go func() { sessions.Wait(); close(ended) }()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-ended:
	case <-t.C:
		// Children still busy after the window are stopped.
		stopSessions(kcl.ErrShutdown)
		<-ended
	}
}

// startingPosition is the shard's checkpoint, for initialize.
func (d *Daemon) startingPosition(ctx context.Context, shard *kcl.Shard) checkpointer.ExtendedSequenceNumber {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l, err := d.table.GetLease(ctx, shard.ID())
	if err != nil {
		d.log.Warn("reading the shard's checkpoint for initialize; the child gets none", slog.String("shard", shard.ID()), slog.Any("error", err))
		return checkpointer.ExtendedSequenceNumber{}
	}
	return l.Checkpoint
}
