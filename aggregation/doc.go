// Package aggregation turns Kinesis records into the user records that the Kinesis
// Producer Library (KPL) packed into them, and packs user records the same way.
//
// A KPL aggregate is a Kinesis record whose data is the 4 magic bytes F3 89 9A C2, a
// protobuf AggregatedRecord (tables of partition keys and explicit hash keys, then the
// user records, which refer to the tables by index) and the MD5 of the protobuf bytes.
//
// [Deaggregator.Append] expands one Kinesis record per call into a caller-owned slice.
// User records get sub-sequence numbers 0, 1, 2, ... in aggregate order and share the
// Kinesis record's sequence number; their data are sub-slices of the input, never
// copies, and their keys are copies (packed into shared buffers, so keeping a key does not
// keep the input alive) unless [Deaggregator.AliasKeys] is set. A record that is not a
// valid aggregate (no magic bytes, too short, wrong MD5, unparsable protobuf) is passed through unchanged with sub-sequence number 0, and
// [Result.Kind] says which case applied. An aggregate whose checksum is right but whose
// content breaks the schema (an index past its table, a missing required field, a
// malformed explicit hash key) is reported as a [*CorruptError] naming the record:
// nothing of it is delivered, because a partial aggregate would silently lose data.
//
// After a reshard the KPL can leave user records in an aggregate on a shard that does
// not own their hash keys, and re-sends them to the right shard. A Deaggregator made
// with [NewDeaggregator] drops exactly those user records and counts them in
// [Result.Dropped]; the Java KCL instead drops the whole aggregate, losing the user
// records that did belong to the shard.
//
// [HashKey] is a 128-bit value type for Kinesis hash keys, so range checks need no
// math/big; decimal text is produced only when asked for.
//
// [Encoder] and [Aggregate] write the KPL format byte for byte as the KPL does, for
// tests, examples and load generators.
package aggregation
