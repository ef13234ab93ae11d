package faults

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// ListShardsAPI is the part of *kinesis.Client that ChildrenOf needs.
type ListShardsAPI interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
}

// ChildrenOf lists the children of shardID in stream (a name or an ARN): the shards whose
// ParentShardId or AdjacentParentShardId is shardID, each with its parents and hash-key
// range, as Kinesis reports them at the end of a closed shard. Feed it to EndShard.
func ChildrenOf(ctx context.Context, client ListShardsAPI, stream, shardID string) ([]types.ChildShard, error) {
	in := &kinesis.ListShardsInput{}
	if strings.HasPrefix(stream, "arn:") {
		in.StreamARN = &stream
	} else {
		in.StreamName = &stream
	}
	var children []types.ChildShard
	for {
		out, err := client.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("faults: children of %s: %w", shardID, err)
		}
		for _, sh := range out.Shards {
			parent, adjacent := deref(sh.ParentShardId), deref(sh.AdjacentParentShardId)
			if parent != shardID && adjacent != shardID {
				continue
			}
			c := types.ChildShard{ShardId: sh.ShardId, HashKeyRange: sh.HashKeyRange}
			for _, p := range []string{parent, adjacent} {
				if p != "" {
					c.ParentShards = append(c.ParentShards, p)
				}
			}
			children = append(children, c)
		}
		if out.NextToken == nil {
			return children, nil
		}
		// A paged ListShards call carries only the token.
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}
