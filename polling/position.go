package polling

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// ErrInvalidStartPosition is wrapped by the error ReadShard returns for a start position
// that names no valid place in a shard.
var ErrInvalidStartPosition = errors.New("polling: invalid start position")

// StartPosition says where a shard reader starts.
type StartPosition struct {
	Type           types.ShardIteratorType // TRIM_HORIZON, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER
	SequenceNumber string                  // for AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER
	Timestamp      time.Time               // for AT_TIMESTAMP
}

// TrimHorizon starts at the oldest record the shard holds.
func TrimHorizon() StartPosition { return StartPosition{Type: types.ShardIteratorTypeTrimHorizon} }

// Latest starts after the newest record: only records put from now on are read.
func Latest() StartPosition { return StartPosition{Type: types.ShardIteratorTypeLatest} }

// AtTimestamp starts at the first record that arrived at or after t.
func AtTimestamp(t time.Time) StartPosition {
	return StartPosition{Type: types.ShardIteratorTypeAtTimestamp, Timestamp: t}
}

// AtSequenceNumber starts at the record with sequence number seq.
func AtSequenceNumber(seq string) StartPosition {
	return StartPosition{Type: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: seq}
}

// AfterSequenceNumber starts right after the record with sequence number seq, e.g. after a
// checkpoint.
func AfterSequenceNumber(seq string) StartPosition {
	return StartPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: seq}
}

func (p StartPosition) String() string {
	switch p.Type {
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		return string(p.Type) + " " + p.SequenceNumber
	case types.ShardIteratorTypeAtTimestamp:
		return string(p.Type) + " " + p.Timestamp.Format(time.RFC3339Nano)
	}
	return string(p.Type)
}

func (p StartPosition) validate() error {
	switch p.Type {
	case types.ShardIteratorTypeTrimHorizon, types.ShardIteratorTypeLatest:
		return nil
	case types.ShardIteratorTypeAtTimestamp:
		if p.Timestamp.IsZero() {
			return fmt.Errorf("%w: %s without a timestamp", ErrInvalidStartPosition, p.Type)
		}
		return nil
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		if !isSequenceNumber(p.SequenceNumber) {
			return fmt.Errorf("%w: %s with sequence number %q, want decimal digits", ErrInvalidStartPosition, p.Type, p.SequenceNumber)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown type %q", ErrInvalidStartPosition, p.Type)
}

func isSequenceNumber(s string) bool {
	if s == "" || len(s) > 129 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// stream addresses a stream by ARN when given one, else by name.
type stream struct{ name, arn string }

func parseStream(s string) (stream, error) {
	switch {
	case s == "":
		return stream{}, errors.New("polling: empty stream name or ARN")
	case strings.HasPrefix(s, "arn:"):
		return stream{arn: s}, nil
	}
	return stream{name: s}, nil
}

func (s stream) String() string {
	if s.arn != "" {
		return s.arn
	}
	return s.name
}

func (s stream) iteratorInput(shardID string, p StartPosition) *kinesis.GetShardIteratorInput {
	in := &kinesis.GetShardIteratorInput{
		ShardId:           aws.String(shardID),
		ShardIteratorType: p.Type,
	}
	if s.arn != "" {
		in.StreamARN = aws.String(s.arn)
	} else {
		in.StreamName = aws.String(s.name)
	}
	switch p.Type {
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		in.StartingSequenceNumber = aws.String(p.SequenceNumber)
	case types.ShardIteratorTypeAtTimestamp:
		in.Timestamp = aws.Time(p.Timestamp)
	}
	return in
}
