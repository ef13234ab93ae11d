package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kclgo/kcl/internal/testenv"
)

// TestMain lets the test binary be its own worker process, as the bench binary is.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		if err := workerMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func smokeEnv(t *testing.T) *environment {
	e := testenv.New(t)
	return &environment{kinesis: e.KinesisEndpoint, dynamoDB: e.DynamoDBEndpoint, stop: func() {}}
}

func smokeConfig(retrieval string) runConfig {
	return runConfig{Source: "replay", Reader: "kcl", Retrieval: retrieval, Checkpoint: "batch", Workers: 1,
		Shards: 2, RecordSize: 100, RecordsPerShard: 3000, Duration: 90 * time.Second, PollingMaxBytes: 64 << 20}
}

// checkComplete fails unless r read every record once and measured something. With
// several workers, leases change hands while they balance, and records read since the
// last checkpoint are read again: duplicates are then expected, and counted.
func checkComplete(t *testing.T, r *result, want int64) {
	t.Helper()
	if r.Errors != "" {
		t.Errorf("%s: errors: %s", r.Label, r.Errors)
	}
	if r.Workers > 1 && r.Dups > 0 {
		t.Logf("%s: %d duplicates after leases changed hands", r.Label, r.Dups)
		r.Dups = 0
	}
	if r.Records != want || r.Lost != 0 || r.Dups != 0 || r.Foreign != 0 {
		t.Errorf("%s: %d records, %d lost, %d duplicates, %d unparsable; want %d, 0, 0, 0", r.Label, r.Records, r.Lost, r.Dups, r.Foreign, want)
	}
	// A window needs batches after the first; a run of one batch per shard has none.
	if (r.Batches > 10 && r.CPUSeconds <= 0) || r.PeakRSS <= 0 || r.KinesisPSM <= 0 {
		t.Errorf("%s: cpu %v s, peak RSS %d, kinesis calls/shard-min %v: not measured", r.Label, r.CPUSeconds, r.PeakRSS, r.KinesisPSM)
	}
}

// TestSmoke runs the harness end to end, small: kcl and the bare loop over both
// retrievals, a KPL-aggregated run, probes, idle shards, and the reports.
func TestSmoke(t *testing.T) {
	env := smokeEnv(t)
	ctx := t.Context()
	var all []*result
	for _, retrieval := range []string{"efo", "polling"} {
		rs, err := runPair(ctx, env, smokeConfig(retrieval), true)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			checkComplete(t, r, 6000)
		}
		if rs[0].RatioToBare <= 0 {
			t.Errorf("%s: no ratio to the bare loop", rs[0].Label)
		}
		if rs[0].DynamoDBCalls["UpdateItem"] == 0 {
			t.Errorf("%s: no checkpoint or renewal counted: %v", rs[0].Label, rs[0].DynamoDBCalls)
		}
		if rs[1].DynamoDBPSM != 0 {
			t.Errorf("the bare loop made DynamoDB calls: %v", rs[1].DynamoDBCalls)
		}
		all = append(all, rs...)
	}

	agg := smokeConfig("efo")
	agg.Aggregate, agg.Workers = 4, 2
	r, err := runOnce(ctx, env, agg)
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, r, 2*3000*4)
	all = append(all, r)

	probes := smokeConfig("efo")
	probes.RecordsPerShard, probes.ProbeGapMin, probes.ProbeGapMax = 30, time.Millisecond, 5*time.Millisecond
	r, err = runOnce(ctx, env, probes)
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, r, 60)
	if r.LatencyN != 60 || r.WireP50 <= 0 || r.ArrivalP50 < r.WireP50/2 || r.WireMax < r.WireP99 {
		t.Errorf("probe latencies: %d samples, wire p50 %v p99 %v max %v, put p50 %v", r.LatencyN, r.WireP50, r.WireP99, r.WireMax, r.ArrivalP50)
	}
	all = append(all, r)

	idle := smokeConfig("efo")
	idle.Idle, idle.Shards = true, 3
	r, err = runOnce(ctx, env, idle)
	if err != nil {
		t.Fatal(err)
	}
	if r.IdleHeapAfterGC == 0 || r.Records != 0 {
		t.Errorf("idle run: heap %d, %d records", r.IdleHeapAfterGC, r.Records)
	}
	all = append(all, r)

	var table bytes.Buffer
	writeTable(&table, all)
	for _, want := range []string{"records/cpu-s", "x bare", "kinesis calls/shard-min", "kcl efo 2sh 100B kpl×4"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	dir := t.TempDir()
	if err := writeFiles(dir, "smoke", all, nil, verdicts(all, nil), machine()); err != nil {
		t.Fatal(err)
	}
	if err := writeCharts(dir, "smoke", all); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"smoke.csv", "smoke.json", "smoke.md", "smoke-throughput.svg", "smoke-latency.svg"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestSmokeEmulators reads kinesis-local, filled by the producer with KPL aggregates.
func TestSmokeEmulators(t *testing.T) {
	env := smokeEnv(t)
	cfg := smokeConfig("polling")
	cfg.Source, cfg.RecordsPerShard, cfg.Aggregate = "emulators", 50, 3
	rs, err := runPair(context.Background(), env, cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		checkComplete(t, r, 2*50*3)
	}
}
