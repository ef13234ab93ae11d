package leases

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kclgo/kcl/internal/testenv"
)

// sharedItem is one entry of ../shared/testdata/kcl/lease_table_items.json.
type sharedItem struct {
	Description string                     `json:"description"`
	Item        map[string]json.RawMessage `json:"item"`
	Expect      sharedExpect               `json:"expect"`
}

type sharedPosition struct {
	Sequence string `json:"sequence"`
	Sentinel string `json:"sentinel"`
	Sub      int64  `json:"sub"`
}

func (p *sharedPosition) text() string {
	if p.Sentinel != "" {
		return p.Sentinel
	}
	return p.Sequence
}

type sharedExpect struct {
	Kind            string          `json:"kind"`
	LeaseKey        *string         `json:"leaseKey"`
	ShardID         *string         `json:"shardId"`
	Owner           json.RawMessage `json:"owner"` // absent, null or a string
	Counter         *int64          `json:"counter"`
	Checkpoint      *sharedPosition `json:"checkpoint"`
	Pending         *sharedPosition `json:"pending"`
	Parents         []string        `json:"parents"`
	Children        []string        `json:"children"`
	CheckpointOwner *string         `json:"checkpointOwner"`
	Stream          *struct {
		Account       string `json:"account"`
		Name          string `json:"name"`
		CreationEpoch int64  `json:"creationEpoch"`
	} `json:"stream"`
}

func loadSharedItems(t testing.TB) []sharedItem {
	t.Helper()
	raw, err := os.ReadFile(testenv.SharedFile(t, "testdata/kcl/lease_table_items.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Items []sharedItem `json:"items"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("lease_table_items.json: %v", err)
	}
	if len(doc.Items) == 0 {
		t.Fatal("lease_table_items.json has no items")
	}
	return doc.Items
}

// attributeValues converts DynamoDB JSON ({"S": ...}, {"N": ...}, ...) into SDK values.
func attributeValues(t testing.TB, item map[string]json.RawMessage) map[string]types.AttributeValue {
	t.Helper()
	out := make(map[string]types.AttributeValue, len(item))
	for name, raw := range item {
		av, err := attributeValue(raw)
		if err != nil {
			t.Fatalf("attribute %s: %v", name, err)
		}
		out[name] = av
	}
	return out
}

func attributeValue(raw json.RawMessage) (types.AttributeValue, error) {
	var typed map[string]json.RawMessage
	if err := json.Unmarshal(raw, &typed); err != nil || len(typed) != 1 {
		return nil, fmt.Errorf("not a DynamoDB JSON value: %s", raw)
	}
	for typ, v := range typed {
		switch typ {
		case "S", "N":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, err
			}
			if typ == "S" {
				return &types.AttributeValueMemberS{Value: s}, nil
			}
			return &types.AttributeValueMemberN{Value: s}, nil
		case "SS", "NS":
			var ss []string
			if err := json.Unmarshal(v, &ss); err != nil {
				return nil, err
			}
			if typ == "SS" {
				return &types.AttributeValueMemberSS{Value: ss}, nil
			}
			return &types.AttributeValueMemberNS{Value: ss}, nil
		case "B":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, err
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, err
			}
			return &types.AttributeValueMemberB{Value: b}, nil
		case "BOOL":
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				return nil, err
			}
			return &types.AttributeValueMemberBOOL{Value: b}, nil
		case "NULL":
			return &types.AttributeValueMemberNULL{Value: true}, nil
		}
		return nil, fmt.Errorf("unsupported DynamoDB JSON type %s", typ)
	}
	panic("unreachable")
}

// checkExpect compares a decoded lease with an item's expect fields (only those present).
func checkExpect(t *testing.T, l Lease, e sharedExpect) {
	t.Helper()
	if e.LeaseKey != nil && l.Key != *e.LeaseKey {
		t.Errorf("Key = %q, want %q", l.Key, *e.LeaseKey)
	}
	if e.ShardID != nil && l.ShardID != *e.ShardID {
		t.Errorf("ShardID = %q, want %q", l.ShardID, *e.ShardID)
	}
	if len(e.Owner) > 0 {
		var owner *string
		if err := json.Unmarshal(e.Owner, &owner); err != nil {
			t.Fatalf("expect.owner: %v", err)
		}
		want := ""
		if owner != nil {
			want = *owner
		}
		if l.Owner != want {
			t.Errorf("Owner = %q, want %q", l.Owner, want)
		}
	}
	if e.Counter != nil && l.Counter != *e.Counter {
		t.Errorf("Counter = %d, want %d", l.Counter, *e.Counter)
	}
	if e.Checkpoint != nil {
		if l.Checkpoint.SequenceNumber() != e.Checkpoint.text() || l.Checkpoint.SubSequenceNumber() != e.Checkpoint.Sub {
			t.Errorf("Checkpoint = %v, want %s/%d", l.Checkpoint, e.Checkpoint.text(), e.Checkpoint.Sub)
		}
		if (e.Checkpoint.Sentinel != "") != l.Checkpoint.IsSentinel() {
			t.Errorf("Checkpoint %v: sentinel-ness wrong", l.Checkpoint)
		}
	}
	if e.Pending != nil {
		if l.PendingCheckpoint.SequenceNumber() != e.Pending.text() || l.PendingCheckpoint.SubSequenceNumber() != e.Pending.Sub {
			t.Errorf("PendingCheckpoint = %v, want %s/%d", l.PendingCheckpoint, e.Pending.text(), e.Pending.Sub)
		}
	}
	if e.Parents != nil && !sameSet(l.ParentShardIDs, e.Parents) {
		t.Errorf("ParentShardIDs = %v, want %v", l.ParentShardIDs, e.Parents)
	}
	if e.Children != nil && !sameSet(l.ChildShardIDs, e.Children) {
		t.Errorf("ChildShardIDs = %v, want %v", l.ChildShardIDs, e.Children)
	}
	if e.CheckpointOwner != nil && l.CheckpointOwner != *e.CheckpointOwner {
		t.Errorf("CheckpointOwner = %q, want %q", l.CheckpointOwner, *e.CheckpointOwner)
	}
	if e.Stream != nil {
		want := StreamIdentifier{AccountID: e.Stream.Account, Name: e.Stream.Name, CreationEpoch: e.Stream.CreationEpoch}
		if l.Stream != want {
			t.Errorf("Stream = %+v, want %+v", l.Stream, want)
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
