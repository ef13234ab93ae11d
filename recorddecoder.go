package kcl

import "context"

// RecordDecoder turns the data of a batch's records into values before the batch is
// delivered, setting each record's Decoded; package glue's *Decoder is one (Glue Schema
// Registry records). It runs on the shard's goroutine, in order, and must not fail the
// batch: a record that does not decode carries its error in Decoded and is delivered all
// the same.
type RecordDecoder interface {
	DecodeRecords(ctx context.Context, stream, shardID string, records []Record)
}
