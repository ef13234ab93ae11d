package leases

import (
	"context"
	"sync"
	"time"
)

// EventType says what happened to a lease.
type EventType int

const (
	// Acquired: this worker took the lease; process the shard from Lease.Checkpoint.
	Acquired EventType = iota + 1
	// Lost: this worker no longer holds the lease; stop processing the shard.
	Lost
)

func (t EventType) String() string {
	switch t {
	case Acquired:
		return "acquired"
	case Lost:
		return "lost"
	}
	return "unknown"
}

// LostReason says why a lease was lost.
type LostReason int

const (
	// LostTaken: another worker owns it now (it was stolen, or taken after it expired).
	LostTaken LostReason = iota + 1
	// LostDeleted: the row is gone (lease cleanup) or no longer parses as a lease.
	LostDeleted
	// LostExpired: it could not be renewed within the failover time (throttling, network, a
	// paused process), so other workers may already consider it free.
	LostExpired
	// LostReleased: this worker released it (Release or Shutdown).
	LostReleased
	// LostConflict: the row says this worker owns it, yet writes kept failing their
	// condition after adopting its counter, which happens when two coordinators run with the
	// same worker id.
	LostConflict
	// LostStopped: Run ended (its context was cancelled) without releasing the lease; it will
	// expire for the other workers.
	LostStopped
)

func (r LostReason) String() string {
	switch r {
	case LostTaken:
		return "taken by another worker"
	case LostDeleted:
		return "deleted"
	case LostExpired:
		return "not renewed within the failover time"
	case LostReleased:
		return "released"
	case LostConflict:
		return "counter moved under this worker (duplicate worker id?)"
	case LostStopped:
		return "coordinator stopped"
	}
	return "unknown"
}

// Event tells the user of a Coordinator that a lease was acquired or lost.
type Event struct {
	Type EventType
	// Lease is the lease as this worker knows it: for Acquired, as taken (its Checkpoint is
	// where processing resumes); for Lost, as last known.
	Lease Lease
	// Reason is why the lease was lost (Lost only).
	Reason LostReason
	// NewOwner is the worker that owns a lease lost with LostTaken, when known.
	NewOwner string
	// Done (Acquired only) is closed the moment this tenure of the lease ends, before the
	// Lost event is queued, so a shard's goroutine can stop without waiting for events.
	Done <-chan struct{}

	tenure      *tenure      // Acquired: for Coordinator.NewCheckpointer
	coordinator *Coordinator // the coordinator that emitted it
}

// HeldUntil (Acquired only) is when this tenure may expire for the other workers: the
// failover time after the last write of ours that DynamoDB answered, on the monotonic
// clock. Work handed out for the shard after it may be duplicated by the lease's next owner.
// It moves on with every answered renewal; Done closes once it has passed.
func (e Event) HeldUntil() time.Time {
	if e.tenure == nil {
		return time.Time{}
	}
	return *e.tenure.heldUntil.Load()
}

// eventQueue decouples the coordinator's goroutines from the reader of the events channel:
// push never blocks, however slow the reader, so renewals are never held up by it.
type eventQueue struct {
	mu     sync.Mutex
	queue  []Event
	notify chan struct{} // capacity 1: "the queue may be non-empty"
	out    chan Event
}

func newEventQueue() *eventQueue {
	return &eventQueue{notify: make(chan struct{}, 1), out: make(chan Event)}
}

func (q *eventQueue) push(e Event) {
	q.mu.Lock()
	q.queue = append(q.queue, e)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// run delivers queued events in order until ctx ends, then closes the channel. Events still
// queued then are dropped; every Acquired lease's Done channel is closed by then.
func (q *eventQueue) run(ctx context.Context) {
	defer close(q.out)
	for {
		q.mu.Lock()
		batch := q.queue
		q.queue = nil
		q.mu.Unlock()
		for _, e := range batch {
			select {
			case q.out <- e:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-q.notify:
		case <-ctx.Done():
			return
		}
	}
}
