package leases

import (
	"fmt"
	"testing"

	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/internal/testenv"
)

// TestStoreContract runs one script of fenced writes against a real lease table (dynalite)
// and against memStore, and requires the same outcome at every step: memStore is only
// trustworthy for the synctest tests while it behaves like the table.
func TestStoreContract(t *testing.T) {
	env := testenv.New(t)
	tbl := newTestTable(t, env)
	mem := newMemStore()
	stores := map[string]leaseStore{"table": tbl, "mem": mem}
	ctx := t.Context()
	const key = "shardId-000000000001"
	seq := func(n int) checkpointer.ExtendedSequenceNumber {
		p, err := checkpointer.ParseSequenceNumber(fmt.Sprint(49590338271490256+n), 2)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := Lease{Key: key, ShardID: key, Checkpoint: checkpointer.TrimHorizon}
	if _, err := tbl.CreateLeaseIfAbsent(ctx, base); err != nil {
		t.Fatal(err)
	}
	mem.set(base)

	seenAt := func(owner string, counter int64) Lease { l := base; l.Owner, l.Counter = owner, counter; return l }
	steps := []struct {
		name string
		op   func(s leaseStore) error
		ok   bool
	}{
		{"take free", func(s leaseStore) error { _, err := s.take(ctx, seenAt("", 0), "a"); return err }, true},
		{"take stale", func(s leaseStore) error { _, err := s.take(ctx, seenAt("", 0), "b"); return err }, false},
		{"take with the wrong owner", func(s leaseStore) error { _, err := s.take(ctx, seenAt("x", 1), "b"); return err }, false},
		{"renew", func(s leaseStore) error { return s.renew(ctx, key, "a", 1) }, true},
		{"renew by other", func(s leaseStore) error { return s.renew(ctx, key, "b", 2) }, false},
		{"renew stale", func(s leaseStore) error { return s.renew(ctx, key, "a", 1) }, false},
		{"checkpoint", func(s leaseStore) error {
			return s.checkpoint(ctx, key, "a", 2, seq(1), []string{"shardId-000000000009"})
		}, true},
		{"checkpoint stale", func(s leaseStore) error { return s.checkpoint(ctx, key, "a", 2, seq(2), nil) }, false},
		{"steal", func(s leaseStore) error { _, err := s.take(ctx, seenAt("a", 3), "b"); return err }, true},
		{"release by old owner", func(s leaseStore) error { return s.release(ctx, key, "a", 4) }, false},
		{"release", func(s leaseStore) error { return s.release(ctx, key, "b", 4) }, true},
		{"renew released", func(s leaseStore) error { return s.renew(ctx, key, "b", 5) }, false},
		{"take released", func(s leaseStore) error { _, err := s.take(ctx, seenAt("", 5), "a"); return err }, true},
		{"renew missing", func(s leaseStore) error { return s.renew(ctx, "nope", "a", 0) }, false},
		{"take missing", func(s leaseStore) error { _, err := s.take(ctx, Lease{Key: "nope"}, "a"); return err }, false},
		{"checkpoint missing", func(s leaseStore) error { return s.checkpoint(ctx, "nope", "a", 0, seq(1), nil) }, false},
		{"release missing", func(s leaseStore) error { return s.release(ctx, "nope", "a", 0) }, false},
	}
	for _, st := range steps {
		got := map[string]string{}
		for name, s := range stores {
			err := st.op(s)
			if (err == nil) != st.ok || (err != nil && !isConditionFailed(err)) {
				t.Fatalf("%s on %s: %v (want ok=%v, or a failed condition)", st.name, name, err, st.ok)
			}
			l, found, err := s.get(ctx, key)
			if err != nil || !found {
				t.Fatalf("%s on %s: get: %v %v", st.name, name, found, err)
			}
			got[name] = fmt.Sprintf("owner=%q counter=%d checkpoint=%v switches=%d children=%v",
				l.Owner, l.Counter, l.Checkpoint, l.OwnerSwitchesSinceCheckpoint, l.ChildShardIDs)
			if _, found, _ := s.get(ctx, "nope"); found {
				t.Fatalf("%s on %s created a row", st.name, name)
			}
		}
		if got["table"] != got["mem"] {
			t.Fatalf("after %s:\n table: %s\n   mem: %s", st.name, got["table"], got["mem"])
		}
	}
}
