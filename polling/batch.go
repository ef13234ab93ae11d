package polling

import "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

// Batch is what one GetRecords response delivered, in shard order.
type Batch struct {
	ShardID string
	// Records are the SDK's records exactly as Kinesis returned them, in order; they may be
	// empty (a caught-up shard still reports MillisBehindLatest).
	Records            []types.Record
	MillisBehindLatest int64
	// ShardEnd is true on the last batch of a closed shard; ChildShards are then the
	// shards that continue it.
	ShardEnd    bool
	ChildShards []types.ChildShard
}

// recordBytes is what a record counts against throughput and read-ahead: its data and
// partition key.
func recordBytes(rs []types.Record) int {
	n := 0
	for i := range rs {
		n += len(rs[i].Data)
		if rs[i].PartitionKey != nil {
			n += len(*rs[i].PartitionKey)
		}
	}
	return n
}
