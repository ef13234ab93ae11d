package leases

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kclgo/kcl/checkpointer"
)

func TestDecodeSharedItems(t *testing.T) {
	for _, it := range loadSharedItems(t) {
		t.Run(it.Description, func(t *testing.T) {
			l, err := decodeLease(attributeValues(t, it.Item))
			var rowErr *RowError
			switch it.Expect.Kind {
			case "lease":
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				checkExpect(t, l, it.Expect)
			case "not-a-lease":
				if !errors.As(err, &rowErr) || !errors.Is(err, ErrNotALease) {
					t.Fatalf("got %+v, %v; want a *RowError wrapping ErrNotALease", l, err)
				}
			case "invalid":
				if !errors.As(err, &rowErr) || errors.Is(err, ErrNotALease) {
					t.Fatalf("got %+v, %v; want a *RowError that is not ErrNotALease", l, err)
				}
				if rowErr.LeaseKey == "" || rowErr.Attribute == "" {
					t.Fatalf("RowError %+v does not name the row and the attribute", rowErr)
				}
			default:
				t.Fatalf("unknown expect.kind %q", it.Expect.Kind)
			}
		})
	}
}

// What we write for a lease uses exactly the names, types and values KCL wrote for it.
func TestEncodeMatchesSharedItems(t *testing.T) {
	for _, it := range loadSharedItems(t) {
		if it.Expect.Kind != "lease" {
			continue
		}
		t.Run(it.Description, func(t *testing.T) {
			want := attributeValues(t, it.Item)
			l, err := decodeLease(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := encodeNewLease(l)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			delete(want, attrThroughputKBps) // KCL 3.x's statistic: read, never written here
			for name, w := range want {
				g, ok := got[name]
				if !ok {
					t.Errorf("attribute %s (%s) not written", name, typeName(w))
					continue
				}
				if !sameValue(g, w) {
					t.Errorf("attribute %s: wrote %s %v, KCL has %s %v", name, typeName(g), g, typeName(w), w)
				}
			}
			for name, g := range got {
				if _, ok := want[name]; !ok {
					t.Errorf("wrote attribute %s (%s) that KCL's item does not have", name, typeName(g))
				}
			}
		})
	}
}

func sameValue(a, b types.AttributeValue) bool {
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		b, ok := b.(*types.AttributeValueMemberS)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberN:
		b, ok := b.(*types.AttributeValueMemberN)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberSS:
		b, ok := b.(*types.AttributeValueMemberSS)
		return ok && sameSet(a.Value, b.Value)
	case *types.AttributeValueMemberB:
		b, ok := b.(*types.AttributeValueMemberB)
		return ok && string(a.Value) == string(b.Value)
	}
	return false
}

func baseItem() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrLeaseKey:      str("shardId-000000000007"),
		attrLeaseCounter:  num(3),
		attrCheckpoint:    str("TRIM_HORIZON"),
		attrCheckpointSub: num(0),
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := map[string]struct {
		mutate   func(map[string]types.AttributeValue)
		attr     string
		notLease bool
	}{
		"no lease key":      {mutate: func(m map[string]types.AttributeValue) { delete(m, attrLeaseKey) }, attr: attrLeaseKey},
		"numeric lease key": {mutate: func(m map[string]types.AttributeValue) { m[attrLeaseKey] = num(1) }, attr: attrLeaseKey},
		"no counter":        {mutate: func(m map[string]types.AttributeValue) { delete(m, attrLeaseCounter) }, attr: attrLeaseCounter},
		"counter not integer": {mutate: func(m map[string]types.AttributeValue) {
			m[attrLeaseCounter] = &types.AttributeValueMemberN{Value: "1.5"}
		}, attr: attrLeaseCounter},
		"negative counter":    {mutate: func(m map[string]types.AttributeValue) { m[attrLeaseCounter] = num(-1) }, attr: attrLeaseCounter},
		"owner not a string":  {mutate: func(m map[string]types.AttributeValue) { m[attrLeaseOwner] = num(1) }, attr: attrLeaseOwner},
		"no checkpoint":       {mutate: func(m map[string]types.AttributeValue) { delete(m, attrCheckpoint) }, attr: attrCheckpoint},
		"garbage checkpoint":  {mutate: func(m map[string]types.AttributeValue) { m[attrCheckpoint] = str("12x") }, attr: attrCheckpoint},
		"sub not a number":    {mutate: func(m map[string]types.AttributeValue) { m[attrCheckpointSub] = str("0") }, attr: attrCheckpointSub},
		"bad pending":         {mutate: func(m map[string]types.AttributeValue) { m[attrPendingCheckpoint] = str("-5") }, attr: attrPendingCheckpoint},
		"parents as a list":   {mutate: func(m map[string]types.AttributeValue) { m[attrParentShardID] = str("shardId-0") }, attr: attrParentShardID},
		"hash key range half": {mutate: func(m map[string]types.AttributeValue) { m[attrStartingHashKey] = str("0") }, attr: attrStartingHashKey + "/" + attrEndingHashKey},
		"hash key over 2^128-1": {mutate: func(m map[string]types.AttributeValue) {
			m[attrStartingHashKey], m[attrEndingHashKey] = str("0"), str("340282366920938463463374607431768211456")
		}, attr: attrStartingHashKey + "/" + attrEndingHashKey},
		"hash key range reversed": {mutate: func(m map[string]types.AttributeValue) {
			m[attrStartingHashKey], m[attrEndingHashKey] = str("5"), str("4")
		}, attr: attrStartingHashKey + "/" + attrEndingHashKey},
		"throughput not a number": {mutate: func(m map[string]types.AttributeValue) { m[attrThroughputKBps] = str("fast") }, attr: attrThroughputKBps},
		"stream name malformed":   {mutate: func(m map[string]types.AttributeValue) { m[attrStreamName] = str("orders") }, attr: attrStreamName},
		"stream without shardId":  {mutate: func(m map[string]types.AttributeValue) { m[attrStreamName] = str("123456789012:orders:1700000000") }, attr: attrShardID},
		"stream key mismatch": {mutate: func(m map[string]types.AttributeValue) {
			m[attrStreamName], m[attrShardID] = str("123456789012:orders:1700000000"), str("shardId-000000000007")
		}, attr: attrLeaseKey},
		"shardId differs from key": {mutate: func(m map[string]types.AttributeValue) { m[attrShardID] = str("shardId-000000000008") }, attr: attrShardID},
		"entityType of other rows": {mutate: func(m map[string]types.AttributeValue) { m[attrEntityType] = str("LEADER") }, notLease: true},
		"entityType not a string":  {mutate: func(m map[string]types.AttributeValue) { m[attrEntityType] = num(1) }, notLease: true},
		"pending state not binary": {mutate: func(m map[string]types.AttributeValue) { m[attrPendingCheckpointState] = str("x") }, attr: attrPendingCheckpointState},
		"children as number set": {mutate: func(m map[string]types.AttributeValue) {
			m[attrChildShardIDs] = &types.AttributeValueMemberNS{Value: []string{"1"}}
		}, attr: attrChildShardIDs},
		"owner switches not number": {mutate: func(m map[string]types.AttributeValue) { m[attrOwnerSwitches] = str("1") }, attr: attrOwnerSwitches},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			item := baseItem()
			tc.mutate(item)
			l, err := decodeLease(item)
			var rowErr *RowError
			if !errors.As(err, &rowErr) {
				t.Fatalf("got %+v, %v; want a *RowError", l, err)
			}
			if tc.notLease != errors.Is(err, ErrNotALease) {
				t.Fatalf("ErrNotALease = %v, want %v (%v)", errors.Is(err, ErrNotALease), tc.notLease, err)
			}
			if !tc.notLease && rowErr.Attribute != tc.attr {
				t.Fatalf("Attribute = %q, want %q (%v)", rowErr.Attribute, tc.attr, err)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	tests := map[string]struct {
		mutate func(map[string]types.AttributeValue)
		check  func(*testing.T, Lease)
	}{
		"KCL 3.5 lease with entityType LEASE": {
			mutate: func(m map[string]types.AttributeValue) { m[attrEntityType] = str("LEASE") },
			check:  func(t *testing.T, l Lease) {},
		},
		"no sub-sequence number means 0": {
			mutate: func(m map[string]types.AttributeValue) {
				delete(m, attrCheckpointSub)
				m[attrCheckpoint] = str("123")
			},
			check: func(t *testing.T, l Lease) {
				if l.Checkpoint.SequenceNumber() != "123" || l.Checkpoint.SubSequenceNumber() != 0 {
					t.Fatalf("checkpoint %v", l.Checkpoint)
				}
			},
		},
		"multi-stream key without streamName": {
			mutate: func(m map[string]types.AttributeValue) {
				m[attrLeaseKey] = str("123456789012:orders:1700000000:shardId-000000000001")
			},
			check: func(t *testing.T, l Lease) {
				if l.Stream != (StreamIdentifier{"123456789012", "orders", 1700000000}) || l.ShardID != "shardId-000000000001" {
					t.Fatalf("stream %+v shard %q", l.Stream, l.ShardID)
				}
			},
		},
		"empty pending checkpoint is none": {
			mutate: func(m map[string]types.AttributeValue) { m[attrPendingCheckpoint] = str("") },
			check: func(t *testing.T, l Lease) {
				if !l.PendingCheckpoint.IsZero() {
					t.Fatalf("pending %v", l.PendingCheckpoint)
				}
			},
		},
		"pending state kept": {
			mutate: func(m map[string]types.AttributeValue) {
				m[attrPendingCheckpointState] = &types.AttributeValueMemberB{Value: []byte{1, 2}}
			},
			check: func(t *testing.T, l Lease) {
				if string(l.PendingCheckpointState) != "\x01\x02" {
					t.Fatalf("state %v", l.PendingCheckpointState)
				}
			},
		},
		"unknown attributes ignored": {
			mutate: func(m map[string]types.AttributeValue) { m["someFutureAttribute"] = str("x") },
			check:  func(t *testing.T, l Lease) {},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			item := baseItem()
			tc.mutate(item)
			l, err := decodeLease(item)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, l)
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	good := Lease{Key: "shardId-1", ShardID: "shardId-1", Checkpoint: checkpointer.TrimHorizon}
	tests := map[string]struct {
		mutate func(*Lease)
		want   string
	}{
		"no key":          {mutate: func(l *Lease) { l.Key = "" }, want: "no key"},
		"no shard":        {mutate: func(l *Lease) { l.ShardID = "" }, want: "no shard id"},
		"key mismatch":    {mutate: func(l *Lease) { l.Stream = StreamIdentifier{"1", "s", 2} }, want: "does not match"},
		"no checkpoint":   {mutate: func(l *Lease) { l.Checkpoint = checkpointer.ExtendedSequenceNumber{} }, want: "no checkpoint"},
		"bad hash range":  {mutate: func(l *Lease) { l.HashKeyRange = HashKeyRange{Start: "x", End: "1"} }, want: "starting hash key"},
		"fine as it is":   {mutate: func(*Lease) {}},
		"duplicate kids":  {mutate: func(l *Lease) { l.ChildShardIDs = []string{"a", "a"} }},
		"multi-stream ok": {mutate: func(l *Lease) { l.Stream = StreamIdentifier{"1", "s", 2}; l.Key = "1:s:2:shardId-1" }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l := good
			tc.mutate(&l)
			item, err := encodeNewLease(l)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if ss, ok := item[attrChildShardIDs].(*types.AttributeValueMemberSS); ok && len(ss.Value) != 1 {
					t.Fatalf("child set %v not deduplicated", ss.Value)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestLeaseKeyAndStreamIdentifier(t *testing.T) {
	s := StreamIdentifier{AccountID: "123456789012", Name: "orders", CreationEpoch: 1700000000}
	if got := LeaseKey(s, "shardId-000000000001"); got != "123456789012:orders:1700000000:shardId-000000000001" {
		t.Fatalf("multi-stream key %q", got)
	}
	if got := LeaseKey(StreamIdentifier{}, "shardId-000000000001"); got != "shardId-000000000001" {
		t.Fatalf("single-stream key %q", got)
	}
	for name, in := range map[string]string{
		"two parts": "1:orders", "account not numeric": "acct:orders:1", "empty name": "1::1",
		"epoch not numeric": "1:orders:x", "negative epoch": "1:orders:-1", "four parts": "1:a:b:2",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseStreamIdentifier(in); !errors.Is(err, ErrInvalidStreamIdentifier) {
				t.Fatalf("ParseStreamIdentifier(%q) = %v", in, err)
			}
		})
	}
}

func FuzzParseStreamIdentifier(f *testing.F) {
	f.Add("123456789012:orders:1700000000")
	f.Add("1:a:0")
	f.Add("::")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseStreamIdentifier(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidStreamIdentifier) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := ParseStreamIdentifier(id.String())
		if err != nil || again != id {
			t.Fatalf("round trip of %q: %+v, %v", s, again, err)
		}
		back, shard, ok := splitMultiStreamKey(LeaseKey(id, "shardId-1"))
		if !ok || back != id || shard != "shardId-1" {
			t.Fatalf("lease key of %+v does not split back: %+v %q %v", id, back, shard, ok)
		}
	})
}
