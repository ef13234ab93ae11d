package kcl_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/leases"
)

// multiStreamRow is a lease row as KCL's multi-stream serializer writes it.
func multiStreamRow(stream, shardID, owner string) map[string]ddbtypes.AttributeValue {
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	n := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberN{Value: v} }
	row := map[string]ddbtypes.AttributeValue{
		"leaseKey": s(stream + ":" + shardID), "streamName": s(stream), "shardId": s(shardID),
		"leaseCounter": n("41"), "ownerSwitchesSinceCheckpoint": n("0"),
		"checkpoint": s("49590338271490256608559692538361571095921575989136588898"), "checkpointSubSequenceNumber": n("3"),
		"startingHashKey": s("0"), "endingHashKey": s("340282366920938463463374607431768211455"),
	}
	if owner != "" {
		row["leaseOwner"] = s(owner)
	}
	return row
}

func putRows(t *testing.T, env *testenv.Env, table string, rows ...map[string]ddbtypes.AttributeValue) {
	t.Helper()
	tbl, err := leases.NewTable(env.DynamoDB, table)
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.EnsureTable(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if _, err := env.DynamoDB.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: maps.Clone(row)}); err != nil {
			t.Fatal(err)
		}
	}
}

func getRow(t *testing.T, env *testenv.Env, table, key string) map[string]ddbtypes.AttributeValue {
	t.Helper()
	out, err := env.DynamoDB.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"leaseKey": &ddbtypes.AttributeValueMemberS{Value: key}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// TestMultiStreamRowsOfOtherStreamsUntouched: a single-stream consumer sharing its table with
// a multi-stream application's rows (one owned by a worker that stopped renewing, one free)
// reads its own stream and leaves those rows byte for byte as they were, over several
// failover times.
func TestMultiStreamRowsOfOtherStreamsUntouched(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	foreign := []map[string]ddbtypes.AttributeValue{
		multiStreamRow("123456789012:orders:1700000000", "shardId-000000000001", "kcl-java-worker"),
		multiStreamRow("123456789012:orders:1700000000", "shardId-000000000000", ""),
	}
	putRows(t, env, table, foreign...)
	puts := stream.PutN(t, "mine", 5)
	cfg := newConfig(t, env, stream, table)
	cfg.Retrieval = kcl.Polling
	cfg.FailoverTime = 1500 * time.Millisecond
	c := mustNew(t, cfg)
	ctx := testenv.WithTimeout(t, 2*time.Minute)
	var processed atomic.Int64
	done := make(chan error, 1)
	go func() {
		done <- c.Process(ctx, func(_ context.Context, b kcl.Batch) error {
			processed.Add(int64(len(b.Records)))
			return nil
		})
	}()
	t.Cleanup(func() { _ = c.Stop() })
	tbl, _ := leases.NewTable(env.DynamoDB, table)
	var start int64 = -1
	for {
		l, err := tbl.GetLease(ctx, puts[0].ShardID)
		if err == nil && start < 0 && processed.Load() == int64(len(puts)) {
			start = l.Counter
		}
		// Three failover times of renewals (every third of it) of our own lease.
		if start >= 0 && l.Counter >= start+9 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Process returned %v; processed %d of %d", err, processed.Load(), len(puts))
		case <-ctx.Done():
			t.Fatalf("processed %d of %d; own lease %+v, %v", processed.Load(), len(puts), l, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, want := range foreign {
		key := want["leaseKey"].(*ddbtypes.AttributeValueMemberS).Value
		if got := getRow(t, env, table, key); !reflect.DeepEqual(got, want) {
			t.Errorf("multi-stream row %s changed:\n got %s\nwant %s", key, rowText(got), rowText(want))
		}
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Process: %v", err)
	}
}

// TestMultiStreamTableOfOwnStream: a table holding KCL multi-stream leases of the very
// stream a single-stream consumer is given (a KCL multi-stream application moving to kcl)
// makes Run fail at once with a *kcl.MultiStreamTableError naming the row, creating no
// lease and touching nothing, rather than ignoring the checkpoints there and reading the
// stream again from the initial position.
func TestMultiStreamTableOfOwnStream(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	account := strings.Split(stream.ARN, ":")[4]
	row := multiStreamRow(account+":"+stream.Name+":"+strconv.FormatInt(time.Now().Unix(), 10), "shardId-000000000000", "")
	putRows(t, env, table, row)
	c := mustNew(t, newConfig(t, env, stream, table))
	err := c.Run(testenv.WithTimeout(t, time.Minute))
	var mst *kcl.MultiStreamTableError
	key := row["leaseKey"].(*ddbtypes.AttributeValueMemberS).Value
	if !errors.As(err, &mst) || !errors.Is(err, kcl.ErrMultiStreamTable) || mst.LeaseKey != key || mst.Table != table {
		t.Fatalf("Run: %v, want a *kcl.MultiStreamTableError naming row %s of table %s", err, key, table)
	}
	t.Log(err)
	if got := getRow(t, env, table, key); !reflect.DeepEqual(got, row) {
		t.Errorf("row changed:\n got %s\nwant %s", rowText(got), rowText(row))
	}
	if got := getRow(t, env, table, "shardId-000000000000"); got != nil {
		t.Errorf("a single-stream lease was created: %s", rowText(got))
	}
}

// rowText shows an item's attributes and values, sorted by name.
func rowText(row map[string]ddbtypes.AttributeValue) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(row)) {
		parts = append(parts, fmt.Sprintf("%s=%#v", k, row[k]))
	}
	return strings.Join(parts, " ")
}

// TestUnparsableLeaseRowReportedOnce: a lease row that does not parse is reported once at
// warning level, naming its key, instead of every shard sync warning that its shard's
// hash-key range is not covered by any lease (while creating nothing, as the row exists).
func TestUnparsableLeaseRowReportedOnce(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	table := env.LeaseTable(t)
	const key = "shardId-000000000001"
	bad := map[string]ddbtypes.AttributeValue{
		"leaseKey":     &ddbtypes.AttributeValueMemberS{Value: key},
		"leaseCounter": &ddbtypes.AttributeValueMemberS{Value: "seven"}, // not a number
		"checkpoint":   &ddbtypes.AttributeValueMemberS{Value: "TRIM_HORIZON"},
	}
	putRows(t, env, table, bad)
	cfg := newConfig(t, env, stream, table)
	cfg.Retrieval = kcl.Polling
	logger, logs := newLogCapture(t)
	cfg.Logger = logger
	c := mustNew(t, cfg)
	ctx := testenv.WithTimeout(t, time.Minute)
	runConsumer(t, ctx, c)
	go func() { // read whatever shard is handed over, as a user would
		for s := range c.Shards() {
			go func() {
				for range s.Batches() {
				}
			}()
		}
	}()
	// More shard syncs than HoleAuditThreshold (3), each of which saw the shard.
	const syncs = 5
	hole := func() int { return len(logs.find(slog.LevelWarn, "hash-key range not covered")) }
	for len(logs.find(slog.LevelDebug, "its lease row does not parse")) < syncs && hole() < syncs {
		select {
		case <-ctx.Done():
			t.Fatal("shard syncs did not run")
		case <-time.After(100 * time.Millisecond):
		}
	}
	if n := hole(); n > 0 {
		t.Errorf("%d warnings that a hash-key range is not covered by any lease; the row exists but does not parse", n)
	}
	var naming []capturedLog
	for _, r := range logs.find(slog.LevelWarn, "") {
		if r.attrs["row"] == key || r.attrs["shard"] == key {
			naming = append(naming, r)
		}
	}
	if len(naming) != 1 || !strings.Contains(naming[0].attrs["error"], "leaseCounter") {
		t.Errorf("warnings about row %s: %+v, want one saying what is wrong with it", key, naming)
	}
	if got := getRow(t, env, table, key); !reflect.DeepEqual(got, bad) {
		t.Errorf("row changed:\n got %s\nwant %s", rowText(got), rowText(bad))
	}
}
