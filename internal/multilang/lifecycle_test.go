package multilang

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kclgo/kcl/internal/testenv"
)

// TestLeaseLostMidBatch: another worker takes the lease while the child is processing a
// batch; the child's checkpoint is refused with ShutdownException and writes nothing, and
// the child then gets leaseLost.
func TestLeaseLostMidBatch(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	puts := stream.PutN(t, "rec", 10)
	shard := puts[0].ShardID
	argv, dir := fakeChildCommand(t, "checkpoint,wait-file")
	r := startDaemon(t, env, testConfig(t, stream, table, argv))
	waitFor(t, 60*time.Second, "a batch at the child", func() bool {
		return len(view(t, dir).records(shard)) > 0
	})

	// What another worker's take does to the row: a new owner and a bumped counter.
	l := getLease(t, env, table, shard)
	_, err := env.DynamoDB.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{
		TableName:           aws.String(table),
		Key:                 map[string]types.AttributeValue{"leaseKey": &types.AttributeValueMemberS{Value: shard}},
		UpdateExpression:    aws.String("SET leaseOwner = :thief, leaseCounter = :next"),
		ConditionExpression: aws.String("leaseCounter = :seen"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":thief": &types.AttributeValueMemberS{Value: "thief"},
			":next":  &types.AttributeValueMemberN{Value: strconv.FormatInt(l.Counter+100, 10)},
			":seen":  &types.AttributeValueMemberN{Value: strconv.FormatInt(l.Counter, 10)},
		},
	})
	if err != nil {
		// The daemon renewed in between; the test cannot tell, so it says so.
		t.Fatalf("taking the lease: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "leaseLost at the child", func() bool {
		return slices.Contains(view(t, dir).actions(shard), ActionLeaseLost)
	})
	v := view(t, dir)
	var firstReply map[string]any
	for _, e := range v.entries {
		if e.Action == "checkpoint-reply" {
			json.Unmarshal(e.Raw, &firstReply)
			break
		}
	}
	if firstReply["error"] != ErrNameShutdown {
		t.Errorf("checkpoint after the lease was taken answered %v; want error %s", firstReply, ErrNameShutdown)
	}
	after := getLease(t, env, table, shard)
	if after.Owner != "thief" || after.Checkpoint.String() != "TRIM_HORIZON" {
		t.Errorf("lease after the refused checkpoint: owner %q checkpoint %v; want thief and TRIM_HORIZON", after.Owner, after.Checkpoint)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestShardEndAfterSplit: the parent's child gets shardEnded (or, for protocol version 1,
// shutdown TERMINATE) after the parent's last record, its checkpoint finishes the parent,
// and the children's records reach their own children.
func TestShardEndAfterSplit(t *testing.T) {
	cases := []struct {
		name    string
		version int
		modes   string
		// forgot: the child does not checkpoint the end, having checkpointed every record
		// before it; kcl finishes the shard all the same (every record delivered is
		// checkpointed), so no second child is asked.
		forgot bool
	}{
		{"protocol v2", 2, "checkpoint,end", false},
		{"protocol v1", 1, "checkpoint,end", false},
		{"child forgets the end after checkpointing every record", 2, "checkpoint,end,forget-end-once", true},
	}
	for _, tc := range cases {
		version := tc.version
		t.Run(tc.name, func(t *testing.T) {
			env := testenv.New(t)
			stream := env.CreateStream(t, 1)
			table := env.LeaseTable(t)
			before := stream.PutN(t, "before", 10)
			parent := before[0].ShardID
			argv, dir := fakeChildCommand(t, tc.modes)
			cfg := testConfig(t, stream, table, argv)
			cfg.ProtocolVersion = version
			r := startDaemon(t, env, cfg)
			waitFor(t, 60*time.Second, "the parent's records checkpointed", func() bool {
				return checkpointOf(t, env, table, parent) == before[len(before)-1].SequenceNumber
			})
			stream.Split(t, parent)
			after := stream.PutN(t, "after", 20)
			children := testenv.ByShard(after)
			waitFor(t, 90*time.Second, "every child shard's records at a child", func() bool {
				v := view(t, dir)
				for shard, ps := range children {
					if len(distinctData(v.records(shard))) < len(ps) {
						return false
					}
				}
				return true
			})
			if got := getLease(t, env, table, parent).Checkpoint; !got.IsShardEnd() {
				t.Errorf("parent checkpoint %v; want SHARD_END", got)
			}
			acts := compact(view(t, dir).actions(parent))
			end := ActionShardEnded
			if version == 1 {
				end = ActionShutdown
			}
			want := []string{ActionInitialize, ActionProcessRecords, "checkpoint-reply", end, "checkpoint-reply", "eof"}
			if tc.forgot {
				want = []string{ActionInitialize, ActionProcessRecords, "checkpoint-reply", end, "eof"}
			}
			if !slices.Equal(acts, want) {
				t.Errorf("the parent's child saw %v; want %v", acts, want)
			}
			if version == 1 {
				for _, e := range view(t, dir).entries {
					if e.Action == ActionShutdown {
						var m map[string]any
						json.Unmarshal(e.Raw, &m)
						if m["reason"] != ReasonTerminate {
							t.Errorf("shutdown at shard end: %s", e.Raw)
						}
					}
				}
			}
			if err := r.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

// TestShutdownWithHungChild: SIGTERM while a child never answers: the daemon waits out the
// shutdown window, not the response timeout, stops the child, checkpoints nothing and
// releases the lease.
func TestShutdownWithHungChild(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	puts := stream.PutN(t, "rec", 5)
	shard := puts[0].ShardID
	argv, dir := fakeChildCommand(t, "checkpoint,hang-once")
	cfg := testConfig(t, stream, table, argv)
	cfg.ResponseTimeout = 10 * time.Minute
	cfg.ShutdownGrace = 2 * time.Second
	r := startDaemon(t, env, cfg)
	waitFor(t, 60*time.Second, "a batch at the child", func() bool {
		return len(view(t, dir).records(shard)) > 0
	})
	start := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("shutdown took %v with a 2 s window", took)
	}
	l := getLease(t, env, table, shard)
	if l.Owner != "" || l.Checkpoint.String() != "TRIM_HORIZON" {
		t.Errorf("lease after shutdown: owner %q checkpoint %v; want none and TRIM_HORIZON", l.Owner, l.Checkpoint)
	}
}

// TestShutdownEndsWhenChildrenAreDone: children that answer shutdownRequested without
// checkpointing do not hold the leases for the whole checkpoint window. Once every child
// has had shutdownRequested and leaseLost, the leases are released (before, the drain
// waited the full window for checkpoints nobody would write, so a pod with a 30 s grace
// period was killed before it released anything).
func TestShutdownEndsWhenChildrenAreDone(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	table := env.LeaseTable(t)
	puts := stream.PutN(t, "rec", 10)
	byShard := testenv.ByShard(puts)
	argv, dir := fakeChildCommand(t, "no-checkpoints")
	cfg := testConfig(t, stream, table, argv)
	cfg.ShutdownGrace = 45 * time.Second
	r := startDaemon(t, env, cfg)
	waitFor(t, 60*time.Second, "every record at a child", func() bool {
		v := view(t, dir)
		for shard, ps := range byShard {
			if len(distinctData(v.records(shard))) < len(ps) {
				return false
			}
		}
		return true
	})
	start := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(start); took > cfg.ShutdownGrace/2 {
		t.Errorf("shutdown took %v: the leases waited for the %v window although every child was done", took, cfg.ShutdownGrace)
	}
	v := view(t, dir)
	for shard := range byShard {
		if l := getLease(t, env, table, shard); l.Owner != "" || l.Checkpoint.String() != "TRIM_HORIZON" {
			t.Errorf("%s after shutdown: owner %q checkpoint %v; want none and TRIM_HORIZON", shard, l.Owner, l.Checkpoint)
		}
		acts := compact(v.actions(shard))
		if i := slices.Index(acts, ActionShutdownRequested); i < 0 || !slices.Contains(acts[i:], ActionLeaseLost) {
			t.Errorf("%s: the child saw %v; want shutdownRequested, then leaseLost", shard, acts)
		}
	}
}
