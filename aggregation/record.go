package aggregation

import "time"

// Record is one Kinesis record as GetRecords or SubscribeToShard returns it. Only Data is
// interpreted; the other fields are copied to the user records it yields.
type Record struct {
	Data         []byte
	PartitionKey string
	// ExplicitHashKey is empty for records read from Kinesis, which does not return it;
	// it is carried to a passed-through user record for callers that know it.
	ExplicitHashKey             string
	SequenceNumber              string
	ApproximateArrivalTimestamp time.Time
}

// UserRecord is one record as the producer wrote it: a user record of an aggregate, or
// a whole Kinesis record that was not aggregated.
type UserRecord struct {
	// Data aliases the Kinesis record's data; its capacity ends where it does, so an
	// append never overwrites the next user record. Keeping it keeps the whole Kinesis
	// record alive.
	Data []byte
	// PartitionKey and ExplicitHashKey are copies packed into buffers shared with other
	// keys (see Deaggregator.Append), unless Deaggregator.AliasKeys is set: then they are
	// views of the Kinesis record's data, and keeping one keeps the whole record alive.
	PartitionKey string
	// ExplicitHashKey is the decimal text as the producer sent it, or empty when unset.
	ExplicitHashKey string
	// SequenceNumber is the Kinesis record's; user records of one aggregate share it.
	SequenceNumber string
	// SubSequenceNumber is the position in the aggregate, counting from 0, kept even when
	// earlier user records were dropped by a hash-key filter. With SequenceNumber it
	// orders user records and is what a checkpoint stores. Always 0 for a record that
	// was not aggregated.
	SubSequenceNumber           uint64
	ApproximateArrivalTimestamp time.Time
	// Corrupt marks a whole Kinesis record passed on although it holds a KPL aggregate
	// that is corrupt (its checksum is right, its content breaks the schema), so that
	// the application can set it aside: Data is the whole aggregate, SubSequenceNumber 0.
	// Deaggregator never sets it (it returns a *CorruptError instead); a consumer told to
	// deliver corrupt aggregates does.
	Corrupt bool
	// Decoded is what a record decoder made of Data before delivery (kcl.Config.Decoder,
	// for example package glue's *Message), nil when none ran. Deaggregation never sets it.
	Decoded any
}

// HashKey returns the hash key Kinesis routes the user record by: its explicit hash key
// if set, else the MD5 of its partition key. For a record that was not aggregated and
// was read from Kinesis, the explicit hash key it was written with is unknown, so the
// result may not be the key that routed it.
func (u *UserRecord) HashKey() (HashKey, error) {
	return EffectiveHashKey(u.PartitionKey, u.ExplicitHashKey)
}

// Entry is a record for a producer: a user record to aggregate, or a Kinesis record to
// put (the fields of a PutRecords request entry).
type Entry struct {
	Data         []byte
	PartitionKey string
	// ExplicitHashKey is decimal text, or empty to route by the partition key.
	ExplicitHashKey string
}
