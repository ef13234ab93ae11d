package multilang

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kclgo/kcl/internal/testenv"
)

// TestChildFaults: whatever a child does wrong, every record reaches a child and is
// checkpointed only when a child asked; a restarted child starts at the last checkpoint.
func TestChildFaults(t *testing.T) {
	cases := []struct {
		name  string
		modes string
		// restarts says whether the fault makes the daemon start a second child.
		restarts bool
		tweak    func(*Config)
	}{
		{name: "crash", modes: "checkpoint,crash-once", restarts: true},
		{name: "exits between messages", modes: "checkpoint,exit-idle-once", restarts: true},
		{name: "never answers", modes: "checkpoint,hang-once", restarts: true, tweak: func(c *Config) { c.ResponseTimeout = 2 * time.Second }},
		{name: "wrong status", modes: "checkpoint,wrong-status", restarts: true},
		{name: "stray stdout lines", modes: "checkpoint,garbage"},
		{name: "stderr flood", modes: "checkpoint,flood"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := testenv.New(t)
			stream := env.CreateStream(t, 1)
			table := env.LeaseTable(t)
			puts := stream.PutN(t, "rec", 30)
			shard := puts[0].ShardID
			argv, dir := fakeChildCommand(t, tc.modes)
			cfg := testConfig(t, stream, table, argv)
			if tc.tweak != nil {
				tc.tweak(&cfg)
			}
			r := startDaemon(t, env, cfg)
			last := puts[len(puts)-1].SequenceNumber
			waitFor(t, 60*time.Second, "the checkpoint at the last record", func() bool {
				return checkpointOf(t, env, table, shard) == last
			})
			v := view(t, dir)
			got := distinctData(v.records(shard))
			for _, p := range puts {
				if !got[string(p.Data)] {
					t.Errorf("record %s never reached a child", p.Data)
				}
			}
			if n := len(v.shardOf); tc.restarts != (n > 1) {
				t.Errorf("%d child processes; restarts expected: %v", n, tc.restarts)
			}
			if err := r.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

// TestNothingCheckpointedUnasked: a child that crashes without ever asking for a checkpoint
// is restarted and gets every record again, and the lease's checkpoint stays where it was:
// the daemon checkpoints only what the child asks for.
func TestNothingCheckpointedUnasked(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	puts := stream.PutN(t, "rec", 20)
	shard := puts[0].ShardID
	argv, dir := fakeChildCommand(t, "crash-once") // never checkpoints
	r := startDaemon(t, env, testConfig(t, stream, table, argv))
	waitFor(t, 60*time.Second, "every record at a restarted child", func() bool {
		v := view(t, dir)
		return len(v.shardOf) >= 2 && len(distinctData(v.records(shard))) == len(puts)
	})
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if cp := getLease(t, env, table, shard).Checkpoint; cp.String() != "TRIM_HORIZON" {
		t.Errorf("checkpoint %v after a child that never asked for one; want TRIM_HORIZON", cp)
	}
}

// TestCheckpointErrors: requests the protocol refuses get the names the clients expect.
func TestCheckpointErrors(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	puts := stream.PutN(t, "rec", 5)
	shard := puts[0].ShardID
	argv, dir := fakeChildCommand(t, "ask-in-init,ask-past,checkpoint")
	r := startDaemon(t, env, testConfig(t, stream, table, argv))
	waitFor(t, 60*time.Second, "the checkpoint at the last record", func() bool {
		return checkpointOf(t, env, table, shard) == puts[len(puts)-1].SequenceNumber
	})
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var replies []string
	for _, e := range view(t, dir).entries {
		if e.Action == "checkpoint-reply" {
			var m struct {
				Error *string `json:"error"`
			}
			json.Unmarshal(e.Raw, &m)
			if m.Error == nil {
				replies = append(replies, "ok")
			} else {
				replies = append(replies, *m.Error)
			}
		}
	}
	want := []string{ErrNameInvalidState, ErrNameIllegalArgument, "ok", ErrNameIllegalArgument}
	if len(replies) < len(want) {
		t.Fatalf("replies %v; want %v first", replies, want)
	}
	for i := range want {
		if replies[i] != want[i] {
			t.Fatalf("replies %v; want %v first", replies, want)
		}
	}
}
