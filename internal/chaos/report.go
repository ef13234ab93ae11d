package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Report is a run's verdict: one ModeReport per retrieval mode.
type Report struct {
	OK       bool          `json:"ok"`
	Seed     uint64        `json:"seed"`
	Duration string        `json:"duration"`
	Workers  int           `json:"workers"`
	Broken   string        `json:"broken,omitempty"`
	Modes    []*ModeReport `json:"modes"`
}

func (r *Report) write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Summary prints the one-screen verdict.
func (r *Report) Summary(w io.Writer) {
	verdict := "PASS"
	if !r.OK {
		verdict = "FAIL"
	}
	broken := ""
	if r.Broken != "" {
		broken = ", BROKEN worker: " + r.Broken
	}
	fmt.Fprintf(w, "==== kcl chaos: %s  (seed %d, %s of faults per mode, %d workers%s)\n", verdict, r.Seed, r.Duration, r.Workers, broken)
	for _, m := range r.Modes {
		v := "ok"
		if !m.OK {
			v = "FAILED"
		}
		fmt.Fprintf(w, "-- %s: %s in %s; %d worker processes, %d tenures, %d shards\n", m.Mode, v, m.Elapsed, m.Workers, m.Tenures, m.Shards)
		fmt.Fprintf(w, "   faults applied: %s\n", formatFaults(m.FaultsApplied))
		fmt.Fprintf(w, "   SDK calls faulted (workers that reported): %s\n", formatFaults(m.FaultsInjected))
		fmt.Fprintf(w, "   lease handovers: %d\n", m.Handovers)
		fmt.Fprintf(w, "   acknowledged %d user records (%d put errors retried), %d deliveries, %d checkpoints (%d failed)\n",
			m.Acked, m.PutErrors, m.Deliveries, m.Checkpoints, m.CheckpointErrors)
		row := func(name string, fs []Finding) {
			mark := "ok  "
			if len(fs) > 0 {
				mark = "FAIL"
			}
			fmt.Fprintf(w, "   %s %-44s %d\n", mark, name, len(fs))
			for i, f := range fs {
				if i == 5 {
					fmt.Fprintf(w, "          ... and %d more (report.json)\n", len(fs)-5)
					break
				}
				what := f.What
				if f.Pos != nil {
					what += fmt.Sprintf(" [%s %s/%d", f.Pos.Shard, f.Pos.Seq, f.Pos.Sub)
					if f.N != nil {
						what += fmt.Sprintf(" record #%d", *f.N)
					}
					what += "]"
				}
				fmt.Fprintf(w, "          %s\n", firstLines(what, 6))
			}
		}
		row("acknowledged puts never delivered", m.Lost)
		row("acknowledged puts missing from the stream", m.AckedNotInStream)
		fmt.Fprintf(w, "   %s %-44s %d (explained: %d)\n", mark(m.Duplicates.Unexplained == 0), "unexplained duplicates", m.Duplicates.Unexplained, m.Duplicates.Explained)
		for i, f := range m.UnexplainedDuplicates {
			if i == 5 {
				break
			}
			fmt.Fprintf(w, "          %s [%s %s/%d]\n", f.What, f.Pos.Shard, f.Pos.Seq, f.Pos.Sub)
		}
		row("out of order within a tenure", m.OutOfOrder)
		row("child delivered before parent's last record", m.ChildBeforeParent)
		row("two workers delivering a shard > failover", m.ConcurrentDelivery)
		row("checkpoints going backwards (fence)", m.CheckpointRegressions)
		row("corrupt or mismatched payloads", m.BadPayloads)
		row("workers with kcl goroutines after Stop/Drain", m.GoroutinesLeft)
		row("worker failures (exit, race, panic)", m.WorkerFailures)
		if len(m.Hung) > 0 {
			fmt.Fprintf(w, "   FAIL workers that did not stop in 60 s: %s\n", strings.Join(m.Hung, ", "))
		}
	}
	fmt.Fprintf(w, "==== replay with -seed %d\n", r.Seed)
}

func mark(ok bool) string {
	if ok {
		return "ok  "
	}
	return "FAIL"
}

func formatFaults(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
