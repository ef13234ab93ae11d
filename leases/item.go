package leases

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kclgo/kcl/checkpointer"
)

// Attribute names of KCL's lease serializers (single- and multi-stream, KCL 2.x-3.5).
const (
	attrLeaseKey               = "leaseKey"                           // S, hash key
	attrLeaseOwner             = "leaseOwner"                         // S
	attrLeaseCounter           = "leaseCounter"                       // N
	attrOwnerSwitches          = "ownerSwitchesSinceCheckpoint"       // N
	attrCheckpoint             = "checkpoint"                         // S
	attrCheckpointSub          = "checkpointSubSequenceNumber"        // N
	attrPendingCheckpoint      = "pendingCheckpoint"                  // S
	attrPendingCheckpointSub   = "pendingCheckpointSubSequenceNumber" // N
	attrPendingCheckpointState = "pendingCheckpointState"             // B
	attrParentShardID          = "parentShardId"                      // SS (singular name, a set)
	attrChildShardIDs          = "childShardIds"                      // SS
	attrStartingHashKey        = "startingHashKey"                    // S, decimal
	attrEndingHashKey          = "endingHashKey"                      // S, decimal
	attrCheckpointOwner        = "checkpointOwner"                    // S, KCL 3.x
	attrThroughputKBps         = "throughputKBps"                     // N, KCL 3.x
	attrStreamName             = "streamName"                         // S, multi-stream: account:name:epoch
	attrShardID                = "shardId"                            // S, multi-stream
	attrEntityType             = "entityType"                         // S, KCL 3.5: LEASE or another kind of row
)

// entityTypeLease is the entityType KCL 3.5 writes on leases; rows without entityType are
// leases too (older KCL and this package).
const entityTypeLease = "LEASE"

// decodeLease turns a lease table item into a Lease. Rows that are not leases, or do not
// parse, give a *RowError.
func decodeLease(item map[string]types.AttributeValue) (Lease, error) {
	var l Lease
	d := decoder{item: item}
	key, ok, err := d.str(attrLeaseKey)
	if err != nil || !ok || key == "" {
		return Lease{}, &RowError{Attribute: attrLeaseKey, Err: errors.New("missing or not a non-empty string")}
	}
	l.Key = key
	fail := func(attr string, err error) (Lease, error) {
		return Lease{}, &RowError{LeaseKey: key, Attribute: attr, Err: err}
	}

	if av, present := item[attrEntityType]; present {
		s, isS := av.(*types.AttributeValueMemberS)
		if !isS || s.Value != entityTypeLease {
			what := "non-string"
			if isS {
				what = s.Value
			}
			return fail(attrEntityType+"="+what, ErrNotALease)
		}
	}

	counter, ok, err := d.int(attrLeaseCounter)
	switch {
	case err != nil:
		return fail(attrLeaseCounter, err)
	case !ok:
		return fail(attrLeaseCounter, errors.New("missing"))
	case counter < 0:
		return fail(attrLeaseCounter, fmt.Errorf("negative (%d)", counter))
	}
	l.Counter = counter

	if l.Owner, _, err = d.str(attrLeaseOwner); err != nil {
		return fail(attrLeaseOwner, err)
	}
	if l.OwnerSwitchesSinceCheckpoint, _, err = d.int(attrOwnerSwitches); err != nil {
		return fail(attrOwnerSwitches, err)
	}

	seq, ok, err := d.str(attrCheckpoint)
	if err != nil {
		return fail(attrCheckpoint, err)
	}
	if !ok {
		return fail(attrCheckpoint, errors.New("missing"))
	}
	sub, _, err := d.int(attrCheckpointSub)
	if err != nil {
		return fail(attrCheckpointSub, err)
	}
	if l.Checkpoint, err = checkpointer.ParseSequenceNumber(seq, sub); err != nil {
		return fail(attrCheckpoint, err)
	}

	pending, ok, err := d.str(attrPendingCheckpoint)
	if err != nil {
		return fail(attrPendingCheckpoint, err)
	}
	if ok && pending != "" {
		psub, _, err := d.int(attrPendingCheckpointSub)
		if err != nil {
			return fail(attrPendingCheckpointSub, err)
		}
		if l.PendingCheckpoint, err = checkpointer.ParseSequenceNumber(pending, psub); err != nil {
			return fail(attrPendingCheckpoint, err)
		}
	}
	if l.PendingCheckpointState, err = d.bytes(attrPendingCheckpointState); err != nil {
		return fail(attrPendingCheckpointState, err)
	}

	if l.ParentShardIDs, err = d.stringSet(attrParentShardID); err != nil {
		return fail(attrParentShardID, err)
	}
	if l.ChildShardIDs, err = d.stringSet(attrChildShardIDs); err != nil {
		return fail(attrChildShardIDs, err)
	}

	start, hasStart, err := d.str(attrStartingHashKey)
	if err != nil {
		return fail(attrStartingHashKey, err)
	}
	end, hasEnd, err := d.str(attrEndingHashKey)
	if err != nil {
		return fail(attrEndingHashKey, err)
	}
	if hasStart || hasEnd {
		r := HashKeyRange{Start: start, End: end}
		if err := r.Validate(); err != nil {
			return fail(attrStartingHashKey+"/"+attrEndingHashKey, err)
		}
		l.HashKeyRange = r
	}

	if l.CheckpointOwner, _, err = d.str(attrCheckpointOwner); err != nil {
		return fail(attrCheckpointOwner, err)
	}
	if l.ThroughputKBps, err = d.float(attrThroughputKBps); err != nil {
		return fail(attrThroughputKBps, err)
	}

	// Stream and shard: multi-stream rows carry streamName and shardId; otherwise the key is
	// the shard id (or, from a writer that left those attributes out, the multi-stream key).
	streamName, hasStream, err := d.str(attrStreamName)
	if err != nil {
		return fail(attrStreamName, err)
	}
	shardID, hasShard, err := d.str(attrShardID)
	if err != nil {
		return fail(attrShardID, err)
	}
	switch {
	case hasStream:
		if l.Stream, err = ParseStreamIdentifier(streamName); err != nil {
			return fail(attrStreamName, err)
		}
		if !hasShard || shardID == "" {
			return fail(attrShardID, errors.New("missing on a multi-stream lease"))
		}
		if want := LeaseKey(l.Stream, shardID); want != key {
			return fail(attrLeaseKey, fmt.Errorf("multi-stream lease key should be %q", want))
		}
		l.ShardID = shardID
	default:
		if stream, shard, ok := splitMultiStreamKey(key); ok {
			l.Stream, l.ShardID = stream, shard
		} else {
			l.ShardID = key
		}
		if hasShard && shardID != l.ShardID {
			return fail(attrShardID, fmt.Errorf("%q does not match the lease key", shardID))
		}
	}
	return l, nil
}

// encodeNewLease is the item of a lease created by this package, in KCL's names and types.
// Counter, owner and checkpoint are written as given.
func encodeNewLease(l Lease) (map[string]types.AttributeValue, error) {
	if l.Key == "" {
		return nil, errors.New("lease has no key")
	}
	if l.ShardID == "" {
		return nil, fmt.Errorf("lease %s has no shard id", l.Key)
	}
	if want := LeaseKey(l.Stream, l.ShardID); want != l.Key {
		return nil, fmt.Errorf("lease key %q does not match stream %q and shard %q (want %q)", l.Key, l.Stream, l.ShardID, want)
	}
	if l.Checkpoint.IsZero() {
		return nil, fmt.Errorf("lease %s has no checkpoint (use a sentinel such as TRIM_HORIZON)", l.Key)
	}
	item := map[string]types.AttributeValue{
		attrLeaseKey:      str(l.Key),
		attrLeaseCounter:  num(l.Counter),
		attrOwnerSwitches: num(l.OwnerSwitchesSinceCheckpoint),
		attrCheckpoint:    str(l.Checkpoint.SequenceNumber()),
		attrCheckpointSub: num(l.Checkpoint.SubSequenceNumber()),
	}
	if l.Owner != "" {
		item[attrLeaseOwner] = str(l.Owner)
	}
	if !l.PendingCheckpoint.IsZero() {
		item[attrPendingCheckpoint] = str(l.PendingCheckpoint.SequenceNumber())
		item[attrPendingCheckpointSub] = num(l.PendingCheckpoint.SubSequenceNumber())
	}
	if len(l.PendingCheckpointState) > 0 {
		item[attrPendingCheckpointState] = &types.AttributeValueMemberB{Value: l.PendingCheckpointState}
	}
	if ss := stringSet(l.ParentShardIDs); ss != nil {
		item[attrParentShardID] = ss
	}
	if ss := stringSet(l.ChildShardIDs); ss != nil {
		item[attrChildShardIDs] = ss
	}
	if !l.HashKeyRange.IsZero() {
		if err := l.HashKeyRange.Validate(); err != nil {
			return nil, fmt.Errorf("lease %s: %w", l.Key, err)
		}
		item[attrStartingHashKey] = str(l.HashKeyRange.Start)
		item[attrEndingHashKey] = str(l.HashKeyRange.End)
	}
	if l.CheckpointOwner != "" {
		item[attrCheckpointOwner] = str(l.CheckpointOwner)
	}
	if !l.Stream.IsZero() {
		item[attrStreamName] = str(l.Stream.String())
		item[attrShardID] = str(l.ShardID)
	}
	return item, nil
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// stringSet is a DynamoDB string set of the distinct non-empty values, or nil when there
// are none (DynamoDB has no empty sets).
func stringSet(values []string) types.AttributeValue {
	var ss []string
	for _, v := range values {
		if v != "" && !slices.Contains(ss, v) {
			ss = append(ss, v)
		}
	}
	if len(ss) == 0 {
		return nil
	}
	return &types.AttributeValueMemberSS{Value: ss}
}

// decoder reads typed attributes; a present attribute of the wrong type is an error.
type decoder struct {
	item map[string]types.AttributeValue
}

func typeName(av types.AttributeValue) string {
	switch av.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberB:
		return "B"
	case *types.AttributeValueMemberSS:
		return "SS"
	case *types.AttributeValueMemberNS:
		return "NS"
	case *types.AttributeValueMemberBS:
		return "BS"
	case *types.AttributeValueMemberBOOL:
		return "BOOL"
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberL:
		return "L"
	case *types.AttributeValueMemberM:
		return "M"
	}
	return fmt.Sprintf("%T", av)
}

func (d decoder) str(name string) (string, bool, error) {
	av, ok := d.item[name]
	if !ok {
		return "", false, nil
	}
	s, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		return "", false, fmt.Errorf("want type S, got %s", typeName(av))
	}
	return s.Value, true, nil
}

func (d decoder) int(name string) (int64, bool, error) {
	av, ok := d.item[name]
	if !ok {
		return 0, false, nil
	}
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		return 0, false, fmt.Errorf("want type N, got %s", typeName(av))
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%q is not a 64-bit integer", n.Value)
	}
	return v, true, nil
}

func (d decoder) float(name string) (float64, error) {
	av, ok := d.item[name]
	if !ok {
		return 0, nil
	}
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("want type N, got %s", typeName(av))
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", n.Value)
	}
	return v, nil
}

func (d decoder) bytes(name string) ([]byte, error) {
	av, ok := d.item[name]
	if !ok {
		return nil, nil
	}
	b, ok := av.(*types.AttributeValueMemberB)
	if !ok {
		return nil, fmt.Errorf("want type B, got %s", typeName(av))
	}
	return b.Value, nil
}

func (d decoder) stringSet(name string) ([]string, error) {
	av, ok := d.item[name]
	if !ok {
		return nil, nil
	}
	ss, ok := av.(*types.AttributeValueMemberSS)
	if !ok {
		return nil, fmt.Errorf("want type SS, got %s", typeName(av))
	}
	return slices.Clone(ss.Value), nil
}
