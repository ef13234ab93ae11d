package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// EndShard ends a subscription to a closed shard the way Kinesis does and kinesis-local
// does not: it passes the emulator's events through until the subscription is caught up,
// that is the first event with no records and MillisBehindLatest 0, and puts in its place a
// final SubscribeToShardEvent with no records, MillisBehindLatest 0, ChildShards set to
// Children and no ContinuationSequenceNumber; then the stream ends cleanly. Apply it only to
// a closed shard: on an open one it ends the subscription at its first idle moment.
type EndShard struct {
	// Children are the closed shard's children, e.g. from ChildrenOf.
	Children []types.ChildShard
	// LastSequenceNumber, when set, keeps the stream going until a record with this
	// sequence number or a later one has passed, even if an empty caught-up event comes first.
	LastSequenceNumber string
}

// Inject implements Fault.
func (f EndShard) Inject(_ Call, req *http.Request, next http.RoundTripper) (*http.Response, error) {
	payload, err := finalEventPayload(f.Children)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	return relay(req, next, &endShardStep{last: f.LastSequenceNumber, payload: payload})
}

// String names the fault in Call.Fault.
func (f EndShard) String() string { return fmt.Sprintf("end shard with %d children", len(f.Children)) }

// endShardStep replaces the first caught-up event with the final event of a closed shard.
type endShardStep struct {
	last    string
	reached bool
	payload []byte
}

func (s *endShardStep) message(m eventstream.Message, raw []byte, out *bytes.Buffer) error {
	if eventType(m) != "SubscribeToShardEvent" {
		out.Write(raw)
		return nil
	}
	var ev struct {
		Records            []struct{ SequenceNumber string }
		MillisBehindLatest *int64
	}
	if err := json.Unmarshal(m.Payload, &ev); err != nil {
		out.Write(raw) // not ours to judge: the caller's SDK reports it
		return nil
	}
	for _, r := range ev.Records {
		if s.last != "" && notBefore(r.SequenceNumber, s.last) {
			s.reached = true
		}
	}
	caughtUp := len(ev.Records) == 0 && ev.MillisBehindLatest != nil && *ev.MillisBehindLatest == 0
	if !caughtUp || (s.last != "" && !s.reached) {
		out.Write(raw)
		return nil
	}
	final := eventstream.Message{Headers: m.Headers, Payload: s.payload}
	if err := eventstream.NewEncoder().Encode(out, final); err != nil {
		return fmt.Errorf("faults: encode the final event: %w", err)
	}
	return io.EOF
}

// finalEventPayload is the JSON of a shard's last SubscribeToShardEvent: no records, no
// ContinuationSequenceNumber, the children.
func finalEventPayload(children []types.ChildShard) ([]byte, error) {
	type hashKeyRange struct{ StartingHashKey, EndingHashKey string }
	type childShard struct {
		ShardId      string
		ParentShards []string
		HashKeyRange *hashKeyRange `json:",omitempty"`
	}
	cs := make([]childShard, 0, len(children))
	for _, c := range children {
		j := childShard{ShardId: deref(c.ShardId), ParentShards: c.ParentShards}
		if j.ParentShards == nil {
			j.ParentShards = []string{}
		}
		if c.HashKeyRange != nil {
			j.HashKeyRange = &hashKeyRange{deref(c.HashKeyRange.StartingHashKey), deref(c.HashKeyRange.EndingHashKey)}
		}
		cs = append(cs, j)
	}
	b, err := json.Marshal(struct {
		Records            []struct{}
		MillisBehindLatest int64
		ChildShards        []childShard
	}{Records: []struct{}{}, ChildShards: cs})
	if err != nil {
		return nil, fmt.Errorf("faults: encode the final event: %w", err)
	}
	return b, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// notBefore says whether sequence number a is at or after b, by math/big: the faults judge
// positions by their own yardstick, not by the library's comparator under test.
func notBefore(a, b string) bool {
	x, okA := new(big.Int).SetString(a, 10)
	y, okB := new(big.Int).SetString(b, 10)
	return okA && okB && x.Cmp(y) >= 0
}
