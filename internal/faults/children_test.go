package faults_test

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
)

// TestChildrenOf shows ChildrenOf agrees with the ChildShards that kinesis-local's
// GetRecords reports at the end of a closed shard, after a split and after a merge.
func TestChildrenOf(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)

	t.Run("Split", func(t *testing.T) {
		t.Parallel()
		stream := env.CreateStream(t, 1)
		parent := aws.ToString(stream.Shards(t)[0].ShardId)
		stream.Split(t, parent)
		checkChildren(t, env, stream, parent, 2)
	})
	t.Run("Merge", func(t *testing.T) {
		t.Parallel()
		stream := env.CreateStream(t, 2)
		shards := stream.Shards(t)
		a, b := aws.ToString(shards[0].ShardId), aws.ToString(shards[1].ShardId)
		stream.Merge(t, a, b)
		checkChildren(t, env, stream, a, 1)
		checkChildren(t, env, stream, b, 1)
	})
	t.Run("OpenShard", func(t *testing.T) {
		t.Parallel()
		stream := env.CreateStream(t, 1)
		children, err := faults.ChildrenOf(t.Context(), env.Kinesis, stream.ARN, aws.ToString(stream.Shards(t)[0].ShardId))
		if err != nil || len(children) != 0 {
			t.Fatalf("ChildrenOf an open shard (by ARN): %v, %v; want none", children, err)
		}
	})
}

func checkChildren(t *testing.T, env *testenv.Env, stream *testenv.Stream, parent string, n int) {
	t.Helper()
	got, err := faults.ChildrenOf(t.Context(), env.Kinesis, stream.Name, parent)
	if err != nil {
		t.Fatalf("ChildrenOf %s: %v", parent, err)
	}
	if len(got) != n {
		t.Fatalf("ChildrenOf %s: %d children, want %d", parent, len(got), n)
	}
	it := iterator(t, env.Kinesis, stream.Name, parent)
	for it != nil {
		out, err := env.Kinesis.GetRecords(t.Context(), &kinesis.GetRecordsInput{ShardIterator: it})
		if err != nil {
			t.Fatalf("GetRecords %s: %v", parent, err)
		}
		if out.NextShardIterator == nil {
			if g, w := childShardStrings(got), childShardStrings(out.ChildShards); !slices.Equal(g, w) {
				t.Errorf("ChildrenOf %s = %v, GetRecords at the shard's end says %v", parent, g, w)
			}
			return
		}
		it = out.NextShardIterator
	}
}
