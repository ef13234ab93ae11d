package polling

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func TestStartPositionValidation(t *testing.T) {
	ts := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := map[string]struct {
		pos   StartPosition
		valid bool
	}{
		"trim horizon":         {TrimHorizon(), true},
		"latest":               {Latest(), true},
		"at timestamp":         {AtTimestamp(ts), true},
		"at sequence":          {AtSequenceNumber("49590338271490256608559692538361571095921575989136588898"), true},
		"after sequence":       {AfterSequenceNumber("0"), true},
		"empty type":           {StartPosition{}, false},
		"unknown type":         {StartPosition{Type: "AT_SHARD_END"}, false},
		"timestamp zero":       {StartPosition{Type: types.ShardIteratorTypeAtTimestamp}, false},
		"at without sequence":  {StartPosition{Type: types.ShardIteratorTypeAtSequenceNumber}, false},
		"after non-decimal":    {AfterSequenceNumber("49x"), false},
		"after sentinel":       {AfterSequenceNumber("TRIM_HORIZON"), false},
		"sequence with spaces": {AtSequenceNumber(" 1"), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.pos.validate()
			if tc.valid && err != nil {
				t.Fatalf("%v: %v", tc.pos, err)
			}
			if !tc.valid && !errors.Is(err, ErrInvalidStartPosition) {
				t.Fatalf("%v: got %v, want ErrInvalidStartPosition", tc.pos, err)
			}
		})
	}
}

func TestIteratorInput(t *testing.T) {
	ts := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	byName, _ := parseStream("orders")
	byARN, _ := parseStream("arn:aws:kinesis:us-east-1:123456789012:stream/orders")
	tests := map[string]struct {
		s    stream
		pos  StartPosition
		want kinesis.GetShardIteratorInput
	}{
		"name trim horizon": {byName, TrimHorizon(), kinesis.GetShardIteratorInput{
			StreamName: aws.String("orders"), ShardId: aws.String("shardId-1"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}},
		"arn after": {byARN, AfterSequenceNumber("42"), kinesis.GetShardIteratorInput{
			StreamARN: aws.String("arn:aws:kinesis:us-east-1:123456789012:stream/orders"), ShardId: aws.String("shardId-1"),
			ShardIteratorType: types.ShardIteratorTypeAfterSequenceNumber, StartingSequenceNumber: aws.String("42")}},
		"name at timestamp": {byName, AtTimestamp(ts), kinesis.GetShardIteratorInput{
			StreamName: aws.String("orders"), ShardId: aws.String("shardId-1"),
			ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: aws.Time(ts)}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := tc.s.iteratorInput("shardId-1", tc.pos)
			if aws.ToString(got.StreamName) != aws.ToString(tc.want.StreamName) ||
				aws.ToString(got.StreamARN) != aws.ToString(tc.want.StreamARN) ||
				aws.ToString(got.ShardId) != aws.ToString(tc.want.ShardId) ||
				got.ShardIteratorType != tc.want.ShardIteratorType ||
				aws.ToString(got.StartingSequenceNumber) != aws.ToString(tc.want.StartingSequenceNumber) ||
				!aws.ToTime(got.Timestamp).Equal(aws.ToTime(tc.want.Timestamp)) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestReadShardRejectsBadArguments(t *testing.T) {
	p, err := New(kinesis.New(kinesis.Options{Region: "us-east-1"}))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		stream, shard string
		pos           StartPosition
		sentinel      error
	}{
		"empty stream":   {"", "shardId-0", TrimHorizon(), nil},
		"empty shard":    {"s", "", TrimHorizon(), nil},
		"bad position":   {"s", "shardId-0", AtSequenceNumber(""), ErrInvalidStartPosition},
		"no position":    {"s", "shardId-0", StartPosition{}, ErrInvalidStartPosition},
		"zero timestamp": {"s", "shardId-0", AtTimestamp(time.Time{}), ErrInvalidStartPosition},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := p.ReadShard(context.Background(), tc.stream, tc.shard, tc.pos)
			if r != nil || err == nil {
				t.Fatalf("ReadShard accepted bad arguments: %v", err)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("got %v, want it to wrap %v", err, tc.sentinel)
			}
		})
	}
}
