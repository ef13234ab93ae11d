package multilang

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kclgo/kcl/internal/testenv"
)

// awsKCL is the node_modules directory holding the pinned npm aws-kcl, installed by
// scripts/aws-kcl.sh on first use.
var awsKCL = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("bash", "../../scripts/aws-kcl.sh", "path").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return "", &exec.Error{Name: "scripts/aws-kcl.sh path", Err: errorString(string(ee.Stderr))}
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
})

type errorString string

func (e errorString) Error() string { return string(e) }

// nodeSample returns the command line of the Node.js sample processor and the file it
// writes its records to.
func nodeSample(t *testing.T) ([]string, string) {
	t.Helper()
	modules, err := awsKCL()
	if err != nil {
		t.Fatalf("the npm aws-kcl package is needed: %v", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is needed: %v", err)
	}
	script, err := filepath.Abs("testdata/node/sample_processor.js")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "records.jsonl")
	return []string{"env", "NODE_PATH=" + modules, "SAMPLE_OUT=" + out, "node", script}, out
}

type sampleEntry struct {
	Event             string  `json:"event"`
	Pid               int     `json:"pid"`
	ShardID           string  `json:"shardId"`
	Data              string  `json:"data"`
	PartitionKey      string  `json:"partitionKey"`
	SequenceNumber    *string `json:"sequenceNumber"`
	SubSequenceNumber *int64  `json:"subSequenceNumber"`
	Arrival           *int64  `json:"arrival"`
	Error             *string `json:"error"`
}

func readSample(t *testing.T, path string) []sampleEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []sampleEntry
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		var e sampleEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

// TestNodeClient: a record processor written on the official Node.js KCL consumes a stream
// through the daemon and checkpoints; SIGTERM lets it checkpoint once more; a new daemon
// starts it again at its checkpoint, and it gets exactly the records put after it.
func TestNodeClient(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	table := env.LeaseTable(t)
	argv, outFile := nodeSample(t)
	cfg := testConfig(t, stream, table, argv)

	first := stream.PutN(t, "first", 40)
	r := startDaemon(t, env, cfg)
	for shard, ps := range testenv.ByShard(first) {
		waitFor(t, 60*time.Second, "the Node.js processor's checkpoint on "+shard, func() bool {
			return checkpointOf(t, env, table, shard) == ps[len(ps)-1].SequenceNumber
		})
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	run1 := readSample(t, outFile)
	checkRecords(t, run1, first)
	for _, e := range run1 {
		if (e.Event == "checkpoint" || e.Event == "shutdownRequested") && e.Error != nil {
			t.Errorf("run 1: %s failed: %s", e.Event, *e.Error)
		}
	}
	if !hasEvent(run1, "shutdownRequested") || !hasEvent(run1, "leaseLost") {
		t.Errorf("run 1: the processor did not see shutdownRequested and leaseLost on SIGTERM")
	}

	if err := os.Remove(outFile); err != nil {
		t.Fatal(err)
	}
	second := stream.PutN(t, "second", 40)
	cfg.WorkerID = "" // a new worker
	r = startDaemon(t, env, cfg)
	for shard, ps := range testenv.ByShard(second) {
		waitFor(t, 60*time.Second, "the Node.js processor's checkpoint on "+shard, func() bool {
			return checkpointOf(t, env, table, shard) == ps[len(ps)-1].SequenceNumber
		})
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	run2 := readSample(t, outFile)
	checkRecords(t, run2, second) // exactly the new records: none of the first run's again
	lastOfFirst := map[string]string{}
	for shard, ps := range testenv.ByShard(first) {
		lastOfFirst[shard] = ps[len(ps)-1].SequenceNumber
	}
	for _, e := range run2 {
		if e.Event == "initialize" {
			if e.SequenceNumber == nil || *e.SequenceNumber != lastOfFirst[e.ShardID] {
				t.Errorf("run 2: initialize for %s at %v; want the checkpoint %s", e.ShardID, e.SequenceNumber, lastOfFirst[e.ShardID])
			}
		}
	}
}

// checkRecords: the processor got exactly puts, each once, in order per shard, with data,
// partition key, sequence number and arrival time.
func checkRecords(t *testing.T, entries []sampleEntry, puts []testenv.Put) {
	t.Helper()
	got := map[string][]sampleEntry{}
	for _, e := range entries {
		if e.Event == "record" {
			got[e.ShardID] = append(got[e.ShardID], e)
		}
	}
	for shard, ps := range testenv.ByShard(puts) {
		g := got[shard]
		if len(g) != len(ps) {
			t.Errorf("shard %s: the processor got %d records; want %d", shard, len(g), len(ps))
			continue
		}
		for i, p := range ps {
			if g[i].Data != string(p.Data) || g[i].PartitionKey != p.PartitionKey || g[i].SequenceNumber == nil || *g[i].SequenceNumber != p.SequenceNumber || g[i].Arrival == nil {
				t.Errorf("shard %s record %d: got %+v; want %s %s %s", shard, i, g[i], p.Data, p.PartitionKey, p.SequenceNumber)
				break
			}
		}
	}
}

func hasEvent(entries []sampleEntry, event string) bool {
	for _, e := range entries {
		if e.Event == event {
			return true
		}
	}
	return false
}
