// Command bench is kcl's benchmark harness: what a Kinesis team runs before a capacity
// review. Run it with `go run ./bench <subcommand> [flags]`:
//
//	consume   read a stream with kcl (leases and checkpoints on), workers as separate
//	          processes, and with a bare AWS SDK loop doing the same reads, in the same run
//	latency   records arriving at random gaps; time from arrival, and from the wire, to the reader
//	sweep     a grid of consume runs over any of its settings
//	produce   put records (size, rate, partition-key spread, KPL aggregation) and time it
//
// Records come from the replay source by default (internal/replay: a loopback Kinesis on the
// real wire protocol, serving generated records as fast as they are taken or paced per
// shard), which isolates the library's own cost; -source emulators reads kinesis-local and
// -source aws a real stream, with the same output. The lease table is always real DynamoDB:
// dynalite, started as scripts/emulators.sh does, or DynamoDB itself with -source aws.
//
// Reports: a table on the terminal, and CSV, JSON and charts under -out. See bench/README.md.
package main
