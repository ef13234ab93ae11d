package polling

import "time"

// Metrics receives what a reader observes. Its methods are called from the readers'
// goroutines, concurrently for different shards, and must not block.
type Metrics interface {
	// OnGetRecords reports a successful GetRecords call: the records and bytes (data plus
	// partition keys) it returned, the shard's MillisBehindLatest and the call's duration.
	OnGetRecords(shardID string, records, bytes int, millisBehindLatest int64, took time.Duration)
	// OnThrottle reports a throttled GetRecords or GetShardIterator call.
	OnThrottle(shardID string)
}

type nopMetrics struct{}

func (nopMetrics) OnGetRecords(string, int, int, int64, time.Duration) {}
func (nopMetrics) OnThrottle(string)                                   {}
