// Package kcl consumes Amazon Kinesis Data Streams: each leased shard is a channel of
// batches, leases are coordinated through a DynamoDB table in the schema of AWS's Kinesis
// Client Library (KCL), and records arrive through enhanced fan-out by default or through
// GetRecords polling.
//
// The building blocks live in their own packages: aggregation (KPL deaggregation), leases
// (the lease table and coordinator), checkpointer (extended sequence numbers and checkpoint
// strategies), efo (SubscribeToShard retrieval) and polling (GetRecords retrieval).
package kcl
