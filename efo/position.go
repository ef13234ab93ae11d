package efo

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// StartPosition says where a shard reader starts.
type StartPosition struct {
	Type           types.ShardIteratorType // TRIM_HORIZON, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER
	SequenceNumber string                  // for AT_/AFTER_SEQUENCE_NUMBER
	Timestamp      time.Time               // for AT_TIMESTAMP
}

// Batch is what one SubscribeToShardEvent delivered, in shard order.
type Batch struct {
	ShardID            string
	Records            []types.Record // as Kinesis sent them, in order
	MillisBehindLatest int64
	ShardEnd           bool               // true on the last batch of a closed shard
	ChildShards        []types.ChildShard // set when ShardEnd
}

// validate reports what is wrong with p, or nil.
func (p StartPosition) validate() error {
	switch p.Type {
	case types.ShardIteratorTypeTrimHorizon, types.ShardIteratorTypeLatest:
		if p.SequenceNumber != "" || !p.Timestamp.IsZero() {
			return fmt.Errorf("%s takes neither a sequence number nor a timestamp", p.Type)
		}
	case types.ShardIteratorTypeAtTimestamp:
		if p.Timestamp.IsZero() {
			return fmt.Errorf("%s needs a timestamp", p.Type)
		}
		if p.SequenceNumber != "" {
			return fmt.Errorf("%s takes no sequence number", p.Type)
		}
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		if !isSequenceNumber(p.SequenceNumber) {
			return fmt.Errorf("%s needs a decimal sequence number, got %q", p.Type, p.SequenceNumber)
		}
		if !p.Timestamp.IsZero() {
			return fmt.Errorf("%s takes no timestamp", p.Type)
		}
	case "":
		return fmt.Errorf("no position type")
	default:
		return fmt.Errorf("unknown position type %q", p.Type)
	}
	return nil
}

// sdk returns p in the SDK's shape.
func (p StartPosition) sdk() *types.StartingPosition {
	sp := &types.StartingPosition{Type: p.Type}
	if p.SequenceNumber != "" {
		sp.SequenceNumber = aws.String(p.SequenceNumber)
	}
	if !p.Timestamp.IsZero() {
		sp.Timestamp = aws.Time(p.Timestamp)
	}
	return sp
}

func (p StartPosition) String() string {
	switch {
	case p.SequenceNumber != "":
		return string(p.Type) + " " + p.SequenceNumber
	case !p.Timestamp.IsZero():
		return string(p.Type) + " " + p.Timestamp.UTC().Format(time.RFC3339Nano)
	}
	return string(p.Type)
}

// after is the position right after sequence number seq: where a resubscribe continues.
func after(seq string) StartPosition {
	return StartPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: seq}
}

// isSequenceNumber reports whether s is a plausible Kinesis sequence number: 1 to 128 decimal
// digits (Kinesis documents the pattern 0|([1-9]\d{0,128})).
func isSequenceNumber(s string) bool {
	if len(s) == 0 || len(s) > 129 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
