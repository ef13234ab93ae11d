package kcl

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kclgo/kcl/aggregation"
	"github.com/kclgo/kcl/checkpointer"
)

// ProcessOption chooses when Process checkpoints.
type ProcessOption func(*processConfig) error

type processConfig struct {
	strategy checkpointer.Strategy
	// everyBatch checkpoints after each batch the function accepted (the default).
	everyBatch bool
}

// CheckpointEveryBatch checkpoints after every batch fn returns nil for. The default.
func CheckpointEveryBatch() ProcessOption {
	return func(c *processConfig) error {
		c.everyBatch, c.strategy = true, checkpointer.Manual()
		return nil
	}
}

// CheckpointEveryRecords checkpoints once n records were processed since the last checkpoint.
func CheckpointEveryRecords(n int) ProcessOption {
	return func(c *processConfig) error {
		if n < 1 {
			return &ConfigError{Field: "CheckpointEveryRecords", Reason: fmt.Sprintf("%d is below 1", n)}
		}
		c.everyBatch, c.strategy = false, checkpointer.EveryRecords(n)
		return nil
	}
}

// CheckpointEvery checkpoints what was processed at most every d.
func CheckpointEvery(d time.Duration) ProcessOption {
	return func(c *processConfig) error {
		if d <= 0 {
			return &ConfigError{Field: "CheckpointEvery", Reason: fmt.Sprintf("%v is not positive", d)}
		}
		c.everyBatch, c.strategy = false, checkpointer.EveryInterval(d)
		return nil
	}
}

// Process runs the consumer and calls fn for every batch, shards concurrently and each
// shard's batches in order, checkpointing as the options say (every batch by default; the
// end of a closed shard is always checkpointed, and so is what was processed when the
// consumer drains). fn gets the shard's context, which ends when the lease is lost.
//
// Process returns when the consumer ends (Stop, Drain, ctx, or a failure), with Run's result;
// if fn returns an error, the consumer stops and Process returns that error (a *ShardError
// naming the shard, unwrapping to fn's error), and so does Err. A shard halted at a corrupt
// record (Config.CorruptRecords) does not stop it: the other shards go on, and the halted
// one stays with this worker, logged at error level and counted. Records fn did not finish
// are read again by the next owner of their shard.
func (c *Consumer) Process(ctx context.Context, fn func(ctx context.Context, b Batch) error, opts ...ProcessOption) error {
	pc := processConfig{everyBatch: true, strategy: checkpointer.Manual()}
	for _, o := range opts {
		if err := o(&pc); err != nil {
			return err
		}
	}
	c.mu.Lock()
	if c.state != stateIdle {
		c.mu.Unlock()
		return ErrClosed
	}
	c.checkpointStrategy = pc.strategy
	c.mu.Unlock()

	var (
		wg       sync.WaitGroup
		failOnce sync.Once
		failErr  error
	)
	fail := func(err error) {
		failOnce.Do(func() {
			failErr = err
			wg.Go(func() { c.stopFor(err) })
		})
	}
	runErr := make(chan error, 1)
	wg.Go(func() { runErr <- c.Run(ctx) })
	for shard := range c.Shards() {
		wg.Go(func() {
			if err := processShard(shard, fn, pc); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	if failErr != nil {
		return failErr
	}
	return <-runErr
}

// processShard feeds one shard to fn. It returns an error that must stop the consumer.
func processShard(s *Shard, fn func(context.Context, Batch) error, pc processConfig) error {
	ctx := s.Context()
	for b := range s.Batches() {
		if err := fn(ctx, b); err != nil {
			return &ShardError{Stream: s.stream, ShardID: s.id, Err: err}
		}
		var err error
		switch {
		case b.ShardEnd || pc.everyBatch:
			err = b.Checkpoint(ctx)
		case len(b.Records) > 0:
			err = s.processed(ctx, b.last, len(b.Records))
		}
		if errors.Is(err, ErrLeaseLost) || (err != nil && ctx.Err() != nil) {
			return nil // the shard is someone else's now, or the consumer is stopping
		}
		if err != nil {
			return &ShardError{Stream: s.stream, ShardID: s.id, Err: fmt.Errorf("checkpoint: %w", err)}
		}
	}
	switch err := s.Err(); {
	case errors.Is(err, ErrShutdown):
		// Draining: record what the strategy has not checkpointed yet.
		_ = s.record(ctx, s.cp.Drain)
	case errors.Is(err, ErrShardEnded), errors.Is(err, ErrLeaseLost):
	case errors.As(err, new(*aggregation.CorruptError)):
		// Halted (HaltShard): the consumer keeps the lease and says so at error level.
		// Stopping here would hand the shard to another worker, which would stop too.
	case err != nil:
		return err // the shard failed (its reader, say): Process reports it
	}
	return nil
}

// strategy is the checkpoint strategy of new shards: Manual unless Process chose another.
func (c *Consumer) strategy() checkpointer.Strategy {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checkpointStrategy == (checkpointer.Strategy{}) {
		return checkpointer.Manual()
	}
	return c.checkpointStrategy
}
