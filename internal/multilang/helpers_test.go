package multilang

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/leases"
)

// testLogger sends the daemon's log to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// testConfig is a daemon configuration for a fresh lease table on the emulators, polling.
func testConfig(t testing.TB, stream *testenv.Stream, table string, argv []string) Config {
	return Config{
		Executable:         argv,
		App:                testenv.UniqueName(t, "app"),
		Stream:             stream.Name,
		LeaseTable:         table,
		InitialPosition:    kcl.TrimHorizon,
		Retrieval:          kcl.Polling,
		FailoverTime:       3 * time.Second,
		ShardSyncInterval:  time.Second,
		ParentPollInterval: 100 * time.Millisecond,
		ResponseTimeout:    20 * time.Second,
		ShutdownGrace:      15 * time.Second,
		ProtocolVersion:    2,
		MaxChildRestarts:   5,
	}
}

// running is a daemon running in the background of a test.
type running struct {
	d      *Daemon
	cancel context.CancelFunc
	done   chan error
}

func startDaemon(t *testing.T, env *testenv.Env, cfg Config) *running {
	t.Helper()
	d, err := New(cfg, env.Kinesis, env.DynamoDB, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// stop is SIGTERM: it cancels Run's context and returns Run's result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("daemon did not stop within 60 s of its context ending")
		return nil
	}
}

// waitFor polls cond until it holds, failing t after timeout with what.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition, not waiting out a race
	}
}

// childView is what the fake children of one test saw, by shard.
type childView struct {
	entries []journalEntry
	// shardOf maps a child's pid to the shard it was initialized for.
	shardOf map[int]string
}

type seenRecord struct {
	Data              []byte `json:"data"`
	PartitionKey      string `json:"partitionKey"`
	SequenceNumber    string `json:"sequenceNumber"`
	SubSequenceNumber int64  `json:"subSequenceNumber"`
	Arrival           *int64 `json:"approximateArrivalTimestamp"`
	Action            string `json:"action"`
}

func view(t *testing.T, dir string) childView {
	v := childView{entries: readJournal(t, dir), shardOf: map[int]string{}}
	for _, e := range v.entries {
		if e.Action == ActionInitialize {
			var m struct {
				ShardID string `json:"shardId"`
			}
			json.Unmarshal(e.Raw, &m)
			v.shardOf[e.Pid] = m.ShardID
		}
	}
	return v
}

// records are the records every child of shard got, in order, duplicates included.
func (v childView) records(shard string) []seenRecord {
	var out []seenRecord
	for _, e := range v.entries {
		if e.Action != ActionProcessRecords || v.shardOf[e.Pid] != shard {
			continue
		}
		var m struct {
			Records []seenRecord `json:"records"`
		}
		json.Unmarshal(e.Raw, &m)
		out = append(out, m.Records...)
	}
	return out
}

// actions are the actions the children of shard received, in order.
func (v childView) actions(shard string) []string {
	var out []string
	for _, e := range v.entries {
		if v.shardOf[e.Pid] == shard {
			out = append(out, e.Action)
		}
	}
	return out
}

// distinctData is the set of data of records.
func distinctData(records []seenRecord) map[string]bool {
	m := map[string]bool{}
	for _, r := range records {
		m[string(r.Data)] = true
	}
	return m
}

func getLease(t *testing.T, env *testenv.Env, table, shard string) leases.Lease {
	t.Helper()
	tab, err := leases.NewTable(env.DynamoDB, table)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tab.GetLease(t.Context(), shard)
	if err != nil {
		t.Fatalf("lease %s: %v", shard, err)
	}
	return l
}

// checkpointOf is the shard's checkpoint in the lease table, "" while there is none yet.
func checkpointOf(t testing.TB, env *testenv.Env, table, shard string) string {
	tab, err := leases.NewTable(env.DynamoDB, table)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tab.GetLease(t.Context(), shard)
	if err != nil {
		return ""
	}
	return l.Checkpoint.SequenceNumber()
}

func tableLease(t testing.TB, env *testenv.Env, table, shard string) (leases.Lease, error) {
	tab, err := leases.NewTable(env.DynamoDB, table)
	if err != nil {
		t.Fatal(err)
	}
	return tab.GetLease(t.Context(), shard)
}
