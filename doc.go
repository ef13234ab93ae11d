// Package kcl consumes Amazon Kinesis Data Streams, the Go way: each shard whose lease this
// worker holds is a *Shard whose Batches channel delivers its records in order, and the
// application checkpoints what it processed.
//
// A Consumer (New, then Run) keeps its application's leases in a DynamoDB table in the schema
// of AWS's Kinesis Client Library, so workers in many processes and machines share the shards
// and an application can move between KCL and kcl without losing its place. Records arrive
// over enhanced fan-out (package efo) by default, or GetRecords polling (package polling);
// KPL aggregates are expanded into user records (package aggregation).
//
// Each shard ends, and its channel closes, for one reason that Shard.Err reports afterwards:
// the shard was closed by a reshard and fully delivered (ErrShardEnded), another worker took
// the lease (ErrLeaseLost, which also cancels Shard.Context), the consumer stopped or drained
// (ErrShutdown), or the shard failed (a *ShardError). A shard halted at a corrupt KPL
// aggregate (Config.CorruptRecords) ends with a *ShardError too, but its lease stays with
// this worker until the consumer stops, so that the shard does not go from worker to worker.
// Checkpoints are fenced on the lease: a worker that lost it cannot overwrite its
// successor's progress.
//
// Consumer.Stop ends everything now and releases the leases; Consumer.Drain delivers what is
// held, waits for the final checkpoints and then releases. Consumer.Process is a callback
// runner with automatic checkpoints; Shard.All is the channel as an iterator.
package kcl
