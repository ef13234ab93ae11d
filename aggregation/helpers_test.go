package aggregation

import (
	"crypto/md5"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// frame wraps protobuf bytes as a KPL aggregate with a valid checksum.
func frame(pb []byte) []byte {
	sum := md5.Sum(pb)
	out := append([]byte(magic), pb...)
	return append(out, sum[:]...)
}

// pbBuilder writes protobuf fields by hand, so tests can build aggregates no encoder
// would: fields out of order, unknown fields, indexes past the tables.
type pbBuilder []byte

func (b pbBuilder) bytes(num protowire.Number, v []byte) pbBuilder {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func (b pbBuilder) str(num protowire.Number, v string) pbBuilder {
	return b.bytes(num, []byte(v))
}

func (b pbBuilder) varint(num protowire.Number, v uint64) pbBuilder {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// userRecord is a Record message with a partition key index, data and, if ehk >= 0, an
// explicit hash key index.
func userRecord(pk uint64, ehk int, data string) []byte {
	r := pbBuilder(nil).varint(fieldPartitionKeyIndex, pk)
	if ehk >= 0 {
		r = r.varint(fieldExplicitHashKeyIndex, uint64(ehk))
	}
	return r.str(fieldData, data)
}

const testSeq = "49590338271490256608559692538361571095921575989136588898"

func testRecord(data []byte) Record {
	return Record{
		Data:                        data,
		PartitionKey:                "outer",
		SequenceNumber:              testSeq,
		ApproximateArrivalTimestamp: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
	}
}
