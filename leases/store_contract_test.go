package leases

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
		{"checkpoint by other", func(s leaseStore) error { return s.checkpoint(ctx, key, "b", 2, seq(1), nil) }, false},
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

// TestStoreContractRows extends the contract to what the coordinator reads besides one row:
// listing several rows, rows that are not leases or do not parse (skipped by ListLeases, a
// *RowError from get, never written), pending (two-phase) checkpoints that a take keeps and a
// checkpoint clears, and child shard ids that a checkpoint without children keeps. After
// every step the whole listing and every row must read the same from both stores. (KCL 3.x's
// handoff attributes are not written by this package yet, so there is nothing of them to
// hold the fake to.)
func TestStoreContractRows(t *testing.T) {
	env := testenv.New(t)
	tbl := newTestTable(t, env)
	ctx := t.Context()
	const (
		plain   = "shardId-000000000010"
		pending = "shardId-000000000011"
		corrupt = "shardId-000000000012"
		leader  = "leader-lock"
	)
	seq := func(n int) checkpointer.ExtendedSequenceNumber { return seqN(t, n) }
	if _, err := tbl.CreateLeaseIfAbsent(ctx, Lease{Key: plain, ShardID: plain, Checkpoint: checkpointer.TrimHorizon,
		ParentShardIDs: []string{"shardId-000000000001"}}); err != nil {
		t.Fatal(err)
	}
	putRaw(t, env.DynamoDB, tbl.Name(), map[string]types.AttributeValue{
		attrLeaseKey: str(pending), attrLeaseOwner: str("a"), attrLeaseCounter: num(4),
		attrCheckpoint: str(seq(3).SequenceNumber()), attrCheckpointSub: num(0),
		attrPendingCheckpoint: str(seq(5).SequenceNumber()), attrPendingCheckpointSub: num(0),
		attrPendingCheckpointState: &types.AttributeValueMemberB{Value: []byte("state")},
	})
	putRaw(t, env.DynamoDB, tbl.Name(), map[string]types.AttributeValue{
		attrLeaseKey: str(corrupt), attrLeaseOwner: str("a"), attrLeaseCounter: str("seven"),
		attrCheckpoint: str("TRIM_HORIZON"),
	})
	putRaw(t, env.DynamoDB, tbl.Name(), map[string]types.AttributeValue{
		attrLeaseKey: str(leader), attrEntityType: str("LEADER"), attrLeaseOwner: str("a"),
	})

	// The fake starts from the rows as the table decodes them, and models the other two as
	// the skipped rows they must be.
	mem := newMemStore(mustGet(t, tbl, plain), mustGet(t, tbl, pending))
	mem.skipped = []*RowError{
		{LeaseKey: corrupt, Attribute: attrLeaseCounter, Err: errors.New("not a number")},
		{LeaseKey: leader, Attribute: attrEntityType + "=LEADER", Err: ErrNotALease},
	}
	stores := []struct {
		name string
		s    leaseStore
	}{{"table", tbl}, {"mem", mem}}

	describe := func(s leaseStore) string {
		leases, skipped, err := s.ListLeases(ctx)
		if err != nil {
			t.Fatalf("ListLeases: %v", err)
		}
		var b strings.Builder
		for _, l := range leases {
			fmt.Fprintf(&b, "%s owner=%q counter=%d checkpoint=%v pending=%v state=%q switches=%d parents=%v children=%v\n",
				l.Key, l.Owner, l.Counter, l.Checkpoint, l.PendingCheckpoint, l.PendingCheckpointState,
				l.OwnerSwitchesSinceCheckpoint, l.ParentShardIDs, sorted(l.ChildShardIDs))
		}
		var rows []string
		for _, e := range skipped {
			rows = append(rows, fmt.Sprintf("skipped %s attribute=%s notALease=%v", e.LeaseKey, e.Attribute, errors.Is(e, ErrNotALease)))
		}
		sort.Strings(rows)
		for _, r := range rows {
			b.WriteString(r + "\n")
		}
		// get agrees with the listing, and reads a skipped row as its *RowError.
		for _, key := range []string{plain, pending, corrupt, leader, "nope"} {
			l, found, err := s.get(ctx, key)
			var rowErr *RowError
			switch {
			case errors.As(err, &rowErr):
				fmt.Fprintf(&b, "get %s: row error %s\n", key, rowErr.LeaseKey)
			case err != nil:
				t.Fatalf("get %s: %v", key, err)
			default:
				fmt.Fprintf(&b, "get %s: found=%v owner=%q counter=%d\n", key, found, l.Owner, l.Counter)
			}
		}
		return b.String()
	}

	steps := []struct {
		name string
		op   func(s leaseStore) error
		ok   bool
	}{
		{"list", func(leaseStore) error { return nil }, true},
		{"take a row with a pending checkpoint", func(s leaseStore) error {
			_, err := s.take(ctx, Lease{Key: pending, Owner: "a", Counter: 4}, "b")
			return err
		}, true},
		{"checkpoint by the old owner", func(s leaseStore) error { return s.checkpoint(ctx, pending, "a", 5, seq(6), nil) }, false},
		{"checkpoint clears the pending one", func(s leaseStore) error { return s.checkpoint(ctx, pending, "b", 5, seq(6), nil) }, true},
		{"take plain", func(s leaseStore) error { _, err := s.take(ctx, Lease{Key: plain}, "a"); return err }, true},
		{"checkpoint with children", func(s leaseStore) error {
			return s.checkpoint(ctx, plain, "a", 1, seq(7), []string{"shardId-000000000021", "shardId-000000000020"})
		}, true},
		{"checkpoint without children keeps them", func(s leaseStore) error { return s.checkpoint(ctx, plain, "a", 2, seq(8), nil) }, true},
		{"renew a corrupt row", func(s leaseStore) error { return s.renew(ctx, corrupt, "a", 7) }, false},
		{"take a corrupt row", func(s leaseStore) error {
			_, err := s.take(ctx, Lease{Key: corrupt, Owner: "a", Counter: 7}, "b")
			return err
		}, false},
		{"checkpoint a corrupt row", func(s leaseStore) error { return s.checkpoint(ctx, corrupt, "a", 7, seq(1), nil) }, false},
		{"release a row that is not a lease", func(s leaseStore) error { return s.release(ctx, leader, "a", 0) }, false},
		{"take a row that is not a lease", func(s leaseStore) error { _, err := s.take(ctx, Lease{Key: leader, Owner: "a"}, "b"); return err }, false},
		{"release", func(s leaseStore) error { return s.release(ctx, pending, "b", 6) }, true},
	}
	for _, st := range steps {
		got := map[string]string{}
		for _, s := range stores {
			err := st.op(s.s)
			if (err == nil) != st.ok || (err != nil && !isConditionFailed(err)) {
				t.Fatalf("%s on %s: %v (want ok=%v, or a failed condition)", st.name, s.name, err, st.ok)
			}
			got[s.name] = describe(s.s)
		}
		if got["table"] != got["mem"] {
			t.Fatalf("after %s:\n table:\n%s\n   mem:\n%s", st.name, got["table"], got["mem"])
		}
	}
	// The skipped rows were never written.
	if raw := rawItem(t, env.DynamoDB, tbl.Name(), corrupt); attrTypes(raw)[attrLeaseCounter] != "S" {
		t.Fatalf("corrupt row changed: %v", attrTypes(raw))
	}
	if raw := rawItem(t, env.DynamoDB, tbl.Name(), leader); len(raw) != 3 {
		t.Fatalf("leader row changed: %v", attrTypes(raw))
	}
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}
