package kcl

// RecordMetrics counts Kinesis and user records the consumer read but did not deliver as
// user records. A Metrics that also implements it receives these counts; NoMetrics does, so
// a Metrics embedding NoMetrics may override either method alone.
type RecordMetrics interface {
	// UserRecordsDropped: n user records of KPL aggregates read from the shard were outside
	// its hash-key range and left out. After a reshard the KPL can put user records bound
	// for a child shard into an aggregate routed to the parent; it re-sends them to the
	// right shard.
	UserRecordsDropped(stream, shardID string, n int)
	// CorruptRecord: a Kinesis record of the shard holds a corrupt KPL aggregate; err is
	// the *aggregation.CorruptError, and Config.CorruptRecords says what was done with it.
	CorruptRecord(stream, shardID string, err error)
}

func (NoMetrics) UserRecordsDropped(string, string, int) {}
func (NoMetrics) CorruptRecord(string, string, error)    {}

// recordMetrics is m's RecordMetrics, or one that discards.
func recordMetrics(m Metrics) RecordMetrics {
	if rm, ok := m.(RecordMetrics); ok {
		return rm
	}
	return NoMetrics{}
}
