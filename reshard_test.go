package kcl_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/internal/faults"
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
	// An observer of the lease table's writes: a finished lease may be cleaned up (deleted)
	// before the test looks, but its SHARD_END write was seen.
	writes := faults.New()
	cfg.DynamoDB = env.NewDynamoDB(writes.Wrap)
	c := mustNew(t, cfg)
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
	col.checkCheckpoints(t)

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
	// Both parents of the merge and the split parent finished: each got a SHARD_END write,
	// and its lease is finished or was cleaned up (deleted) after that.
	shardEnds := map[string]bool{}
	for _, call := range writes.Calls("UpdateItem") {
		var in struct {
			Key                       map[string]struct{ S string }
			ExpressionAttributeValues map[string]struct{ S string }
		}
		if err := json.Unmarshal(call.Body, &in); err != nil {
			t.Fatalf("UpdateItem body %s: %v", call.Body, err)
		}
		for _, v := range in.ExpressionAttributeValues {
			if v.S == "SHARD_END" {
				shardEnds[in.Key["leaseKey"].S] = true
			}
		}
	}
	tbl, err := leases.NewTable(env.DynamoDB, table)
	if err != nil {
		t.Fatal(err)
	}
	ls, _, err := tbl.ListLeases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	closedShards := 0
	for _, s := range shards {
		if s.SequenceNumberRange.EndingSequenceNumber == nil {
			continue
		}
		closedShards++
		id := aws.ToString(s.ShardId)
		if !shardEnds[id] {
			t.Errorf("closed shard %s never got a SHARD_END checkpoint", id)
		}
		i := slices.IndexFunc(ls, func(l leases.Lease) bool { return l.ShardID == id })
		if i >= 0 && !ls[i].Finished() {
			t.Errorf("closed shard %s's lease is not finished: %v", id, ls[i].Checkpoint)
		}
	}
	if closedShards != 3 {
		t.Errorf("%d closed shards, want 3 (the split parent and both merge parents)", closedShards)
	}
	if len(firstOf) != 5 {
		t.Errorf("records delivered from %d shards, want 5 (2 originals, 2 split children, 1 merged)", len(firstOf))
	}
}

// TestAtTimestampAcrossUpdateShardCount starts a new application AT_TIMESTAMP on a stream that
// was resharded with UpdateShardCount after that time (kinesis-local's AT_TIMESTAMP filter
// then sometimes returns the closed parents as well): exactly the records from that time on
// arrive, parents before children.
func TestAtTimestampAcrossUpdateShardCount(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	old := stream.PutN(t, "old", 50)
	time.Sleep(1500 * time.Millisecond) // arrival times have second-ish precision in places
	from := time.Now()
	time.Sleep(500 * time.Millisecond)
	want := stream.PutN(t, "new", 100)
	if _, err := env.Kinesis.UpdateShardCount(t.Context(), &kinesis.UpdateShardCountInput{
		StreamName: aws.String(stream.Name), TargetShardCount: aws.Int32(4), ScalingType: types.ScalingTypeUniformScaling,
	}); err != nil {
		t.Fatal(err)
	}
	stream.WaitActive(t)
	want = append(want, stream.PutN(t, "later", 100)...)

	cfg := newConfig(t, env, stream, env.LeaseTable(t))
	cfg.Retrieval = kcl.Polling
	cfg.InitialPosition = kcl.AtTimestamp(from)
	c := mustNew(t, cfg)
	ctx := testenv.WithTimeout(t, 2*time.Minute)
	runConsumer(t, ctx, c)
	col := newCollector()
	readers := col.consume(c, "w1", 0)
	col.waitFor(t, want, 60*time.Second)
	if err := c.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	readers.Wait()
	got := col.snapshot()
	checkOrder(t, got, append(old, want...), false)
	col.checkCheckpoints(t)
	if missing := missingRecords(got, old); len(missing) != len(old) {
		t.Errorf("%d records put before the initial timestamp were delivered", len(old)-len(missing))
	}
	lastOf, firstOf := map[string]int{}, map[string]int{}
	for i, s := range got {
		lastOf[s.shard] = i
		if _, ok := firstOf[s.shard]; !ok {
			firstOf[s.shard] = i
		}
	}
	for _, s := range stream.Shards(t) {
		first, ok := firstOf[aws.ToString(s.ShardId)]
		for _, p := range parentsOfShard(s) {
			if last, had := lastOf[p]; ok && had && last > first {
				t.Errorf("child %s's first record was delivered before parent %s's last", aws.ToString(s.ShardId), p)
			}
		}
	}
}

func parentsOfShard(s types.Shard) []string {
	var ps []string
	for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
		if p != nil {
			ps = append(ps, *p)
		}
	}
	return ps
}
