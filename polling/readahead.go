package polling

import (
	"context"
	"sync"
)

// readAhead counts what a reader holds that its consumer has not taken, so the fetcher
// stops calling GetRecords while the consumer stalls.
type readAhead struct {
	maxBatches int
	maxBytes   int64

	mu      sync.Mutex
	batches int
	bytes   int64
	freed   chan struct{} // one pending wake-up for the fetcher; buffered 1
}

func newReadAhead(maxBatches int, maxBytes int64) *readAhead {
	return &readAhead{maxBatches: maxBatches, maxBytes: maxBytes, freed: make(chan struct{}, 1)}
}

func (r *readAhead) hasRoom() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.batches < r.maxBatches && r.bytes < r.maxBytes
}

// waitRoom blocks until another response may be fetched or ctx ends.
func (r *readAhead) waitRoom(ctx context.Context) error {
	for !r.hasRoom() {
		select {
		case <-r.freed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

// hold counts a fetched batch until release.
func (r *readAhead) hold(bytes int) {
	r.mu.Lock()
	r.batches++
	r.bytes += int64(bytes)
	r.mu.Unlock()
}

// release uncounts a batch the consumer took and wakes the fetcher.
func (r *readAhead) release(bytes int) {
	r.mu.Lock()
	r.batches--
	r.bytes -= int64(bytes)
	r.mu.Unlock()
	select {
	case r.freed <- struct{}{}:
	default: // a wake-up is already pending
	}
}
