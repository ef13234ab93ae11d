package polling_test

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/polling"
)

// TestSplitParentReadToEnd reads a split parent to its end: exactly the records put before
// the split, then a shard-end batch naming both children, and no error.
func TestSplitParentReadToEnd(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	before := stream.PutN(t, "before", 120)
	parent := before[0].ShardID
	stream.Split(t, parent)
	after := stream.PutN(t, "after", 60)

	p := newPoller(t, env.Kinesis, polling.WithMaxRecords(25))
	r := startReader(t, testenv.WithTimeout(t, time.Minute), p, stream.ARN, parent, polling.TrimHorizon())
	got, last := readToEnd(t, r)
	if err := r.Err(); err != nil {
		t.Fatalf("Err after the shard end: %v", err)
	}
	checkRecords(t, parent, got, before)
	checkShardEnd(t, stream, parent, last)

	// The records put after the split are in the children, for their readers.
	for childID, want := range testenv.ByShard(after) {
		if childID == parent {
			t.Fatalf("a record put after the split landed on the closed parent")
		}
		child := startReader(t, testenv.WithTimeout(t, time.Minute), p, stream.Name, childID, polling.TrimHorizon())
		checkRecords(t, childID, readCaughtUp(t, child, len(want)), want)
	}
}

// TestMergedParentsReadToEnd reads both parents of a merge to their ends: each gives
// exactly its records, then a shard-end batch naming the merged child.
func TestMergedParentsReadToEnd(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	puts := testenv.ByShard(stream.PutN(t, "premerge", 200))
	if len(puts) != 2 {
		t.Fatalf("200 records landed on %d shards, want 2", len(puts))
	}
	shards := stream.OpenShards(t)
	stream.Merge(t, aws.ToString(shards[0].ShardId), aws.ToString(shards[1].ShardId))

	p := newPoller(t, env.Kinesis, polling.WithMaxRecords(30))
	for _, sh := range shards {
		parent := aws.ToString(sh.ShardId)
		r := startReader(t, testenv.WithTimeout(t, time.Minute), p, stream.Name, parent, polling.TrimHorizon())
		got, last := readToEnd(t, r)
		if err := r.Err(); err != nil {
			t.Fatalf("shard %s: Err after the shard end: %v", parent, err)
		}
		checkRecords(t, parent, got, puts[parent])
		checkShardEnd(t, stream, parent, last)
		if len(last.ChildShards) != 1 {
			t.Fatalf("shard %s: %d children after a merge, want 1", parent, len(last.ChildShards))
		}
		if ps := last.ChildShards[0].ParentShards; len(ps) != 2 {
			t.Fatalf("shard %s: merged child has parents %v, want both", parent, ps)
		}
	}
}

// checkShardEnd checks that last ends parent and names exactly the children ListShards knows.
func checkShardEnd(t *testing.T, stream *testenv.Stream, parent string, last polling.Batch) {
	t.Helper()
	if !last.ShardEnd {
		t.Fatalf("shard %s: reader ended without a shard-end batch", parent)
	}
	var want []string
	for _, sh := range stream.Shards(t) {
		if aws.ToString(sh.ParentShardId) == parent || aws.ToString(sh.AdjacentParentShardId) == parent {
			want = append(want, aws.ToString(sh.ShardId))
		}
	}
	var got []string
	for _, c := range last.ChildShards {
		got = append(got, aws.ToString(c.ShardId))
		if !slices.Contains(c.ParentShards, parent) {
			t.Errorf("shard %s: child %s does not name it as a parent: %v", parent, aws.ToString(c.ShardId), c.ParentShards)
		}
		if c.HashKeyRange == nil {
			t.Errorf("shard %s: child %s has no hash-key range", parent, aws.ToString(c.ShardId))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("shard %s: ChildShards %v, want %v", parent, got, want)
	}
}
