// Package leases coordinates which worker processes which shard, through a lease table in
// DynamoDB that uses the schema of AWS's Kinesis Client Library (KCL): a table written by KCL
// 2.x/3.x can be read here, and one written here can be read by KCL.
//
// A [Table] is the lease table: [Table.EnsureTable] creates it when missing (on-demand by
// default) and checks an existing one's key schema; [Table.ListLeases] reads it (rows that are
// not leases, such as KCL 3.5's worker-metrics and leader-lock rows, or that do not parse are
// reported as [*RowError] and left alone); [Table.CreateLeaseIfAbsent] adds leases (a
// conditional put, so two workers creating the same child lease is fine);
// [Table.DeleteFinishedLease] and [Table.DeleteLease] serve the consumer's cleanup.
//
// A [Coordinator] is one worker's view. Its renewer bumps the counter of every lease it
// holds every failoverTime/3 on its own goroutine; its taker scans the table, treats a lease
// whose counter has not moved for failoverTime on the local monotonic clock as expired, takes
// free and expired leases up to ceil(leases / workers), and otherwise steals one lease per
// cycle from the most loaded worker. Every take, renewal, release and checkpoint is a
// conditional update on the owner and the counter, so a worker that lost a lease can never
// overwrite the new owner's checkpoint. The user learns of acquired and lost leases through
// [Coordinator.Events] and each acquisition's Done channel; a lost lease makes later
// checkpoints fail with [ErrLeaseLost] at once. [Coordinator.Shutdown] releases every lease
// after the final checkpoints so other workers take them at their next taker cycle instead
// of waiting for them to expire.
package leases
