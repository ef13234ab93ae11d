package leases

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/kclgo/kcl/checkpointer"
)

// Lease is one row of the lease table: who processes a shard and where it stands.
type Lease struct {
	// Key is the table's hash key: the shard id for a single-stream application, or
	// "account:stream:creationEpoch:shardId" for a multi-stream one.
	Key string
	// Stream identifies the stream of a multi-stream lease; zero for single-stream leases.
	Stream StreamIdentifier
	// ShardID is the shard this lease covers.
	ShardID string
	// Owner is the worker holding the lease, "" when nobody does.
	Owner string
	// Counter is bumped by every take, renewal, release and checkpoint.
	Counter int64
	// Checkpoint is where processing resumes: records at or before it were processed.
	Checkpoint checkpointer.ExtendedSequenceNumber
	// PendingCheckpoint is KCL's two-phase checkpoint, zero when none is pending.
	PendingCheckpoint checkpointer.ExtendedSequenceNumber
	// PendingCheckpointState is the application state KCL 2.x stores with a pending checkpoint.
	PendingCheckpointState []byte
	// OwnerSwitchesSinceCheckpoint counts takes by another worker since the last checkpoint.
	OwnerSwitchesSinceCheckpoint int64
	// ParentShardIDs are the one (split) or two (merge) parents; they must reach SHARD_END first.
	ParentShardIDs []string
	// ChildShardIDs are recorded when the shard ended.
	ChildShardIDs []string
	// HashKeyRange is the shard's hash-key range, zero when the row does not record it.
	HashKeyRange HashKeyRange
	// CheckpointOwner is set by KCL 3.x during a graceful handoff; this package only reads it
	// and clears it on take and release, as KCL does.
	CheckpointOwner string
	// ThroughputKBps is KCL 3.x's throughput statistic (read only; never written here).
	ThroughputKBps float64
}

// Finished reports whether the shard was processed to its end (checkpoint SHARD_END).
func (l *Lease) Finished() bool { return l.Checkpoint.IsShardEnd() }

// StreamIdentifier names a stream in a multi-stream lease table the way KCL serialises it:
// "account:name:creationEpoch".
type StreamIdentifier struct {
	AccountID     string
	Name          string
	CreationEpoch int64
}

// IsZero reports whether s is the zero value (a single-stream lease).
func (s StreamIdentifier) IsZero() bool { return s == StreamIdentifier{} }

// String is KCL's serialised form, "account:name:creationEpoch", or "" for the zero value.
func (s StreamIdentifier) String() string {
	if s.IsZero() {
		return ""
	}
	return s.AccountID + ":" + s.Name + ":" + strconv.FormatInt(s.CreationEpoch, 10)
}

// ErrInvalidStreamIdentifier is wrapped by every StreamIdentifier parse failure.
var ErrInvalidStreamIdentifier = errors.New("invalid stream identifier")

// ParseStreamIdentifier parses KCL's "account:name:creationEpoch" (account and epoch are
// decimal digits; the name has no colon).
func ParseStreamIdentifier(s string) (StreamIdentifier, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return StreamIdentifier{}, fmt.Errorf("%w %q: want account:name:creationEpoch", ErrInvalidStreamIdentifier, s)
	}
	if !allDigits(parts[0]) {
		return StreamIdentifier{}, fmt.Errorf("%w %q: account %q is not numeric", ErrInvalidStreamIdentifier, s, parts[0])
	}
	if parts[1] == "" {
		return StreamIdentifier{}, fmt.Errorf("%w %q: empty stream name", ErrInvalidStreamIdentifier, s)
	}
	epoch, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || epoch < 0 || !allDigits(parts[2]) {
		return StreamIdentifier{}, fmt.Errorf("%w %q: creation epoch %q is not a non-negative integer", ErrInvalidStreamIdentifier, s, parts[2])
	}
	return StreamIdentifier{AccountID: parts[0], Name: parts[1], CreationEpoch: epoch}, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// LeaseKey returns the lease key of shardID: the shard id itself for a single-stream
// application (zero stream), "account:name:creationEpoch:shardId" for a multi-stream one.
func LeaseKey(stream StreamIdentifier, shardID string) string {
	if stream.IsZero() {
		return shardID
	}
	return stream.String() + ":" + shardID
}

// splitMultiStreamKey splits "account:name:epoch:shardId"; ok is false for any other form.
func splitMultiStreamKey(key string) (StreamIdentifier, string, bool) {
	i := strings.LastIndexByte(key, ':')
	if i < 0 {
		return StreamIdentifier{}, "", false
	}
	stream, err := ParseStreamIdentifier(key[:i])
	if err != nil || key[i+1:] == "" {
		return StreamIdentifier{}, "", false
	}
	return stream, key[i+1:], true
}

// HashKeyRange is a shard's inclusive range of 128-bit hash keys, as decimal strings (the
// form KCL stores).
type HashKeyRange struct {
	Start string
	End   string
}

// IsZero reports whether the range is unset.
func (r HashKeyRange) IsZero() bool { return r == HashKeyRange{} }

var maxHashKey = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

// Validate checks that both ends are decimal integers in [0, 2^128-1] and Start <= End.
func (r HashKeyRange) Validate() error {
	start, ok1 := parseHashKey(r.Start)
	end, ok2 := parseHashKey(r.End)
	switch {
	case !ok1:
		return fmt.Errorf("starting hash key %q is not a decimal integer in [0, 2^128-1]", r.Start)
	case !ok2:
		return fmt.Errorf("ending hash key %q is not a decimal integer in [0, 2^128-1]", r.End)
	case start.Cmp(end) > 0:
		return fmt.Errorf("starting hash key %s is after ending hash key %s", r.Start, r.End)
	}
	return nil
}

func parseHashKey(s string) (*big.Int, bool) {
	if !allDigits(s) {
		return nil, false
	}
	n, ok := new(big.Int).SetString(s, 10)
	return n, ok && n.Cmp(maxHashKey) <= 0
}
