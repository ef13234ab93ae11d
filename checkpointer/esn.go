package checkpointer

import (
	"errors"
	"fmt"
	"strconv"
)

// rank orders the kinds of position; a larger rank is further along the shard.
type rank uint8

const (
	rankUnset rank = iota // the zero ExtendedSequenceNumber: no position at all
	rankAtTimestamp
	rankTrimHorizon
	rankLatest
	rankSequence
	rankShardEnd
)

// Sentinel names as KCL writes them into the checkpoint attribute of a lease.
const (
	AtTimestampName = "AT_TIMESTAMP"
	TrimHorizonName = "TRIM_HORIZON"
	LatestName      = "LATEST"
	ShardEndName    = "SHARD_END"
)

// The sentinel positions. Their sub-sequence number is always 0.
var (
	// AtTimestamp: start from a timestamp given elsewhere (the consumer's configuration).
	AtTimestamp = ExtendedSequenceNumber{rank: rankAtTimestamp}
	// TrimHorizon: start from the oldest record still in the shard.
	TrimHorizon = ExtendedSequenceNumber{rank: rankTrimHorizon}
	// Latest: start after the newest record at the time processing starts.
	Latest = ExtendedSequenceNumber{rank: rankLatest}
	// ShardEnd: the shard is closed and every record in it was processed; its children may start.
	ShardEnd = ExtendedSequenceNumber{rank: rankShardEnd}
)

// maxSequenceDigits is the longest sequence number Kinesis accepts (its API pattern is
// 0|([1-9]\d{0,128})).
const maxSequenceDigits = 129

// ErrInvalidSequenceNumber is what every parse failure of an extended sequence number wraps.
var ErrInvalidSequenceNumber = errors.New("invalid extended sequence number")

// SequenceNumberError says why a sequence number / sub-sequence number pair was rejected.
// It matches ErrInvalidSequenceNumber with errors.Is.
type SequenceNumberError struct {
	SequenceNumber    string
	SubSequenceNumber int64
	Reason            string
}

func (e *SequenceNumberError) Error() string {
	return fmt.Sprintf("%v: %q sub-sequence %d: %s", ErrInvalidSequenceNumber, e.SequenceNumber, e.SubSequenceNumber, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidSequenceNumber) true.
func (e *SequenceNumberError) Is(target error) bool { return target == ErrInvalidSequenceNumber }

// ExtendedSequenceNumber is a position in a shard: a Kinesis sequence number and the
// sub-sequence number of a user record inside a KPL aggregate (0 for plain records), or a
// sentinel. The zero value is "no position" and sorts before everything else. Values are
// comparable with == and safe to copy.
type ExtendedSequenceNumber struct {
	seq  string // decimal digits, canonical (no leading zeros), only when rank == rankSequence
	sub  int64
	rank rank
}

// ParseSequenceNumber returns the position of sequenceNumber (decimal digits as Kinesis gives them, or a
// sentinel name such as "TRIM_HORIZON") and subSequenceNumber. Sentinels take
// subSequenceNumber 0. Anything else is a *SequenceNumberError.
func ParseSequenceNumber(sequenceNumber string, subSequenceNumber int64) (ExtendedSequenceNumber, error) {
	fail := func(reason string) (ExtendedSequenceNumber, error) {
		return ExtendedSequenceNumber{}, &SequenceNumberError{SequenceNumber: sequenceNumber, SubSequenceNumber: subSequenceNumber, Reason: reason}
	}
	if subSequenceNumber < 0 {
		return fail("negative sub-sequence number")
	}
	if r, ok := sentinelRank(sequenceNumber); ok {
		if subSequenceNumber != 0 {
			return fail("a sentinel has sub-sequence number 0")
		}
		return ExtendedSequenceNumber{rank: r}, nil
	}
	if reason := checkDigits(sequenceNumber); reason != "" {
		return fail(reason)
	}
	return ExtendedSequenceNumber{seq: sequenceNumber, sub: subSequenceNumber, rank: rankSequence}, nil
}

func sentinelRank(s string) (rank, bool) {
	switch s {
	case AtTimestampName:
		return rankAtTimestamp, true
	case TrimHorizonName:
		return rankTrimHorizon, true
	case LatestName:
		return rankLatest, true
	case ShardEndName:
		return rankShardEnd, true
	}
	return rankUnset, false
}

// checkDigits returns why s is not a canonical Kinesis sequence number, or "".
func checkDigits(s string) string {
	switch {
	case s == "":
		return "empty sequence number"
	case len(s) > maxSequenceDigits:
		return fmt.Sprintf("longer than %d digits", maxSequenceDigits)
	case len(s) > 1 && s[0] == '0':
		return "leading zero"
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "not a decimal sequence number or a sentinel"
		}
	}
	return ""
}

// SequenceNumber is the sequence number as Kinesis writes it, the sentinel's name, or "" for
// the zero value. It is what KCL stores in a lease's checkpoint attribute.
func (e ExtendedSequenceNumber) SequenceNumber() string {
	switch e.rank {
	case rankSequence:
		return e.seq
	case rankAtTimestamp:
		return AtTimestampName
	case rankTrimHorizon:
		return TrimHorizonName
	case rankLatest:
		return LatestName
	case rankShardEnd:
		return ShardEndName
	}
	return ""
}

// SubSequenceNumber is the index of the user record inside its KPL aggregate (0 otherwise).
func (e ExtendedSequenceNumber) SubSequenceNumber() int64 { return e.sub }

// IsZero reports whether e is the zero value (no position).
func (e ExtendedSequenceNumber) IsZero() bool { return e.rank == rankUnset }

// IsSentinel reports whether e is AT_TIMESTAMP, TRIM_HORIZON, LATEST or SHARD_END.
func (e ExtendedSequenceNumber) IsSentinel() bool {
	return e.rank != rankUnset && e.rank != rankSequence
}

// IsShardEnd reports whether e is SHARD_END.
func (e ExtendedSequenceNumber) IsShardEnd() bool { return e.rank == rankShardEnd }

// IsSequenceNumber reports whether e is a real position (a Kinesis sequence number).
func (e ExtendedSequenceNumber) IsSequenceNumber() bool { return e.rank == rankSequence }

// Compare returns -1, 0 or +1 as e is before, equal to or after o. Sequence numbers compare
// as unbounded integers, without allocating.
func (e ExtendedSequenceNumber) Compare(o ExtendedSequenceNumber) int {
	switch {
	case e.rank < o.rank:
		return -1
	case e.rank > o.rank:
		return 1
	case e.rank != rankSequence:
		return 0
	}
	if c := CompareSequenceNumbers(e.seq, o.seq); c != 0 {
		return c
	}
	switch {
	case e.sub < o.sub:
		return -1
	case e.sub > o.sub:
		return 1
	}
	return 0
}

// CompareSequenceNumbers compares two Kinesis sequence numbers as the integers they are,
// without allocating: -1, 0 or 1. They must be decimal digits without leading zeros, as
// Kinesis writes them: a longer number is then larger, and equal lengths compare as text.
func CompareSequenceNumbers(a, b string) int {
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// String is for logs: the sentinel's name, or the sequence number and sub-sequence number
// as "SEQ/SUB".
func (e ExtendedSequenceNumber) String() string {
	switch e.rank {
	case rankUnset:
		return "(none)"
	case rankSequence:
		return e.seq + "/" + strconv.FormatInt(e.sub, 10)
	}
	return e.SequenceNumber()
}
