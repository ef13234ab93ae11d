package kcl_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/leases"
)

// hideShard answers ListShards with shardID left out, as Kinesis does once a closed shard
// was trimmed past the retention period.
func hideShard(shardID string) faults.FaultFunc {
	return func(_ faults.Call, req *http.Request, next http.RoundTripper) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			return resp, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil {
			return nil, err
		}
		var kept []any
		shards, _ := out["Shards"].([]any)
		for _, s := range shards {
			if m, _ := s.(map[string]any); m["ShardId"] != shardID {
				kept = append(kept, s)
			}
		}
		out["Shards"] = kept
		body, _ = json.Marshal(out)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Del("Content-Length")
		return resp, nil
	}
}

// TestExpiredShard: a closed shard whose records are past the retention period is gone from
// Kinesis (ResourceNotFound, not listed) although its stream is not. Its lease is finished
// with SHARD_END, its children get leases and are read, and the consumer goes on.
func TestExpiredShard(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	table := env.LeaseTable(t)
	ctx := testenv.WithTimeout(t, 2*time.Minute)
	stream.PutN(t, "trimmed", 20)
	stream.Split(t, "shardId-000000000000")
	var children []testenv.Put
	for _, p := range stream.PutN(t, "children", 100) {
		if p.ShardID != "shardId-000000000001" {
			children = append(children, p)
		}
	}

	// The application has a lease on the old shard (it ran before the split).
	tbl, err := leases.NewTable(env.DynamoDB, table)
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"shardId-000000000000", "shardId-000000000001"} {
		if _, err := tbl.CreateLeaseIfAbsent(ctx, leases.Lease{Key: id, ShardID: id, Checkpoint: checkpointer.TrimHorizon}); err != nil {
			t.Fatal(err)
		}
	}
	inj := faults.New()
	inj.Add(faults.Rule{Op: "GetShardIterator", Shard: "shardId-000000000000", Fault: faults.ResourceNotFound()})
	inj.Add(faults.Rule{Op: "ListShards", Fault: hideShard("shardId-000000000000")})

	cfg := newConfig(t, env, stream, table)
	cfg.Retrieval = kcl.Polling
	cfg.KeepFinishedLeases = true
	cfg.Kinesis = env.NewKinesis(inj.Wrap)
	c := mustNew(t, cfg)
	runErr := runConsumer(t, ctx, c)
	col := newCollector()
	readers := col.consume(c, "w1", 0)
	col.waitFor(t, children, 60*time.Second)
	if err := c.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	readers.Wait()
	col.checkCheckpoints(t)
	if err := col.ends["shardId-000000000000"]; err != kcl.ErrShardEnded {
		t.Errorf("the expired shard ended with %v, want ErrShardEnded", err)
	}
	l, err := tbl.GetLease(ctx, "shardId-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if !l.Finished() || len(l.ChildShardIDs) != 2 {
		t.Errorf("expired shard's lease: checkpoint %v children %v, want SHARD_END with 2 children", l.Checkpoint, l.ChildShardIDs)
	}
}
