package leases

import (
	"context"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kclgo/kcl/checkpointer"
)

// memStore is an in-memory leaseStore with the same conditions as Table, so that the
// coordinator's timing can be tested inside a synctest bubble. TestStoreContract runs the
// same script against it and against a real table (dynalite) to keep the two in step.
type memStore struct {
	mu      sync.Mutex
	rows    map[string]Lease
	skipped []*RowError
	calls   map[string]int // operations called
	applied map[string]int // operations that changed the store
	// before runs before an operation is applied; a non-nil error fails it unapplied. It
	// may sleep (fake time in a bubble) to model latency.
	before func(ctx context.Context, op, key string) error
	// after runs after an operation was applied; a non-nil error is returned anyway, as
	// when a response is lost.
	after func(op, key string) error
}

func newMemStore(leases ...Lease) *memStore {
	s := &memStore{rows: map[string]Lease{}, calls: map[string]int{}, applied: map[string]int{}}
	for _, l := range leases {
		s.rows[l.Key] = l
	}
	return s
}

func conditionFailed() error { return &types.ConditionalCheckFailedException{} }

func (s *memStore) do(ctx context.Context, op, key string, apply func() error) error {
	s.mu.Lock()
	s.calls[op]++
	before, after := s.before, s.after
	s.mu.Unlock()
	if before != nil {
		if err := before(ctx, op, key); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	err := apply()
	if err == nil {
		s.applied[op]++
	}
	s.mu.Unlock()
	if err == nil && after != nil {
		return after(op, key)
	}
	return err
}

func (s *memStore) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

func (s *memStore) appliedCount(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied[op]
}

func (s *memStore) row(key string) Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows[key]
}

func (s *memStore) set(l Lease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows[l.Key] = l
}

func (s *memStore) owners() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for _, l := range s.rows {
		m[l.Owner]++
	}
	return m
}

func (s *memStore) ListLeases(ctx context.Context) ([]Lease, []*RowError, error) {
	var out []Lease
	var skipped []*RowError
	err := s.do(ctx, "list", "", func() error {
		for _, l := range s.rows {
			out = append(out, l)
		}
		skipped = append(skipped, s.skipped...)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, skipped, err
}

func (s *memStore) get(ctx context.Context, key string) (Lease, bool, error) {
	var l Lease
	var ok bool
	err := s.do(ctx, "get", key, func() error {
		// A row that is not a lease or does not parse reads as its *RowError, as from the table.
		for _, e := range s.skipped {
			if e.LeaseKey == key {
				return e
			}
		}
		l, ok = s.rows[key]
		return nil
	})
	return l, ok, err
}

func (s *memStore) renew(ctx context.Context, key, owner string, counter int64) error {
	return s.do(ctx, "renew", key, func() error {
		l, ok := s.rows[key]
		if !ok || l.Owner != owner || l.Counter != counter {
			return conditionFailed()
		}
		l.Counter++
		s.rows[key] = l
		return nil
	})
}

func (s *memStore) take(ctx context.Context, seen Lease, owner string) (int64, error) {
	var counter int64
	err := s.do(ctx, "take", seen.Key, func() error {
		l, ok := s.rows[seen.Key]
		if !ok || l.Counter != seen.Counter || l.Owner != seen.Owner {
			return conditionFailed()
		}
		if (seen.Owner != "" && seen.Owner != owner) || seen.CheckpointOwner == owner {
			l.OwnerSwitchesSinceCheckpoint++
		}
		l.Owner, l.CheckpointOwner = owner, ""
		l.Counter++
		counter = l.Counter
		s.rows[seen.Key] = l
		return nil
	})
	return counter, err
}

func (s *memStore) release(ctx context.Context, key, owner string, counter int64) error {
	return s.do(ctx, "release", key, func() error {
		l, ok := s.rows[key]
		if !ok || l.Owner != owner || l.Counter != counter {
			return conditionFailed()
		}
		l.Owner, l.CheckpointOwner = "", ""
		l.Counter++
		s.rows[key] = l
		return nil
	})
}

func (s *memStore) checkpoint(ctx context.Context, key, owner string, counter int64, position checkpointer.ExtendedSequenceNumber, children []string) error {
	return s.do(ctx, "checkpoint", key, func() error {
		l, ok := s.rows[key]
		if !ok || l.Owner != owner || l.Counter != counter {
			return conditionFailed()
		}
		l.Counter++
		l.Checkpoint = position
		l.OwnerSwitchesSinceCheckpoint = 0
		l.PendingCheckpoint, l.PendingCheckpointState = checkpointer.ExtendedSequenceNumber{}, nil
		if len(children) > 0 {
			l.ChildShardIDs = append([]string(nil), children...)
		}
		s.rows[key] = l
		return nil
	})
}
