package kcl_test

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/leases"
)

// TestReshardDuringConsumption splits a shard and merges one of its children with its
// neighbour while a worker reads: every record arrives once, in order per shard, and no
// child's first record is delivered before the last record of each of its parents.
func TestReshardDuringConsumption(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	table := env.LeaseTable(t)

	cfg := newConfig(t, env, stream, table)
	cfg.Retrieval = kcl.Polling
	c, err := kcl.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testenv.WithTimeout(t, 3*time.Minute)
	runErr := runConsumer(t, ctx, c)
	col := newCollector()
	readers := col.consume(c, "w1", 0)

	all := stream.PutN(t, "gen0", 150)
	col.waitFor(t, all, 60*time.Second)

	stream.Split(t, "shardId-000000000000")
	all = append(all, stream.PutN(t, "gen1", 150)...)
	col.waitFor(t, all, 60*time.Second)

	// The split's upper child is adjacent to shard 1.
	var upper string
	for _, s := range stream.OpenShards(t) {
		if aws.ToString(s.ParentShardId) == "shardId-000000000000" && (upper == "" || aws.ToString(s.ShardId) > upper) {
			upper = aws.ToString(s.ShardId)
		}
	}
	stream.Merge(t, upper, "shardId-000000000001")
	all = append(all, stream.PutN(t, "gen2", 150)...)
	col.waitFor(t, all, 90*time.Second)

	if err := c.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	readers.Wait()
	got := col.snapshot()
	checkOrder(t, got, all, false)

	// Parents before children, in delivery order.
	lastOf, firstOf := map[string]int{}, map[string]int{}
	for i, s := range got {
		lastOf[s.shard] = i
		if _, ok := firstOf[s.shard]; !ok {
			firstOf[s.shard] = i
		}
	}
	shards := stream.Shards(t)
	for _, s := range shards {
		child := aws.ToString(s.ShardId)
		first, ok := firstOf[child]
		if !ok {
			continue
		}
		for _, p := range []string{aws.ToString(s.ParentShardId), aws.ToString(s.AdjacentParentShardId)} {
			if last, ok := lastOf[p]; ok && last > first {
				t.Errorf("child %s's first record (#%d) was delivered before parent %s's last (#%d)", child, first, p, last)
			}
		}
	}
	// Both parents of the merge and the split parent finished: SHARD_END, or cleaned up.
	tbl, err := leases.NewTable(env.DynamoDB, table)
	if err != nil {
		t.Fatal(err)
	}
	ls, _, err := tbl.ListLeases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		closed := slices.ContainsFunc(shards, func(s types.Shard) bool {
			return aws.ToString(s.ShardId) == l.ShardID && s.SequenceNumberRange.EndingSequenceNumber != nil
		})
		if closed && !l.Finished() {
			t.Errorf("closed shard %s's lease is not finished: %v", l.ShardID, l.Checkpoint)
		}
	}
	if len(firstOf) != 5 {
		t.Errorf("records delivered from %d shards, want 5 (2 originals, 2 split children, 1 merged)", len(firstOf))
	}
}
