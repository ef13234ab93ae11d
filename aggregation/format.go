package aggregation

import (
	"crypto/md5"

	"google.golang.org/protobuf/encoding/protowire"
)

// The KPL aggregated record layout: magic | protobuf AggregatedRecord | MD5(protobuf).
const (
	magic        = "\xF3\x89\x9A\xC2"
	checksumSize = md5.Size
	// overhead is what an aggregate adds around its protobuf.
	overhead = len(magic) + checksumSize
)

// Field numbers of the KPL protobuf schema (messages.proto in the KPL):
//
//	AggregatedRecord { repeated string partition_key_table = 1;
//	                   repeated string explicit_hash_key_table = 2;
//	                   repeated Record records = 3; }
//	Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
//	         required bytes data = 3; repeated Tag tags = 4; }
//	Tag { required string key = 1; optional string value = 2; }
const (
	fieldPartitionKeyTable    = 1
	fieldExplicitHashKeyTable = 2
	fieldRecords              = 3

	fieldPartitionKeyIndex    = 1
	fieldExplicitHashKeyIndex = 2
	fieldData                 = 3
	fieldTags                 = 4

	fieldTagKey = 1
)

// The tags (field number and wire type, as one varint) the decoder looks for.
const (
	keyPartitionKeyTable    = fieldPartitionKeyTable<<3 | uint64(protowire.BytesType)
	keyExplicitHashKeyTable = fieldExplicitHashKeyTable<<3 | uint64(protowire.BytesType)
	keyRecords              = fieldRecords<<3 | uint64(protowire.BytesType)

	keyPartitionKeyIndex    = fieldPartitionKeyIndex<<3 | uint64(protowire.VarintType)
	keyExplicitHashKeyIndex = fieldExplicitHashKeyIndex<<3 | uint64(protowire.VarintType)
	keyData                 = fieldData<<3 | uint64(protowire.BytesType)
	keyTags                 = fieldTags<<3 | uint64(protowire.BytesType)
)

// DefaultMaxSize is the KPL's default AggregationMaxSize: the largest aggregate, in
// bytes of Kinesis record data (magic, protobuf and checksum), that it builds.
const DefaultMaxSize = 51200

// MaxRecordSize is the Kinesis limit on a record's data plus partition key on a stream
// with default settings. An aggregate's partition key is "a", so an aggregate meant for
// such a stream must stay within MaxRecordSize-1 bytes.
const MaxRecordSize = 1 << 20
