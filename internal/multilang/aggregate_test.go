package multilang

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/kclgo/kcl/aggregation"
	"github.com/kclgo/kcl/internal/testenv"
)

// TestAggregatesResumeMidAggregate: KPL aggregates reach the child as user records with
// their sub-sequence numbers; a child that checkpoints in the middle of an aggregate and
// crashes is restarted with initialize at that (sequence, sub-sequence) and gets the user
// records right after it, the rest of that aggregate included.
func TestAggregatesResumeMidAggregate(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	var recs []testenv.Record
	var want []string
	for a := range 3 {
		enc := aggregation.NewEncoder(0)
		for u := range 5 {
			d := fmt.Sprintf("agg%d-user%d", a, u)
			if ok, err := enc.Add(aggregation.Entry{PartitionKey: d, Data: []byte(d)}); err != nil || !ok {
				t.Fatalf("aggregate: %v %v", ok, err)
			}
			want = append(want, d)
		}
		recs = append(recs, testenv.Record{PartitionKey: "a", Data: enc.Encode(nil)})
	}
	puts := stream.Put(t, recs...)
	shard := puts[0].ShardID
	argv, dir := fakeChildCommand(t, "checkpoint,half-crash-once")
	r := startDaemon(t, env, testConfig(t, stream, table, argv))
	waitFor(t, 60*time.Second, "the checkpoint at the last user record", func() bool {
		l, err := tableLease(t, env, table, shard)
		return err == nil && l.Checkpoint.SequenceNumber() == puts[len(puts)-1].SequenceNumber && l.Checkpoint.SubSequenceNumber() == 4
	})
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	v := view(t, dir)
	var pids []int
	for _, e := range v.entries {
		if e.Action == ActionInitialize {
			pids = append(pids, e.Pid)
		}
	}
	if len(pids) != 2 {
		t.Fatalf("%d children; want the crashed one and its replacement", len(pids))
	}
	var first, second []seenRecord
	var init2 map[string]any
	for _, e := range v.entries {
		switch {
		case e.Action == ActionProcessRecords:
			var m struct {
				Records []seenRecord `json:"records"`
			}
			json.Unmarshal(e.Raw, &m)
			if e.Pid == pids[0] {
				first = append(first, m.Records...)
			} else {
				second = append(second, m.Records...)
			}
		case e.Action == ActionInitialize && e.Pid == pids[1]:
			json.Unmarshal(e.Raw, &init2)
		}
	}
	// The first child checkpointed at first[len/2] before crashing.
	mid := first[len(first)/2]
	if init2["sequenceNumber"] != mid.SequenceNumber || init2["subSequenceNumber"] != float64(mid.SubSequenceNumber) {
		t.Errorf("restarted child's initialize %v; want %s/%d", init2, mid.SequenceNumber, mid.SubSequenceNumber)
	}
	var got []string
	for _, r := range first[:len(first)/2+1] {
		got = append(got, string(r.Data))
	}
	for _, r := range second {
		got = append(got, string(r.Data))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("user records (checkpointed part of the first child, then the second child):\n got %v\nwant %v", got, want)
	}
	for i, r := range second {
		if r.SequenceNumber == "" || (i == 0 && r.SequenceNumber == mid.SequenceNumber && r.SubSequenceNumber != mid.SubSequenceNumber+1) {
			t.Errorf("second child's record %d: %+v", i, r)
		}
	}
}
