package checkpointer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Writer durably records a lease's checkpoint. Implementations fence the write on lease
// ownership and return an error wrapping ErrLeaseLost when this worker no longer holds the
// lease; *leases.Coordinator is one.
type Writer interface {
	Checkpoint(ctx context.Context, leaseKey string, position ExtendedSequenceNumber) error
}

// ShardEndWriter is a Writer that also records that a shard was processed to its end,
// together with its child shards, in one fenced write; Finish needs it.
type ShardEndWriter interface {
	Writer
	CheckpointShardEnd(ctx context.Context, leaseKey string, childShardIDs []string) error
}

// Checkpointer tracks and records the progress of one lease for as long as this worker holds
// it. Its methods are safe for concurrent use: the consumer reports deliveries while the
// application checkpoints. Writes reach the Writer one at a time and in increasing order.
type Checkpointer struct {
	w        Writer
	leaseKey string
	cfg      config

	// writeMu serialises writes so that two concurrent checkpoints cannot reach DynamoDB out
	// of order; it is held across the write, mu only around state.
	writeMu sync.Mutex

	mu           sync.Mutex
	last         ExtendedSequenceNumber // last checkpoint written, or the lease's when we got it
	delivered    ExtendedSequenceNumber
	processed    ExtendedSequenceNumber
	sinceRecords int       // records processed since the last checkpoint
	lastWriteAt  time.Time // monotonic; the creation time before the first write
	lost         error     // set once the Writer said the lease is gone
}

// New returns the Checkpointer of the lease leaseKey, whose checkpoint in the lease table
// is current (the position processing resumes after). Writes go through w.
func New(w Writer, leaseKey string, current ExtendedSequenceNumber, opts ...Option) (*Checkpointer, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if w == nil {
		return nil, errors.New("checkpointer: nil Writer")
	}
	if leaseKey == "" {
		return nil, errors.New("checkpointer: empty lease key")
	}
	return &Checkpointer{w: w, leaseKey: leaseKey, cfg: cfg, last: current, lastWriteAt: time.Now()}, nil
}

// LeaseKey is the lease this Checkpointer writes to.
func (c *Checkpointer) LeaseKey() string { return c.leaseKey }

// LastCheckpoint is the last checkpoint written, or the one the lease had when this
// Checkpointer was created.
func (c *Checkpointer) LastCheckpoint() ExtendedSequenceNumber {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// LargestDelivered is the furthest position delivered to the application.
func (c *Checkpointer) LargestDelivered() ExtendedSequenceNumber {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.delivered
}

// Delivered records that records up to and including last were handed to the application,
// which raises the bound for checkpoints. At the end of a closed shard, the consumer reports
// ShardEnd once every record was delivered, so that SHARD_END can be checkpointed. Positions
// must not go backwards (a *CheckpointError wrapping ErrDeliveryOutOfOrder).
func (c *Checkpointer) Delivered(last ExtendedSequenceNumber) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if last.Compare(c.delivered) < 0 {
		return c.refusal(last, ErrDeliveryOutOfOrder)
	}
	c.delivered = last
	return nil
}

// Processed records that the application finished n more records, up to and including last,
// and lets the strategy checkpoint last if it is due. last must not be past what was
// delivered nor before what was processed before. It returns the write's error, if any.
func (c *Checkpointer) Processed(ctx context.Context, last ExtendedSequenceNumber, n int) error {
	if n < 0 {
		return fmt.Errorf("checkpointer: Processed: negative record count %d", n)
	}
	c.mu.Lock()
	switch {
	case last.Compare(c.delivered) > 0:
		defer c.mu.Unlock()
		return c.refusal(last, ErrCheckpointBeyondDelivered)
	case last.Compare(c.processed) < 0:
		defer c.mu.Unlock()
		return c.refusal(last, ErrDeliveryOutOfOrder)
	}
	c.processed = last
	c.sinceRecords += n
	due := c.cfg.strategy.due(c.sinceRecords, c.lastWriteAt, time.Now())
	c.mu.Unlock()
	if !due {
		return nil
	}
	return c.writeIfAhead(ctx, last)
}

// Checkpoint records everything delivered to the application so far. Nothing is written
// when the last checkpoint is there already (or further: nothing delivered yet).
func (c *Checkpointer) Checkpoint(ctx context.Context) error {
	return c.writeIfAhead(ctx, c.LargestDelivered())
}

// CheckpointAt records position, which must be at or after the last checkpoint and at or
// before the furthest delivered position; otherwise it returns a *CheckpointError wrapping
// ErrCheckpointBackwards or ErrCheckpointBeyondDelivered and writes nothing. Writing the last
// checkpoint again is a no-op.
func (c *Checkpointer) CheckpointAt(ctx context.Context, position ExtendedSequenceNumber) error {
	return c.write(ctx, position)
}

// Drain writes the final checkpoint of this tenure: everything the application processed,
// when that is past the last checkpoint. The consumer calls it when it stops the shard
// (shutdown or before releasing the lease), whatever the strategy.
func (c *Checkpointer) Drain(ctx context.Context) error {
	c.mu.Lock()
	processed := c.processed
	c.mu.Unlock()
	// Nothing new, or the application already checkpointed further: nothing to write.
	return c.writeIfAhead(ctx, processed)
}

// Finish records SHARD_END and the shard's children through w, which must be a
// ShardEndWriter, once the application processed the shard to its end. It retries like
// every write; afterwards nothing else can be checkpointed, and Finish again is a no-op.
func (c *Checkpointer) Finish(ctx context.Context, childShardIDs []string) error {
	sw, ok := c.w.(ShardEndWriter)
	if !ok {
		return errors.New("checkpointer: Finish: the Writer cannot record a shard's end")
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.Lock()
	switch {
	case c.lost != nil:
		c.mu.Unlock()
		return c.lost
	case c.last.IsShardEnd():
		c.mu.Unlock()
		return nil
	}
	c.delivered = ShardEnd // the shard's end is the last thing a reader is given
	c.mu.Unlock()
	err := c.retrying(ctx, ShardEnd, func(ctx context.Context) error {
		return sw.CheckpointShardEnd(ctx, c.leaseKey, childShardIDs)
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.last, c.processed, c.sinceRecords, c.lastWriteAt = ShardEnd, ShardEnd, 0, time.Now()
	c.mu.Unlock()
	return nil
}

// writeIfAhead writes position if it is past the last checkpoint, and otherwise only
// resets the strategy's count: the application may have checkpointed further itself.
func (c *Checkpointer) writeIfAhead(ctx context.Context, position ExtendedSequenceNumber) error {
	c.mu.Lock()
	if c.lost == nil && position.Compare(c.last) <= 0 {
		c.sinceRecords = 0
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	err := c.write(ctx, position)
	var ce *CheckpointError
	if errors.As(err, &ce) && errors.Is(err, ErrCheckpointBackwards) {
		return nil // a concurrent checkpoint went further between the check and the write
	}
	return err
}

// write validates position against the current state and writes it, retrying throttling
// and transient failures.
func (c *Checkpointer) write(ctx context.Context, position ExtendedSequenceNumber) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()

	c.mu.Lock()
	switch {
	case c.lost != nil:
		c.mu.Unlock()
		return c.lost
	case position.Compare(c.last) < 0:
		defer c.mu.Unlock()
		return c.refusal(position, ErrCheckpointBackwards)
	case position.Compare(c.last) == 0:
		c.mu.Unlock()
		return nil
	case position.Compare(c.delivered) > 0:
		defer c.mu.Unlock()
		return c.refusal(position, ErrCheckpointBeyondDelivered)
	}
	c.mu.Unlock()

	if err := c.retrying(ctx, position, func(ctx context.Context) error {
		return c.w.Checkpoint(ctx, c.leaseKey, position)
	}); err != nil {
		return err
	}
	c.mu.Lock()
	c.last = position
	c.sinceRecords = 0
	c.lastWriteAt = time.Now()
	c.mu.Unlock()
	return nil
}

// retrying runs one write of position until it succeeds, the lease is lost, the context
// ends, or it fails in a way retrying cannot mend; throttling and transient failures wait a
// backoff. The observer hears of it once.
func (c *Checkpointer) retrying(ctx context.Context, position ExtendedSequenceNumber, do func(context.Context) error) error {
	start := time.Now()
	err := c.retry(ctx, position, do)
	if c.cfg.observe != nil {
		c.cfg.observe(position, time.Since(start), err)
	}
	return err
}

func (c *Checkpointer) retry(ctx context.Context, position ExtendedSequenceNumber, do func(context.Context) error) error {
	var b interface{ NextBackOff() time.Duration }
	for attempt := 1; ; attempt++ {
		err := do(ctx)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrLeaseLost):
			c.mu.Lock()
			c.lost = fmt.Errorf("lease %s: %w", c.leaseKey, ErrLeaseLost)
			c.mu.Unlock()
			return err
		case ctx.Err() != nil:
			return context.Cause(ctx)
		case !Retryable(ctx, err):
			return fmt.Errorf("checkpoint lease %s at %v: %w", c.leaseKey, position, err)
		}
		if b == nil {
			b = c.cfg.newBackOff()
		}
		wait := b.NextBackOff()
		c.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "checkpoint write failed; retrying",
			slog.String("lease", c.leaseKey), slog.Int("attempt", attempt),
			slog.Duration("wait", wait), slog.Any("error", err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

// refusal builds the typed error of a refused request; c.mu must be held.
func (c *Checkpointer) refusal(requested ExtendedSequenceNumber, reason error) error {
	return &CheckpointError{LeaseKey: c.leaseKey, Requested: requested, Last: c.last, Delivered: c.delivered, Err: reason}
}
