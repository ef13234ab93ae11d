// Package chaos is kcl's Jepsen-style test of its whole promise: at-least-once delivery, in
// order per shard, duplicates only after a lease changed hands and only past the previous
// owner's last checkpoint, while real worker processes are killed, frozen, drained, stalled,
// throttled and resharded under.
//
// A run has four parts that share nothing but files:
//
//   - the producer (in the driver process) puts records with self-checking payloads (run id,
//     counter, put time, CRC-32), some of them KPL-aggregated, and logs every acknowledged
//     user record with its shard, sequence and sub-sequence number (producer.jsonl);
//   - N worker processes, each a re-exec of the driver's own binary running WorkerMain, built
//     on kcl's public API alone: they log every delivered record, every checkpoint and every
//     tenure (one holding of one shard's lease) as JSON lines (worker-*.jsonl), and after
//     Stop or Drain how many of kcl's goroutines are left;
//   - the scheduler draws the faults from a seed (printed; the same seed replays the same
//     schedule) and applies them: SIGKILL and a replacement, SIGSTOP past the failover time
//     then SIGCONT, a graceful Drain, split and merge while records flow, DynamoDB throttling
//     and connection resets on the lease table, Kinesis throttling, expired iterators, cut
//     enhanced fan-out streams and a worker whose processing stalls past the failover time.
//     Faults on SDK calls go through internal/faults inside the worker, switched on and off
//     through a control file the scheduler writes (events.jsonl logs every fault);
//   - the verifier reads only those logs and the stream's final state (read with the plain
//     SDK) and reports lost acknowledged puts, unexplained duplicates, out-of-order
//     deliveries, children delivered before their parents' last record, two workers
//     delivering one shard at once past the failover time, leaked goroutines and data races.
//
// Run is the driver; cmd/kcl-chaos runs it by hand (-duration 1h), TestChaos in CI.
// KCL_CHAOS_BROKEN switches the workers to a deliberately broken consumer, to show the
// verifier fails.
package chaos
