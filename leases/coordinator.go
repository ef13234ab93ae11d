package leases

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kclgo/kcl/checkpointer"
)

// leaseStore is what the coordinator needs of the lease table; *Table implements it.
type leaseStore interface {
	ListLeases(ctx context.Context) ([]Lease, []*RowError, error)
	get(ctx context.Context, key string) (Lease, bool, error)
	renew(ctx context.Context, key, owner string, counter int64) error
	take(ctx context.Context, seen Lease, owner string) (int64, error)
	release(ctx context.Context, key, owner string, counter int64) error
	checkpoint(ctx context.Context, key, owner string, counter int64, position checkpointer.ExtendedSequenceNumber, children []string) error
}

type runState int

const (
	stateIdle runState = iota
	stateRunning
	stateShuttingDown
	stateStopped
)

// Coordinator is one worker's lease coordinator: it renews the leases it holds, takes free,
// expired and (to balance) other workers' leases, and fences checkpoints on ownership. It
// must not share its worker id with another running coordinator.
type Coordinator struct {
	store    leaseStore
	workerID string
	cfg      coordinatorConfig
	log      *slog.Logger
	events   *eventQueue

	mu           sync.Mutex
	held         map[string]*tenure
	state        runState
	stopTaking   chan struct{} // closed when taking stops (StopTaking or Shutdown)
	stopOnce     sync.Once
	takerDone    chan struct{} // closed when the taker goroutine ended
	shutdownDone chan struct{} // closed when Shutdown released everything; ends Run

	// Taker-goroutine state.
	rng      *rand.Rand
	seen     map[string]observation
	reported map[string]bool // skipped rows already logged at warning level
}

// tenure is one holding of a lease by this worker, from take to loss or release.
type tenure struct {
	key        string
	done       chan struct{}
	acquiredAt time.Time // when the take returned

	// wlock serialises this lease's DynamoDB writes (renewals, checkpoints, release), so a
	// checkpoint racing a renewal always carries the current counter; it guards the fields
	// below. It is a channel so that waiting for it can be cancelled.
	wlock       writeLock
	lease       Lease     // as last written; lease.Counter is the counter in the table
	lastRenewed time.Time // when the last successful write was sent (monotonic)
	// expiry ends the tenure the moment the failover time has passed since lastRenewed,
	// even while a write of ours is still unanswered: by then other workers may take it.
	expiry *time.Timer
	lost   bool
	reason LostReason
	// unanswered counts this tenure's writes whose outcome is unknown (a timeout, a reset):
	// each may have bumped the counter in the table without our knowing; unansweredAt are
	// the checkpoints such writes may have put in the row.
	unanswered   int64
	unansweredAt []checkpointer.ExtendedSequenceNumber

	snapshot atomic.Pointer[Lease] // lease after the last write, read by Held without the lock
	// heldUntil is lastRenewed plus the failover time, read without the lock; stale is set
	// when it passed while a write held the lock, so that the write ends the tenure.
	heldUntil atomic.Pointer[time.Time]
	stale     atomic.Bool
	doneOnce  sync.Once
}

// fresh reports whether the failover time has not yet passed since the last answered write.
func (tn *tenure) fresh(now time.Time) bool { return now.Before(*tn.heldUntil.Load()) }

// closeDone closes Done once: at expiry, or when the tenure ends otherwise.
func (tn *tenure) closeDone() { tn.doneOnce.Do(func() { close(tn.done) }) }

// writeLock is a mutex whose Lock can be abandoned when a context ends.
type writeLock chan struct{}

func newWriteLock() writeLock { return make(writeLock, 1) }

func (l writeLock) lock(ctx context.Context) error {
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (l writeLock) tryLock() bool {
	select {
	case l <- struct{}{}:
		return true
	default:
		return false
	}
}

func (l writeLock) unlock() { <-l }

// publish makes tn.lease visible to Held; the write lock must be held.
func (tn *tenure) publish() {
	l := tn.lease
	tn.snapshot.Store(&l)
}

// NewCoordinator returns the coordinator of worker workerID over table. It makes no call;
// Run starts it. The table must exist (Table.EnsureTable).
func NewCoordinator(table *Table, workerID string, opts ...CoordinatorOption) (*Coordinator, error) {
	if table == nil {
		return nil, errors.New("leases: NewCoordinator: nil table")
	}
	return newCoordinator(table, workerID, opts...)
}

func newCoordinator(store leaseStore, workerID string, opts ...CoordinatorOption) (*Coordinator, error) {
	if workerID == "" {
		return nil, errors.New("leases: NewCoordinator: empty worker id")
	}
	cfg := defaultCoordinatorConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.finish(); err != nil {
		return nil, err
	}
	return &Coordinator{
		store:        store,
		workerID:     workerID,
		cfg:          cfg,
		log:          cfg.logger.With(slog.String("worker", workerID)),
		events:       newEventQueue(),
		held:         map[string]*tenure{},
		stopTaking:   make(chan struct{}),
		takerDone:    make(chan struct{}),
		shutdownDone: make(chan struct{}),
		rng:          rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		seen:         map[string]observation{},
		reported:     map[string]bool{},
	}, nil
}

// WorkerID is the owner name this coordinator writes into leases.
func (c *Coordinator) WorkerID() string { return c.workerID }

// Events delivers Acquired and Lost events in the order they happened. It is closed when
// Run returns; events not received by then are dropped, but every tenure's Done channel is
// closed by then. However slowly it is read, renewals go on.
func (c *Coordinator) Events() <-chan Event { return c.events.out }

// Held returns the leases this worker holds now, sorted by key: renewed (by an answered
// write) within the failover time.
func (c *Coordinator) Held() []Lease {
	now := time.Now()
	c.mu.Lock()
	out := make([]Lease, 0, len(c.held))
	for _, tn := range c.held {
		if tn.fresh(now) { // one past its failover time may be someone else's already
			out = append(out, *tn.snapshot.Load())
		}
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func (c *Coordinator) lookup(key string) *tenure {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held[key]
}

// Run renews and takes leases until ctx ends or Shutdown completes. It owns its goroutines
// and returns only after they all ended: nil after Shutdown, the context's cause otherwise.
// When ctx ends first, held leases are not released (they expire for the other workers) and
// their tenures end with LostStopped.
func (c *Coordinator) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.state != stateIdle {
		c.mu.Unlock()
		return errors.New("leases: Coordinator.Run: already started or shut down")
	}
	c.state = stateRunning
	c.mu.Unlock()
	c.log.LogAttrs(ctx, slog.LevelInfo, "lease coordinator starting",
		slog.Duration("failover", c.cfg.failover), slog.Duration("renewal", c.cfg.renewInterval),
		slog.Duration("taker", c.cfg.takerInterval))

	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { c.events.run(runCtx) })
	wg.Go(func() { c.renewLoop(runCtx) })
	wg.Go(func() {
		defer close(c.takerDone)
		c.takeLoop(runCtx)
	})

	var err error
	select {
	case <-ctx.Done():
		err = context.Cause(ctx)
	case <-c.shutdownDone:
	}
	cancel()
	wg.Wait()
	c.endAll(LostStopped)
	c.mu.Lock()
	c.state = stateStopped
	c.mu.Unlock()
	c.log.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "lease coordinator stopped", slog.Any("cause", err))
	return err
}

// endAll ends every tenure still held, without writing anything.
func (c *Coordinator) endAll(reason LostReason) {
	c.mu.Lock()
	tenures := make([]*tenure, 0, len(c.held))
	for _, tn := range c.held {
		tenures = append(tenures, tn)
	}
	c.mu.Unlock()
	for _, tn := range tenures {
		_ = tn.wlock.lock(context.Background())
		c.markLost(tn, reason, "")
		tn.wlock.unlock()
	}
}

// StopTaking stops taking leases while the held ones are still renewed: a worker that is
// draining should not pick up leases it will only release again. Shutdown does it too.
func (c *Coordinator) StopTaking() { c.stopOnce.Do(func() { close(c.stopTaking) }) }

// Shutdown stops a running coordinator gracefully: it stops taking leases, releases every
// lease it holds (each conditioned on owner and counter, throttling and transient failures
// retried until ctx ends)
// so other workers take them at their next taker cycle, and then makes Run return nil.
// Write the final checkpoints before calling it: renewals go on until every lease is
// released. Leases that could not be released are returned in the error and expire.
func (c *Coordinator) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	switch c.state {
	case stateIdle:
		c.state = stateStopped
		c.StopTaking()
		close(c.shutdownDone)
		c.mu.Unlock()
		return nil
	case stateStopped:
		c.mu.Unlock()
		return nil
	case stateShuttingDown:
		c.mu.Unlock()
		select { // a concurrent Shutdown finishes the job
		case <-c.shutdownDone:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	c.state = stateShuttingDown
	c.StopTaking()
	c.mu.Unlock()
	defer close(c.shutdownDone)

	// No lease may be taken after the releases: wait for the taker to finish its cycle.
	select {
	case <-c.takerDone:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	c.mu.Lock()
	tenures := make([]*tenure, 0, len(c.held))
	for _, tn := range c.held {
		tenures = append(tenures, tn)
	}
	c.mu.Unlock()

	var (
		errMu sync.Mutex
		errs  []error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, c.cfg.renewConcurrency)
	)
	for _, tn := range tenures {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := c.releaseTenure(ctx, tn); err != nil && !errors.Is(err, ErrLeaseLost) {
				errMu.Lock()
				errs = append(errs, err)
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	c.log.LogAttrs(ctx, slog.LevelInfo, "released leases for shutdown",
		slog.Int("leases", len(tenures)), slog.Int("failed", len(errs)))
	return errors.Join(errs...)
}

// Release gives up one lease now (after its final checkpoint): the row keeps no owner and
// any worker may take it at its next taker cycle. Releasing a lease this worker does not
// hold returns an error wrapping ErrLeaseLost. It releases whatever tenure holds the lease
// now; a shard's goroutine should use ReleaseTenure, which cannot release a later tenure.
func (c *Coordinator) Release(ctx context.Context, leaseKey string) error {
	tn := c.lookup(leaseKey)
	if tn == nil {
		return fmt.Errorf("lease %s: %w (not held by %s)", leaseKey, ErrLeaseLost, c.workerID)
	}
	return c.releaseTenure(ctx, tn)
}

// ReleaseTenure releases the lease only if this worker still holds it in the tenure that the
// Acquired event ev announced; once that tenure ended it returns an error wrapping
// ErrLeaseLost, even if the lease was taken again since (that later tenure stays held).
func (c *Coordinator) ReleaseTenure(ctx context.Context, ev Event) error {
	if ev.Type != Acquired || ev.tenure == nil || ev.coordinator != c {
		return errors.New("leases: ReleaseTenure: needs an Acquired event of this coordinator")
	}
	return c.releaseTenure(ctx, ev.tenure)
}

// Checkpoint records position as the checkpoint of leaseKey, fenced on this worker owning the
// lease with the counter it last wrote. It implements checkpointer.Writer. A lease this
// worker does not hold, or lost, or could not renew within the failover time, fails with an
// error wrapping ErrLeaseLost without calling DynamoDB; a write the table refuses because
// another worker owns the lease fails the same way and emits Lost. Other errors (such as
// throttling) leave the lease held; one attempt lasts at most a renewal interval, so that a
// slow write cannot keep the lease from being renewed (checkpointer.Retryable says which
// errors are worth another attempt).
func (c *Coordinator) Checkpoint(ctx context.Context, leaseKey string, position checkpointer.ExtendedSequenceNumber) error {
	tn := c.lookup(leaseKey)
	if tn == nil {
		return fmt.Errorf("lease %s: %w (not held by %s)", leaseKey, ErrLeaseLost, c.workerID)
	}
	return c.checkpointTenure(ctx, tn, position, nil)
}

// CheckpointShardEnd records SHARD_END and the child shards of a finished shard in one fenced
// write, so that the children may start. Create the children's leases first
// (Table.CreateLeaseIfAbsent), and release the lease afterwards.
func (c *Coordinator) CheckpointShardEnd(ctx context.Context, leaseKey string, childShardIDs []string) error {
	tn := c.lookup(leaseKey)
	if tn == nil {
		return fmt.Errorf("lease %s: %w (not held by %s)", leaseKey, ErrLeaseLost, c.workerID)
	}
	return c.checkpointTenure(ctx, tn, checkpointer.ShardEnd, childShardIDs)
}

// NewCheckpointer returns a Checkpointer for the tenure an Acquired event announced: it
// resumes from the lease's checkpoint, and its writes fail with ErrLeaseLost once that tenure
// ends, even if this worker takes the lease again later (a new tenure needs a new
// Checkpointer), so a shard goroutine that was slow to stop cannot write over its successor.
func (c *Coordinator) NewCheckpointer(ev Event, opts ...checkpointer.Option) (*checkpointer.Checkpointer, error) {
	if ev.Type != Acquired || ev.tenure == nil || ev.coordinator != c {
		return nil, errors.New("leases: NewCheckpointer: needs an Acquired event of this coordinator")
	}
	return checkpointer.New(tenureWriter{c: c, tn: ev.tenure}, ev.Lease.Key, ev.Lease.Checkpoint, opts...)
}

// tenureWriter writes checkpoints for one tenure only.
type tenureWriter struct {
	c  *Coordinator
	tn *tenure
}

func (w tenureWriter) Checkpoint(ctx context.Context, leaseKey string, position checkpointer.ExtendedSequenceNumber) error {
	if leaseKey != w.tn.key {
		return fmt.Errorf("leases: checkpointer of %s asked to write %s", w.tn.key, leaseKey)
	}
	return w.c.checkpointTenure(ctx, w.tn, position, nil)
}

// CheckpointShardEnd records SHARD_END and the children for this tenure only, so that
// Checkpointer.Finish of a tenure that ended cannot write into a later one.
func (w tenureWriter) CheckpointShardEnd(ctx context.Context, leaseKey string, childShardIDs []string) error {
	if leaseKey != w.tn.key {
		return fmt.Errorf("leases: checkpointer of %s asked to write %s", w.tn.key, leaseKey)
	}
	return w.c.checkpointTenure(ctx, w.tn, checkpointer.ShardEnd, childShardIDs)
}
