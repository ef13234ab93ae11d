package leases

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/internal/testenv"
)

// newTestTable returns an ACTIVE, empty lease table on dynalite.
func newTestTable(t testing.TB, env *testenv.Env, opts ...TableOption) *Table {
	t.Helper()
	return newTestTableWith(t, env.DynamoDB, env.LeaseTable(t), opts...)
}

func newTestTableWith(t testing.TB, ddb DynamoDBAPI, name string, opts ...TableOption) *Table {
	t.Helper()
	tbl, err := NewTable(ddb, name, append([]TableOption{WithTablePollInterval(20 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.EnsureTable(t.Context()); err != nil {
		t.Fatalf("EnsureTable: %v", err)
	}
	return tbl
}

func rawItem(t testing.TB, ddb DynamoDBAPI, table, key string) map[string]types.AttributeValue {
	t.Helper()
	out, err := ddb.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{attrLeaseKey: str(key)},
	})
	if err != nil {
		t.Fatalf("GetItem %s: %v", key, err)
	}
	return out.Item
}

func putRaw(t testing.TB, ddb DynamoDBAPI, table string, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := ddb.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
}

// attrTypes is name -> DynamoDB type of an item, for asserting exact schemas.
func attrTypes(item map[string]types.AttributeValue) map[string]string {
	m := make(map[string]string, len(item))
	for k, v := range item {
		m[k] = typeName(v)
	}
	return m
}

func leaseN(i int) Lease {
	id := fmt.Sprintf("shardId-%012d", i)
	return Lease{Key: id, ShardID: id, Checkpoint: checkpointer.TrimHorizon}
}

func TestNewTableValidation(t *testing.T) {
	ddb := &dynamodb.Client{}
	tests := map[string]struct {
		ddb  DynamoDBAPI
		name string
		opts []TableOption
		want string
	}{
		"nil client":        {ddb: nil, name: "t", want: "nil DynamoDB client"},
		"no name":           {ddb: ddb, name: "", want: "empty table name"},
		"zero capacity":     {ddb: ddb, name: "t", opts: []TableOption{WithProvisionedThroughput(0, 5)}, want: "WithProvisionedThroughput"},
		"zero poll":         {ddb: ddb, name: "t", opts: []TableOption{WithTablePollInterval(0)}, want: "WithTablePollInterval"},
		"zero timeout":      {ddb: ddb, name: "t", opts: []TableOption{WithTableActiveTimeout(0)}, want: "WithTableActiveTimeout"},
		"nil logger":        {ddb: ddb, name: "t", opts: []TableOption{WithTableLogger(nil)}, want: "WithTableLogger"},
		"negative page":     {ddb: ddb, name: "t", opts: []TableOption{WithScanPageLimit(-1)}, want: "WithScanPageLimit"},
		"defaults are fine": {ddb: ddb, name: "t"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewTable(tc.ddb, tc.name, tc.opts...)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestEnsureTable(t *testing.T) {
	env := testenv.New(t)
	tests := map[string]struct {
		opts        []TableOption
		wantBilling types.BillingMode
		wantRead    int64
	}{
		"on-demand by default": {wantBilling: types.BillingModePayPerRequest},
		"provisioned":          {opts: []TableOption{WithProvisionedThroughput(7, 3)}, wantBilling: types.BillingModeProvisioned, wantRead: 7},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			name := env.LeaseTable(t)
			// Two workers starting at once both succeed.
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() { newTestTableWith(t, env.DynamoDB, name, tc.opts...) })
			}
			wg.Wait()
			out, err := env.DynamoDB.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			td := out.Table
			if td.TableStatus != types.TableStatusActive {
				t.Fatalf("status %s", td.TableStatus)
			}
			if len(td.KeySchema) != 1 || aws.ToString(td.KeySchema[0].AttributeName) != "leaseKey" || td.KeySchema[0].KeyType != types.KeyTypeHash {
				t.Fatalf("key schema %+v", td.KeySchema)
			}
			billing := types.BillingModeProvisioned
			if td.BillingModeSummary != nil {
				billing = td.BillingModeSummary.BillingMode
			}
			if billing != tc.wantBilling {
				t.Fatalf("billing %s, want %s", billing, tc.wantBilling)
			}
			if tc.wantRead > 0 && aws.ToInt64(td.ProvisionedThroughput.ReadCapacityUnits) != tc.wantRead {
				t.Fatalf("read capacity %d", aws.ToInt64(td.ProvisionedThroughput.ReadCapacityUnits))
			}
			// An existing lease table is fine.
			newTestTableWith(t, env.DynamoDB, name)
		})
	}
}

func TestEnsureTableRejectsOtherSchemas(t *testing.T) {
	env := testenv.New(t)
	s := types.ScalarAttributeTypeS
	n := types.ScalarAttributeTypeN
	tests := map[string]struct {
		defs []types.AttributeDefinition
		keys []types.KeySchemaElement
	}{
		"other hash key": {
			defs: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: s}},
			keys: []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		},
		"numeric leaseKey": {
			defs: []types.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: n}},
			keys: []types.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeHash}},
		},
		"with a range key": {
			defs: []types.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: s}, {AttributeName: aws.String("r"), AttributeType: s}},
			keys: []types.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("r"), KeyType: types.KeyTypeRange}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			table := env.LeaseTable(t)
			if _, err := env.DynamoDB.CreateTable(t.Context(), &dynamodb.CreateTableInput{
				TableName: aws.String(table), AttributeDefinitions: tc.defs, KeySchema: tc.keys,
				BillingMode: types.BillingModePayPerRequest,
			}); err != nil {
				t.Fatal(err)
			}
			tbl, err := NewTable(env.DynamoDB, table, WithTablePollInterval(20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			err = tbl.EnsureTable(t.Context())
			var schemaErr *TableSchemaError
			if !errors.As(err, &schemaErr) || !errors.Is(err, ErrIncompatibleTable) || schemaErr.Table != table {
				t.Fatalf("got %v, want a *TableSchemaError for %s", err, table)
			}
		})
	}
}

func TestEnsureTableHonoursContext(t *testing.T) {
	env := testenv.New(t)
	tbl, err := NewTable(env.DynamoDB, env.LeaseTable(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := tbl.EnsureTable(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// The shared KCL items, written raw into a real table, list as their expect fields say; the
// rows that are not leases or are corrupt are reported and stay exactly as they were.
func TestListLeasesSharedItems(t *testing.T) {
	env := testenv.New(t)
	tbl := newTestTable(t, env)
	items := loadSharedItems(t)
	for _, it := range items {
		t.Run(it.Description, func(t *testing.T) {
			raw := attributeValues(t, it.Item)
			key := raw[attrLeaseKey].(*types.AttributeValueMemberS).Value
			putRaw(t, env.DynamoDB, tbl.Name(), raw)
			defer func() {
				if err := tbl.DeleteLease(context.WithoutCancel(t.Context()), key); err != nil {
					t.Error(err)
				}
			}()
			leases, skipped, err := tbl.ListLeases(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			switch it.Expect.Kind {
			case "lease":
				if len(leases) != 1 || len(skipped) != 0 {
					t.Fatalf("leases %v skipped %v", leases, skipped)
				}
				checkExpect(t, leases[0], it.Expect)
				got, err := tbl.GetLease(t.Context(), key)
				if err != nil {
					t.Fatal(err)
				}
				checkExpect(t, got, it.Expect)
			default:
				if len(leases) != 0 || len(skipped) != 1 || skipped[0].LeaseKey != key {
					t.Fatalf("leases %v skipped %v", leases, skipped)
				}
				if (it.Expect.Kind == "not-a-lease") != errors.Is(skipped[0], ErrNotALease) {
					t.Fatalf("skipped as %v", skipped[0])
				}
				var rowErr *RowError
				if _, err := tbl.GetLease(t.Context(), key); !errors.As(err, &rowErr) {
					t.Fatalf("GetLease: %v", err)
				}
			}
			if after := rawItem(t, env.DynamoDB, tbl.Name(), key); fmt.Sprint(attrTypes(after)) != fmt.Sprint(attrTypes(raw)) {
				t.Fatalf("row changed by reading: %v -> %v", attrTypes(raw), attrTypes(after))
			}
		})
	}
}

func TestListLeasesPages(t *testing.T) {
	env := testenv.New(t)
	tbl := newTestTable(t, env, WithScanPageLimit(7))
	const n = 50
	for i := range n {
		if _, err := tbl.CreateLeaseIfAbsent(t.Context(), leaseN(i)); err != nil {
			t.Fatal(err)
		}
	}
	putRaw(t, env.DynamoDB, tbl.Name(), map[string]types.AttributeValue{attrLeaseKey: str("leader-lock"), attrEntityType: str("LEADER")})
	leases, skipped, err := tbl.ListLeases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(leases) != n || len(skipped) != 1 {
		t.Fatalf("%d leases, %d skipped; want %d and 1", len(leases), len(skipped), n)
	}
	keys := make([]string, len(leases))
	for i, l := range leases {
		keys[i] = l.Key
	}
	sort.Strings(keys)
	for i := range n {
		if keys[i] != leaseN(i).Key {
			t.Fatalf("key %d is %s", i, keys[i])
		}
	}
}

func TestCreateLeaseIfAbsent(t *testing.T) {
	env := testenv.New(t)
	tbl := newTestTable(t, env)
	stream := StreamIdentifier{AccountID: "123456789012", Name: "orders", CreationEpoch: 1700000000}
	child := Lease{
		Key: LeaseKey(stream, "shardId-000000000002"), Stream: stream, ShardID: "shardId-000000000002",
		Checkpoint:     checkpointer.TrimHorizon,
		ParentShardIDs: []string{"shardId-000000000000", "shardId-000000000001"},
		HashKeyRange:   HashKeyRange{Start: "0", End: "340282366920938463463374607431768211455"},
	}
	// Two workers creating the same child lease: exactly one writes it.
	var wg sync.WaitGroup
	results := make([]bool, 8)
	for i := range results {
		wg.Go(func() {
			created, err := tbl.CreateLeaseIfAbsent(t.Context(), child)
			if err != nil {
				t.Error(err)
			}
			results[i] = created
		})
	}
	wg.Wait()
	createdCount := 0
	for _, c := range results {
		if c {
			createdCount++
		}
	}
	if createdCount != 1 {
		t.Fatalf("%d creations succeeded, want 1", createdCount)
	}
	raw := rawItem(t, env.DynamoDB, tbl.Name(), child.Key)
	want := map[string]string{
		"leaseKey": "S", "leaseCounter": "N", "ownerSwitchesSinceCheckpoint": "N", "checkpoint": "S",
		"checkpointSubSequenceNumber": "N", "parentShardId": "SS", "startingHashKey": "S", "endingHashKey": "S",
		"streamName": "S", "shardId": "S",
	}
	if fmt.Sprint(attrTypes(raw)) != fmt.Sprint(want) {
		t.Fatalf("wrote %v, want %v", attrTypes(raw), want)
	}
	if v := raw["streamName"].(*types.AttributeValueMemberS).Value; v != "123456789012:orders:1700000000" {
		t.Fatalf("streamName %q", v)
	}
	if v := raw["leaseCounter"].(*types.AttributeValueMemberN).Value; v != "0" {
		t.Fatalf("leaseCounter %q", v)
	}
	// A second create does not overwrite a lease that moved on.
	if err := tbl.renewForTest(t, child.Key); err == nil {
		t.Fatal("renewing an unowned lease must fail")
	}
	if _, err := tbl.take(t.Context(), mustGet(t, tbl, child.Key), "w1"); err != nil {
		t.Fatal(err)
	}
	if created, err := tbl.CreateLeaseIfAbsent(t.Context(), child); err != nil || created {
		t.Fatalf("re-create: %v %v", created, err)
	}
	if got := mustGet(t, tbl, child.Key); got.Owner != "w1" || got.Counter != 1 {
		t.Fatalf("lease overwritten: %+v", got)
	}
	if _, err := tbl.CreateLeaseIfAbsent(t.Context(), Lease{Key: "x"}); err == nil {
		t.Fatal("an invalid lease was accepted")
	}
}

func (t *Table) renewForTest(tb testing.TB, key string) error {
	return t.renew(tb.Context(), key, "nobody", 0)
}

func mustGet(t testing.TB, tbl *Table, key string) Lease {
	t.Helper()
	l, err := tbl.GetLease(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDeleteLeases(t *testing.T) {
	env := testenv.New(t)
	tbl := newTestTable(t, env)
	ctx := t.Context()
	open, done := leaseN(1), leaseN(2)
	done.Checkpoint = checkpointer.ShardEnd
	for _, l := range []Lease{open, done} {
		if _, err := tbl.CreateLeaseIfAbsent(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := tbl.DeleteFinishedLease(ctx, open.Key); !errors.Is(err, ErrLeaseNotFinished) {
		t.Fatalf("unfinished: %v", err)
	}
	if err := tbl.DeleteFinishedLease(ctx, done.Key); err != nil {
		t.Fatalf("finished: %v", err)
	}
	if err := tbl.DeleteFinishedLease(ctx, done.Key); !errors.Is(err, ErrLeaseNotFound) {
		t.Fatalf("gone: %v", err)
	}
	if _, err := tbl.GetLease(ctx, done.Key); !errors.Is(err, ErrLeaseNotFound) {
		t.Fatalf("GetLease after delete: %v", err)
	}
	for range 2 {
		if err := tbl.DeleteLease(ctx, open.Key); err != nil {
			t.Fatal(err)
		}
	}
	if leases, _, err := tbl.ListLeases(ctx); err != nil || len(leases) != 0 {
		t.Fatalf("left %v, %v", leases, err)
	}
}

// The fenced writes: their conditions, the exact attributes they write, and that they keep
// the attributes they do not manage.
func TestFencedWrites(t *testing.T) {
	env := testenv.New(t)
	tbl := newTestTable(t, env)
	ctx := t.Context()
	key := "shardId-000000000003"
	// A KCL 3.x row with attributes this package does not manage.
	putRaw(t, env.DynamoDB, tbl.Name(), map[string]types.AttributeValue{
		attrLeaseKey: str(key), attrLeaseOwner: str("kcl-worker"), attrLeaseCounter: num(19),
		attrOwnerSwitches: num(0), attrCheckpoint: str("LATEST"), attrCheckpointSub: num(0),
		attrCheckpointOwner: str("kcl-other"), attrThroughputKBps: &types.AttributeValueMemberN{Value: "12.5"},
		attrPendingCheckpoint: str("12"), attrPendingCheckpointSub: num(1),
		attrPendingCheckpointState: &types.AttributeValueMemberB{Value: []byte("state")},
		"someFutureAttribute":      str("keep me"),
	})
	seen := mustGet(t, tbl, key)

	// A stale take loses; a take on the counter seen wins, bumps ownerSwitches, clears checkpointOwner.
	stale := seen
	stale.Counter--
	if _, err := tbl.take(ctx, stale, "w1"); !isConditionFailed(err) {
		t.Fatalf("stale take: %v", err)
	}
	wrongOwner := seen
	wrongOwner.Owner = "someone-else"
	if _, err := tbl.take(ctx, wrongOwner, "w1"); !isConditionFailed(err) {
		t.Fatalf("take expecting the wrong owner: %v", err)
	}
	counter, err := tbl.take(ctx, seen, "w1")
	if err != nil || counter != 20 {
		t.Fatalf("take: %d %v", counter, err)
	}
	l := mustGet(t, tbl, key)
	if l.Owner != "w1" || l.Counter != 20 || l.OwnerSwitchesSinceCheckpoint != 1 || l.CheckpointOwner != "" {
		t.Fatalf("after take: %+v", l)
	}

	// Renewal: only by the owner on the current counter.
	if err := tbl.renew(ctx, key, "w2", 20); !isConditionFailed(err) {
		t.Fatalf("renew by another: %v", err)
	}
	if err := tbl.renew(ctx, key, "w1", 19); !isConditionFailed(err) {
		t.Fatalf("renew on a stale counter: %v", err)
	}
	if err := tbl.renew(ctx, key, "w1", 20); err != nil {
		t.Fatal(err)
	}

	// Checkpoint at SHARD_END with children: exact names and types, pending cleared.
	if err := tbl.checkpoint(ctx, key, "w1", 20, checkpointer.ShardEnd, nil); !isConditionFailed(err) {
		t.Fatalf("checkpoint on a stale counter: %v", err)
	}
	// Another owner on the current counter: only the owner condition refuses it.
	if err := tbl.checkpoint(ctx, key, "w2", 21, checkpointer.ShardEnd, nil); !isConditionFailed(err) {
		t.Fatalf("checkpoint by another owner on the current counter: %v", err)
	}
	if err := tbl.checkpoint(ctx, key, "w1", 21, checkpointer.ShardEnd, []string{"shardId-000000000004", "shardId-000000000005"}); err != nil {
		t.Fatal(err)
	}
	raw := rawItem(t, env.DynamoDB, tbl.Name(), key)
	want := map[string]string{
		"leaseKey": "S", "leaseOwner": "S", "leaseCounter": "N", "ownerSwitchesSinceCheckpoint": "N",
		"checkpoint": "S", "checkpointSubSequenceNumber": "N", "childShardIds": "SS",
		"throughputKBps": "N", "someFutureAttribute": "S",
	}
	if fmt.Sprint(attrTypes(raw)) != fmt.Sprint(want) {
		t.Fatalf("after checkpoint: %v, want %v", attrTypes(raw), want)
	}
	l = mustGet(t, tbl, key)
	if !l.Checkpoint.IsShardEnd() || l.Counter != 22 || l.OwnerSwitchesSinceCheckpoint != 0 || !sameSet(l.ChildShardIDs, []string{"shardId-000000000004", "shardId-000000000005"}) || l.ThroughputKBps != 12.5 {
		t.Fatalf("after checkpoint: %+v", l)
	}

	// Release: only by the owner; leaves no owner and a bumped counter.
	if err := tbl.release(ctx, key, "w2", 22); !isConditionFailed(err) {
		t.Fatalf("release by another: %v", err)
	}
	if err := tbl.release(ctx, key, "w1", 22); err != nil {
		t.Fatal(err)
	}
	l = mustGet(t, tbl, key)
	if l.Owner != "" || l.Counter != 23 {
		t.Fatalf("after release: %+v", l)
	}
	if _, ok := rawItem(t, env.DynamoDB, tbl.Name(), key)[attrLeaseOwner]; ok {
		t.Fatal("release left a leaseOwner attribute")
	}
	if v := rawItem(t, env.DynamoDB, tbl.Name(), key)["someFutureAttribute"]; v == nil {
		t.Fatal("an unmanaged attribute was dropped")
	}

	// A row whose leaseOwner is an empty string counts as free and can be taken.
	emptyOwner := map[string]types.AttributeValue{
		attrLeaseKey: str("shardId-000000000004"), attrLeaseOwner: str(""), attrLeaseCounter: num(2),
		attrCheckpoint: str("TRIM_HORIZON"),
	}
	if _, err := env.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tbl.Name()), Item: emptyOwner}); err == nil {
		free := mustGet(t, tbl, "shardId-000000000004")
		if free.Owner != "" {
			t.Fatalf("empty owner read as %q", free.Owner)
		}
		if _, err := tbl.take(ctx, free, "w1"); err != nil {
			t.Fatalf("take of a lease with an empty owner: %v", err)
		}
	} else {
		t.Logf("this DynamoDB refuses empty strings (%v); skipping the empty-owner case", err)
	}

	// None of them creates a row that does not exist.
	if _, err := tbl.take(ctx, Lease{Key: "shardId-missing"}, "w1"); !isConditionFailed(err) {
		t.Fatalf("take of a missing row: %v", err)
	}
	if got := rawItem(t, env.DynamoDB, tbl.Name(), "shardId-missing"); len(got) != 0 {
		t.Fatalf("take created %v", got)
	}
}
