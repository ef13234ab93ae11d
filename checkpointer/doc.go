// Package checkpointer tracks where the processing of one shard stands and records it.
//
// An [ExtendedSequenceNumber] is a Kinesis sequence number plus the sub-sequence number of a
// user record inside a KPL aggregate, or one of the sentinel positions KCL keeps in a lease
// table. They order as AT_TIMESTAMP < TRIM_HORIZON < LATEST < every real sequence number <
// SHARD_END; real ones compare as big integers, then by sub-sequence number.
//
// A [Checkpointer] belongs to one lease (one shard) for as long as this worker holds it. The
// consumer tells it what was delivered to the application ([Checkpointer.Delivered]) and what
// the application finished ([Checkpointer.Processed]); the application, or a [Strategy]
// (every N records, every interval), checkpoints. A checkpoint only moves forward and never
// past what was delivered; writes go through a [Writer] (the lease coordinator), which fences
// them on lease ownership so that a worker that lost the lease gets [ErrLeaseLost] instead of
// overwriting the new owner's progress. DynamoDB throttling, and transient failures the SDK
// gave up on, are retried with jittered backoff for as long as the caller's context allows.
//
// This package does not know about lease tables; package leases implements [Writer].
package checkpointer
