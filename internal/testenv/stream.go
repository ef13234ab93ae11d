package testenv

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Stream is a fresh stream on kinesis-local, deleted when its test ends.
type Stream struct {
	env  *Env
	Name string
	ARN  string
}

// CreateStream creates a uniquely named provisioned stream with the given number of shards,
// waits until it is ACTIVE and deletes it (with its consumers) when t ends.
func (e *Env) CreateStream(t testing.TB, shards int) *Stream {
	t.Helper()
	ctx := t.Context()
	s := &Stream{env: e, Name: UniqueName(t, "s")}
	_, err := e.Kinesis.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(s.Name),
		ShardCount: aws.Int32(int32(shards)),
	})
	if err != nil {
		t.Fatalf("CreateStream %s: %v", s.Name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		_, err := e.Kinesis.DeleteStream(ctx, &kinesis.DeleteStreamInput{
			StreamName: aws.String(s.Name), EnforceConsumerDeletion: aws.Bool(true),
		})
		var notFound *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &notFound) {
			t.Logf("DeleteStream %s: %v", s.Name, err)
		}
	})
	s.ARN = s.WaitActive(t)
	return s
}

// WaitActive waits until the stream is ACTIVE again (after creation or a reshard) and returns its ARN.
func (s *Stream) WaitActive(t testing.TB) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := s.env.Kinesis.DescribeStreamSummary(t.Context(), &kinesis.DescribeStreamSummaryInput{
			StreamName: aws.String(s.Name),
		})
		if err != nil {
			t.Fatalf("DescribeStreamSummary %s: %v", s.Name, err)
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return aws.ToString(out.StreamDescriptionSummary.StreamARN)
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s not ACTIVE after 30 s (%s)", s.Name, out.StreamDescriptionSummary.StreamStatus)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Shards lists every shard of the stream, open and closed, in the order ListShards gives.
func (s *Stream) Shards(t testing.TB) []types.Shard {
	t.Helper()
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(s.Name)}
	for {
		out, err := s.env.Kinesis.ListShards(t.Context(), in)
		if err != nil {
			t.Fatalf("ListShards %s: %v", s.Name, err)
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			return shards
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

// OpenShards lists the shards that have no ending sequence number.
func (s *Stream) OpenShards(t testing.TB) []types.Shard {
	t.Helper()
	var open []types.Shard
	for _, sh := range s.Shards(t) {
		if sh.SequenceNumberRange == nil || sh.SequenceNumberRange.EndingSequenceNumber == nil {
			open = append(open, sh)
		}
	}
	return open
}

// Split splits shardID at the middle of its hash-key range and waits until the stream is ACTIVE.
func (s *Stream) Split(t testing.TB, shardID string) {
	t.Helper()
	var start, end *big.Int
	for _, sh := range s.Shards(t) {
		if aws.ToString(sh.ShardId) == shardID {
			start, _ = new(big.Int).SetString(aws.ToString(sh.HashKeyRange.StartingHashKey), 10)
			end, _ = new(big.Int).SetString(aws.ToString(sh.HashKeyRange.EndingHashKey), 10)
		}
	}
	if start == nil || end == nil {
		t.Fatalf("split: no shard %s with a hash-key range in %s", shardID, s.Name)
	}
	mid := new(big.Int).Add(start, end)
	mid.Rsh(mid, 1)
	mid.Add(mid, big.NewInt(1))
	_, err := s.env.Kinesis.SplitShard(t.Context(), &kinesis.SplitShardInput{
		StreamName: aws.String(s.Name), ShardToSplit: aws.String(shardID),
		NewStartingHashKey: aws.String(mid.String()),
	})
	if err != nil {
		t.Fatalf("SplitShard %s: %v", shardID, err)
	}
	s.WaitActive(t)
}

// Merge merges two adjacent shards and waits until the stream is ACTIVE.
func (s *Stream) Merge(t testing.TB, shardID, adjacentShardID string) {
	t.Helper()
	_, err := s.env.Kinesis.MergeShards(t.Context(), &kinesis.MergeShardsInput{
		StreamName: aws.String(s.Name), ShardToMerge: aws.String(shardID),
		AdjacentShardToMerge: aws.String(adjacentShardID),
	})
	if err != nil {
		t.Fatalf("MergeShards %s %s: %v", shardID, adjacentShardID, err)
	}
	s.WaitActive(t)
}

// Record is one record to put.
type Record struct {
	PartitionKey    string
	ExplicitHashKey string // optional
	Data            []byte
}

// Put is a record as the stream stored it.
type Put struct {
	Record
	ShardID        string
	SequenceNumber string
}

// Put puts records with PutRecords, 500 a call, in order, and returns where each landed.
// kinesis-local never throttles, so a failed entry fails the test.
func (s *Stream) Put(t testing.TB, records ...Record) []Put {
	t.Helper()
	puts := make([]Put, 0, len(records))
	for len(records) > 0 {
		n := min(500, len(records))
		entries := make([]types.PutRecordsRequestEntry, n)
		for i, r := range records[:n] {
			entries[i] = types.PutRecordsRequestEntry{Data: r.Data, PartitionKey: aws.String(r.PartitionKey)}
			if r.ExplicitHashKey != "" {
				entries[i].ExplicitHashKey = aws.String(r.ExplicitHashKey)
			}
		}
		out, err := s.env.Kinesis.PutRecords(t.Context(), &kinesis.PutRecordsInput{
			StreamName: aws.String(s.Name), Records: entries,
		})
		if err != nil {
			t.Fatalf("PutRecords %s: %v", s.Name, err)
		}
		for i, r := range out.Records {
			if r.ErrorCode != nil {
				t.Fatalf("PutRecords %s: entry %d: %s: %s", s.Name, i, aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
			}
			puts = append(puts, Put{Record: records[i], ShardID: aws.ToString(r.ShardId), SequenceNumber: aws.ToString(r.SequenceNumber)})
		}
		records = records[n:]
	}
	return puts
}

// PutN puts n records with partition keys pk-<i> and data "<prefix>-<i>" and returns them.
func (s *Stream) PutN(t testing.TB, prefix string, n int) []Put {
	t.Helper()
	records := make([]Record, n)
	for i := range records {
		records[i] = Record{PartitionKey: fmt.Sprintf("pk-%d", i), Data: fmt.Appendf(nil, "%s-%d", prefix, i)}
	}
	return s.Put(t, records...)
}

// ByShard groups puts by shard, each group in sequence-number order: the order a reader of
// that shard must see them in.
func ByShard(puts []Put) map[string][]Put {
	m := make(map[string][]Put)
	for _, p := range puts {
		m[p.ShardID] = append(m[p.ShardID], p)
	}
	for _, ps := range m {
		sort.SliceStable(ps, func(i, j int) bool {
			return CompareSequenceNumbers(ps[i].SequenceNumber, ps[j].SequenceNumber) < 0
		})
	}
	return m
}

// WithTimeout is t.Context bounded by d, so a stuck read fails the test instead of hanging it.
func WithTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// CompareSequenceNumbers orders two decimal sequence numbers with math/big: the tests' own
// yardstick, independent of the library's comparator (checkpointer.CompareSequenceNumbers),
// which is code under test. It panics on a string that is not a decimal number.
func CompareSequenceNumbers(a, b string) int {
	x, okA := new(big.Int).SetString(a, 10)
	y, okB := new(big.Int).SetString(b, 10)
	if !okA || !okB {
		panic(fmt.Sprintf("testenv: not sequence numbers: %q, %q", a, b))
	}
	return x.Cmp(y)
}
