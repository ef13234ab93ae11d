// Package replay is a loopback Kinesis that serves generated records as fast as a consumer
// takes them, or at a paced rate, speaking the service's real wire protocol: JSON 1.1 for
// DescribeStreamSummary, ListShards, GetShardIterator, GetRecords and the stream consumer
// calls, and SubscribeToShard as an HTTP/2 event stream written with the SDK's own event
// stream encoder, initial-response first, as Kinesis sends it.
//
// It exists to measure the consumer itself: kinesis-local pushes one event per second and
// caps everything else. Every record is verifiable (see Payload): it names its shard, its
// index in the shard, when it "arrived" and when the server wrote it, so a reader can count
// lost and duplicate records and measure latency from the wire. Any stream name exists and
// holds the same records, so each run can use a fresh stream with a fresh lease table.
//
// Only loopback: the server listens on 127.0.0.1.
package replay
