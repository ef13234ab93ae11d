// Package multistream will let one consumer read several streams, with lease keys in KCL's
// multi-stream form (account:stream:creationEpoch:shardId).
//
// Nothing is implemented here yet; no issue has asked for it so far. The lease table already
// reads and writes multi-stream keys (package leases).
package multistream
