package multilang

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kclgo/kcl/internal/testenv"
)

// TestDeliverCheckpointShutdown: two shards, a child per shard that checkpoints every
// batch at its last record; every record arrives in order with the fields of the Java
// daemon's messages, checkpoints land in the lease table, and SIGTERM gives each child
// shutdownRequested (with a checkpointer), then leaseLost, then end of input, and releases
// the leases.
func TestDeliverCheckpointShutdown(t *testing.T) {
	for _, version := range []int{2, 1} {
		t.Run(fmt.Sprintf("protocol v%d", version), func(t *testing.T) { testDeliverCheckpointShutdown(t, version) })
	}
}

func testDeliverCheckpointShutdown(t *testing.T, version int) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	table := env.LeaseTable(t)
	puts := stream.PutN(t, "rec", 60)
	argv, dir := fakeChildCommand(t, "checkpoint,on-shutdown")
	cfg := testConfig(t, stream, table, argv)
	cfg.ProtocolVersion = version
	r := startDaemon(t, env, cfg)

	byShard := testenv.ByShard(puts)
	waitFor(t, 60*time.Second, "every record at a child", func() bool {
		v := view(t, dir)
		for shard, ps := range byShard {
			if len(distinctData(v.records(shard))) < len(ps) {
				return false
			}
		}
		return true
	})
	v := view(t, dir)
	for shard, ps := range byShard {
		got := v.records(shard)
		for i, p := range ps {
			g := got[i]
			if string(g.Data) != string(p.Data) || g.SequenceNumber != p.SequenceNumber || g.PartitionKey != p.PartitionKey || g.SubSequenceNumber != 0 || g.Action != "record" || g.Arrival == nil {
				t.Fatalf("shard %s record %d: got %+v, want data %q seq %s pk %s", shard, i, g, p.Data, p.SequenceNumber, p.PartitionKey)
			}
		}
		waitFor(t, 10*time.Second, "checkpoint of "+shard, func() bool {
			return checkpointOf(t, env, table, shard) == ps[len(ps)-1].SequenceNumber
		})
	}
	// initialize carries the shard and its checkpoint (TRIM_HORIZON for a new lease).
	for _, e := range v.entries {
		if e.Action == ActionInitialize {
			var m map[string]any
			json.Unmarshal(e.Raw, &m)
			if m["sequenceNumber"] != "TRIM_HORIZON" || m["subSequenceNumber"] != float64(0) || m["shardId"] == "" {
				t.Errorf("initialize = %s", e.Raw)
			}
		}
		if e.Action == ActionProcessRecords {
			var m map[string]any
			json.Unmarshal(e.Raw, &m)
			if _, ok := m["millisBehindLatest"].(float64); !ok {
				t.Errorf("processRecords without millisBehindLatest: %s", e.Raw)
			}
		}
		if e.Action == "checkpoint-reply" {
			var m map[string]any
			json.Unmarshal(e.Raw, &m)
			if m["error"] != nil {
				t.Errorf("checkpoint refused: %s", e.Raw)
			}
		}
	}

	if err := r.stop(t); err != nil {
		t.Fatalf("Run after SIGTERM: %v", err)
	}
	v = view(t, dir)
	for shard := range byShard {
		acts := v.actions(shard)
		tail := compact(acts)
		want := []string{ActionShutdownRequested, "checkpoint-reply", ActionLeaseLost, "eof"}
		if version == 1 {
			want[2] = ActionShutdown // with reason ZOMBIE, checked below
		}
		if len(tail) < len(want) || !slices.Equal(tail[len(tail)-len(want):], want) {
			t.Errorf("shard %s: child saw %v; want it to end with %v", shard, tail, want)
		}
		for _, e := range v.entries {
			if e.Action == ActionShutdown && !bytesContains(e.Raw, `"reason":"ZOMBIE"`) {
				t.Errorf("shutdown on SIGTERM: %s", e.Raw)
			}
		}
		if l := getLease(t, env, table, shard); l.Owner != "" {
			t.Errorf("shard %s: lease still owned by %q after shutdown", shard, l.Owner)
		}
	}
}

// compact drops repeated processRecords and checkpoint replies, for readable sequences.
func compact(actions []string) []string {
	var out []string
	for _, a := range actions {
		if len(out) > 0 && out[len(out)-1] == a && (a == ActionProcessRecords || a == "checkpoint-reply") {
			continue
		}
		out = append(out, a)
	}
	return out
}

func bytesContains(b []byte, s string) bool { return strings.Contains(string(b), s) }
