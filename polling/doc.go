// Package polling reads Kinesis shards with GetShardIterator and GetRecords and hands on
// the raw Kinesis records, in order, with their metadata.
//
// A Poller holds a client and a configuration; each ReadShard call starts a ShardReader
// for one shard. The reader's Batches channel delivers one Batch per GetRecords response,
// never skipping or repeating a record, and is closed when the reader stops: at the end of
// a closed shard (the last batch has ShardEnd and the ChildShards that continue it; Err is
// nil), when its context ends or Close is called (Err is the context's cause), or on a
// failure retrying cannot fix (Err is a *PermanentError carrying the shard id and
// unwrapping to the SDK's error).
//
// # Pacing
//
// A shard allows 5 GetRecords calls and 2 MiB per second for all its polling readers
// together, and throttles for 5 s after a response of 10 MiB. A reader keeps within these:
// its calls start at least 200 ms apart, a byte budget keeps its average at or below
// 2 MiB/s, it pauses 5 s after a 10 MiB response, and when a response shows it caught up
// (MillisBehindLatest 0 and fewer records than the Limit) it waits an idle delay of 200 ms
// before polling again; while behind it does not idle. On an idle shard that gives a propagation delay of about
// 200 ms, and uses the shard's whole call rate: with several applications polling one
// stream, lower WithMaxCallsPerSecond or raise WithIdleDelay.
//
// # Faults
//
// Throttling is retried after a jittered exponential backoff, as are transient failures
// (5xx answers, cut connections, calls beyond WithCallTimeout), without limit: each retry
// is logged, and throttles reach Metrics. Three transient GetRecords failures in a row
// also replace the iterator. An expired iterator is replaced by one right after the last
// record the reader handed on (delivered or held in its read-ahead), or at the start
// position when it handed on none. A reader started at LATEST pins that position to the
// time of its first GetShardIterator call less a second (AT_TIMESTAMP), so a fresh iterator
// never jumps to a newer LATEST and skips what arrived in between; the second allows for
// this machine's clock running ahead of Kinesis's, at the cost of perhaps a few records from
// just before LATEST.
// Errors are told apart by the SDK's error types and codes, never by their text.
//
// # Backpressure
//
// A reader holds at most a few batches (3 by default) that its consumer has not taken, and
// makes no further GetRecords call once those hold 8 MiB; it resumes when the consumer
// takes. Memory therefore stays bounded however long the consumer stalls.
package polling
