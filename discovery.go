package kcl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/cenkalti/backoff/v4"

	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/leases"
)

// bootstrapWrites bounds the concurrent lease writes of bootstrap: quick on small streams,
// gentle with an on-demand table on big ones.
const bootstrapWrites = 16

// bootstrap creates the first leases when the table has none for the stream: one per shard
// that ListShards returns for the initial position, each starting there.
func (w *worker) bootstrap(ctx context.Context) error {
	existing, _, err := w.streamLeases(ctx, true)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return nil
	}
	shards, err := w.listShards(ctx, w.bootstrapFilter())
	if err != nil {
		return fmt.Errorf("kcl: listing shards of %s: %w", w.stream.name, err)
	}
	start := w.initialCheckpoint()
	// Concurrently: one conditional write per shard, and a 4-shard stream should not wait
	// for four round trips in a row. A child's lease names its parents, so it waits for
	// them however the writes are ordered.
	var (
		created  atomic.Int64
		wg       sync.WaitGroup
		failOnce sync.Once
		failed   error
	)
	slots := make(chan struct{}, bootstrapWrites)
	for _, s := range shards {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			ok, err := w.c.table.CreateLeaseIfAbsent(ctx, newLease(s, start))
			if err != nil {
				failOnce.Do(func() { failed = fmt.Errorf("kcl: creating lease for %s: %w", aws.ToString(s.ShardId), err) })
				return
			}
			if ok {
				created.Add(1)
			}
		})
	}
	wg.Wait()
	if failed != nil {
		return failed
	}
	w.c.log.Info("created leases for the stream's shards", slog.Int64("leases", created.Load()), slog.String("position", start.String()))
	return nil
}

func (w *worker) bootstrapFilter() *types.ShardFilter {
	switch p := w.c.cfg.InitialPosition; p.kind {
	case initialTrimHorizon:
		return &types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}
	case initialAtTimestamp:
		return &types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: aws.Time(p.timestamp)}
	}
	return &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}
}

// initialCheckpoint is the checkpoint of a lease that starts at the initial position.
func (w *worker) initialCheckpoint() checkpointer.ExtendedSequenceNumber {
	switch w.c.cfg.InitialPosition.kind {
	case initialTrimHorizon:
		return checkpointer.TrimHorizon
	case initialAtTimestamp:
		return checkpointer.AtTimestamp
	}
	return checkpointer.Latest
}

func newLease(s types.Shard, start checkpointer.ExtendedSequenceNumber) leases.Lease {
	id := aws.ToString(s.ShardId)
	l := leases.Lease{Key: id, ShardID: id, Checkpoint: start, ParentShardIDs: parentsOf(s)}
	if s.HashKeyRange != nil {
		l.HashKeyRange = leases.HashKeyRange{Start: aws.ToString(s.HashKeyRange.StartingHashKey), End: aws.ToString(s.HashKeyRange.EndingHashKey)}
	}
	return l
}

func parentsOf(s types.Shard) []string {
	var ps []string
	for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
		if aws.ToString(p) != "" {
			ps = append(ps, aws.ToString(p))
		}
	}
	return ps
}

// streamLeases lists this stream's leases (single-stream keys) and the keys of rows that
// look like leases but do not parse (the coordinator reports those, once each). With
// atStart, a multi-stream lease of this very stream fails with a *MultiStreamTableError:
// the table is a multi-stream application's.
func (w *worker) streamLeases(ctx context.Context, atStart bool) (map[string]leases.Lease, map[string]bool, error) {
	all, skipped, err := w.c.table.ListLeases(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("kcl: listing leases: %w", err)
	}
	var broken map[string]bool
	for _, s := range skipped {
		if !errors.Is(s, leases.ErrNotALease) {
			if broken == nil {
				broken = map[string]bool{}
			}
			broken[s.LeaseKey] = true
		}
	}
	m := make(map[string]leases.Lease, len(all))
	for _, l := range all {
		switch {
		case singleStreamLease(l):
			m[l.ShardID] = l
		case atStart && w.stream.names(l.Stream):
			return nil, nil, &MultiStreamTableError{Table: w.c.cfg.LeaseTable, Stream: w.stream.name, LeaseKey: l.Key}
		}
	}
	return m, broken, nil
}

// listShards pages through ListShards, retrying throttling with backoff.
func (w *worker) listShards(ctx context.Context, filter *types.ShardFilter) ([]types.Shard, error) {
	var shards []types.Shard
	in := &kinesis.ListShardsInput{ShardFilter: filter}
	if w.stream.byARN {
		in.StreamARN = aws.String(w.stream.arn)
	} else {
		in.StreamName = aws.String(w.stream.name)
	}
	for {
		var out *kinesis.ListShardsOutput
		err := backoff.Retry(func() error {
			var err error
			out, err = w.c.cfg.Kinesis.ListShards(ctx, in)
			var limit *types.LimitExceededException
			if err != nil && !errors.As(err, &limit) {
				return backoff.Permanent(err)
			}
			return err
		}, backoff.WithContext(backoff.NewExponentialBackOff(backoff.WithMaxElapsedTime(time.Minute)), ctx))
		if err != nil {
			return nil, err
		}
		shards = append(shards, out.Shards...)
		if aws.ToString(out.NextToken) == "" {
			return shards, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

// syncLoop compares the shard list with the lease table every ShardSyncInterval.
func (w *worker) syncLoop(ctx context.Context, stop <-chan struct{}) {
	t := time.NewTicker(w.c.cfg.ShardSyncInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := w.syncShards(ctx); err != nil && ctx.Err() == nil {
				w.c.log.Warn("shard sync", slog.Any("error", err))
			}
		case <-stop:
			return
		case <-ctx.Done():
			return
		}
	}
}

// syncShards creates the leases that the shard list calls for and the table lacks: children
// of leased shards (their parent's worker may have died before creating them), and, once an
// open shard's hash-key range stayed uncovered for HoleAuditThreshold syncs in a row, that
// shard at the initial position. Then it deletes finished leases whose children started.
func (w *worker) syncShards(ctx context.Context) error {
	have, broken, err := w.streamLeases(ctx, false)
	if err != nil {
		return err
	}
	shards, err := w.listShards(ctx, nil)
	if err != nil {
		return err
	}
	// Children of leased shards, parents first (ListShards order), so grandchildren follow.
	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		if _, ok := have[id]; ok {
			continue
		}
		for _, p := range parentsOf(s) {
			if _, ok := have[p]; ok {
				l := newLease(s, checkpointer.TrimHorizon)
				if _, err := w.c.table.CreateLeaseIfAbsent(ctx, l); err != nil {
					return err
				}
				w.c.log.Info("created lease for a child shard", slog.String("shard", id))
				have[id] = l
				break
			}
		}
	}
	w.auditHoles(ctx, shards, have, broken)
	if !w.c.cfg.KeepFinishedLeases {
		w.cleanUp(ctx, shards, have)
	}
	return nil
}

// auditHoles finds open shards that no lease covers: no lease of their own, and no leased
// parent whose end would create one. Such a hash-key range would never be read. A shard
// whose lease row does not parse (broken) is no hole: no lease can be created over that row,
// and the coordinator has said what is wrong with it, with its key.
func (w *worker) auditHoles(ctx context.Context, shards []types.Shard, have map[string]leases.Lease, broken map[string]bool) {
	seen := map[string]bool{}
	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		if _, ok := have[id]; ok || s.SequenceNumberRange == nil || s.SequenceNumberRange.EndingSequenceNumber != nil {
			continue
		}
		if broken[id] {
			w.c.log.Debug("shard not read: its lease row does not parse", slog.String("shard", id), slog.String("row", id))
			continue
		}
		seen[id] = true
		w.holes[id]++
		hits := w.holes[id]
		var from, to string
		if s.HashKeyRange != nil {
			from, to = aws.ToString(s.HashKeyRange.StartingHashKey), aws.ToString(s.HashKeyRange.EndingHashKey)
		}
		w.c.log.Warn("hash-key range not covered by any lease", slog.String("shard", id),
			slog.String("from", from), slog.String("to", to), slog.Int("audits", hits))
		if hits < w.c.cfg.HoleAuditThreshold {
			continue
		}
		if _, err := w.c.table.CreateLeaseIfAbsent(ctx, newLease(s, w.initialCheckpoint())); err != nil {
			w.c.log.Warn("creating lease for an uncovered shard", slog.String("shard", id), slog.Any("error", err))
			continue
		}
		delete(w.holes, id)
	}
	for id := range w.holes {
		if !seen[id] {
			delete(w.holes, id)
		}
	}
}

// cleanUp deletes the leases of finished shards once every child has a lease that started
// (checkpointed past its start), so the lineage stays known until then.
func (w *worker) cleanUp(ctx context.Context, shards []types.Shard, have map[string]leases.Lease) {
	children := map[string][]string{}
	for _, s := range shards {
		for _, p := range parentsOf(s) {
			children[p] = append(children[p], aws.ToString(s.ShardId))
		}
	}
	for id, l := range have {
		if !l.Finished() {
			continue
		}
		kids := l.ChildShardIDs
		if len(kids) == 0 {
			kids = children[id]
		}
		if len(kids) == 0 {
			continue
		}
		started := true
		for _, k := range kids {
			kl, ok := have[k]
			if !ok || !(kl.Checkpoint.IsSequenceNumber() || kl.Checkpoint.IsShardEnd()) {
				started = false
				break
			}
		}
		if !started {
			continue
		}
		if err := w.c.table.DeleteFinishedLease(ctx, l.Key); err != nil {
			w.c.log.Warn("deleting finished lease", slog.String("shard", id), slog.Any("error", err))
			continue
		}
		w.c.log.Info("deleted finished lease", slog.String("shard", id))
	}
}
