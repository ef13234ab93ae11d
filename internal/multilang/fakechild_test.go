package multilang

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as a scripted record processor: with FAKE_CHILD set, TestMain runs
// fakeChild instead of the tests. It speaks the protocol from the child's side with plain
// encoding/json (independently of this package's encoder), and appends what it received and
// what the daemon answered to a journal file per process in FAKE_CHILD_DIR.
//
// FAKE_CHILD is a comma-separated list of behaviours:
//
//	checkpoint        checkpoint at the last record of every processRecords, with sub-sequence
//	checkpoint-bare   checkpoint without a position after every processRecords
//	end               checkpoint without a position at shardEnded (and at shutdown TERMINATE)
//	on-shutdown       checkpoint without a position at shutdownRequested
//	garbage           print stray lines (text, JSON that is not a message) before answering
//	crash-once        exit 3 on the first processRecords of the first process
//	hang-once         never answer the first processRecords of the first process
//	flood             write 5000 lines to stderr on every message
//	wrong-status      answer the first processRecords of the first process with a status for
//	                  another action
//	forget-end-once   answer the first shardEnded of the first process without checkpointing
//	half-crash-once   on the first processRecords of the first process with 2+ records, checkpoint
//	                  at the middle record and exit 3
//	exit-idle-once    the first process exits 0 right after answering initialize
//	wait-file         on processRecords, wait for the file "go" in FAKE_CHILD_DIR before going on
//	ask-in-init       ask for a checkpoint while handling initialize
//	ask-past          ask for a checkpoint past the last record delivered, and (with checkpoint)
//	                  one before the checkpoint just made
func TestMain(m *testing.M) {
	if modes := os.Getenv("FAKE_CHILD"); modes != "" {
		os.Exit(fakeChild(modes, os.Getenv("FAKE_CHILD_DIR")))
	}
	os.Exit(m.Run())
}

// journalEntry is one line of a fake child's journal.
type journalEntry struct {
	Pid    int             `json:"pid"`
	T      int64           `json:"t"`
	Action string          `json:"action"`
	Raw    json.RawMessage `json:"raw"`
}

func fakeChild(modes, dir string) int {
	has := func(m string) bool { return strings.Contains(","+modes+",", ","+m+",") }
	// once marks a behaviour used by an earlier process of this test.
	once := func(name string) bool {
		f, err := os.OpenFile(filepath.Join(dir, name+".once"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return false
		}
		f.Close()
		return true
	}
	journal, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("journal-%d.jsonl", os.Getpid())), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer journal.Close()
	note := func(action string, raw []byte) {
		b, _ := json.Marshal(journalEntry{Pid: os.Getpid(), T: time.Now().UnixNano(), Action: action, Raw: json.RawMessage(append([]byte(nil), raw...))})
		journal.Write(append(b, '\n'))
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	send := func(v map[string]any) {
		b, _ := json.Marshal(v)
		out.Write(b)
		out.WriteString("\n")
		out.Flush()
	}
	// checkpoint asks for a checkpoint and returns the daemon's reply.
	checkpoint := func(seq any, sub any) map[string]any {
		req := map[string]any{"action": "checkpoint", "sequenceNumber": seq}
		if sub != nil {
			req["subSequenceNumber"] = sub
		}
		send(req)
		for in.Scan() {
			var reply map[string]any
			if json.Unmarshal(in.Bytes(), &reply) == nil && reply["action"] == "checkpoint" {
				note("checkpoint-reply", in.Bytes())
				return reply
			}
			note("unexpected", in.Bytes())
		}
		os.Exit(4)
		return nil
	}
	for in.Scan() {
		line := in.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		var msg map[string]json.RawMessage
		if err := json.Unmarshal(line, &msg); err != nil {
			note("undecodable", line)
			return 5
		}
		var action string
		json.Unmarshal(msg["action"], &action)
		note(action, line)
		if has("flood") {
			for i := range 5000 {
				fmt.Fprintf(os.Stderr, "flood line %d of a chatty record processor\n", i)
			}
		}
		if has("garbage") {
			fmt.Fprintln(out, "a library printing to stdout")
			fmt.Fprintln(out, `{"not":"a message"}`)
			fmt.Fprintln(out, `{"action":"nonsense"}`)
			fmt.Fprintln(out, "[1,2,3]")
			out.Flush()
		}
		switch action {
		case "initialize":
			if has("ask-in-init") {
				checkpoint(nil, nil)
			}
			if has("exit-idle-once") && once("exit-idle") {
				send(map[string]any{"action": "status", "responseFor": action})
				return 0
			}
		case "processRecords":
			if has("crash-once") && once("crash") {
				os.Exit(3)
			}
			if has("hang-once") && once("hang") {
				select {}
			}
			var records []struct {
				SequenceNumber    string `json:"sequenceNumber"`
				SubSequenceNumber int64  `json:"subSequenceNumber"`
			}
			json.Unmarshal(msg["records"], &records)
			if has("wrong-status") && once("wrong-status") {
				send(map[string]any{"action": "status", "responseFor": "initialize"})
				continue
			}
			if has("half-crash-once") && len(records) > 1 && once("half-crash") {
				mid := records[len(records)/2]
				checkpoint(mid.SequenceNumber, mid.SubSequenceNumber)
				os.Exit(3)
			}
			if has("wait-file") {
				for {
					if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			if has("ask-past") && len(records) > 0 {
				checkpoint("9"+records[len(records)-1].SequenceNumber, nil) // far past
			}
			switch {
			case has("checkpoint") && len(records) > 0:
				last := records[len(records)-1]
				checkpoint(last.SequenceNumber, last.SubSequenceNumber)
				if has("ask-past") && len(records) > 1 {
					checkpoint(records[0].SequenceNumber, records[0].SubSequenceNumber) // backwards
				}
			case has("checkpoint-bare"):
				checkpoint(nil, nil)
			}
		case "shardEnded":
			if has("forget-end-once") && once("forget-end") {
				break
			}
			if has("end") {
				checkpoint(nil, nil)
			}
		case "shutdown":
			var reason string
			json.Unmarshal(msg["reason"], &reason)
			if reason == "TERMINATE" && has("end") {
				checkpoint(nil, nil)
			}
		case "shutdownRequested":
			if has("on-shutdown") {
				checkpoint(nil, nil)
			}
		case "checkpoint":
			continue // a reply outside a request: journaled only
		}
		send(map[string]any{"action": "status", "responseFor": action})
	}
	note("eof", nil)
	return 0
}

// journal reads every fake child's journal in dir.
func readJournal(t *testing.T, dir string) []journalEntry {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "journal-*.jsonl"))
	var entries []journalEntry
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
			if line == "" {
				continue
			}
			var e journalEntry
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("journal %s: %v", f, err)
			}
			entries = append(entries, e)
		}
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].T < entries[j].T })
	return entries
}

// fakeChildCommand is the command line that starts this test binary as a fake child.
func fakeChildCommand(t *testing.T, modes string) ([]string, string) {
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// env(1) sets the child's variables: the daemon starts children with its own environment.
	return []string{"env", "FAKE_CHILD=" + modes, "FAKE_CHILD_DIR=" + dir, exe, "-test.run=^$"}, dir
}
