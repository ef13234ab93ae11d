package main

import (
	"fmt"
	"io"
	"time"
)

// The targets, checked against every run they apply to and reported either way.
const (
	targetRatio            = 0.9 // records per CPU-second, kcl over the bare loop
	targetEFOAddedP50      = 5 * time.Millisecond
	targetIdleHeapPerShard = 64 << 10
)

// verdicts says, for each run or fit a target applies to, whether it holds.
func verdicts(results []*result, fits []fit) []string {
	var out []string
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	for i, r := range results {
		if r.Reader != "kcl" || r.RatioToBare == 0 || i+1 >= len(results) {
			continue
		}
		bare := results[i+1]
		if r.ProbeRun() {
			added := r.WireP50 - bare.WireP50
			if r.Retrieval == "efo" {
				out = append(out, fmt.Sprintf("%s: adds %.2f ms p50 from the wire to the reader over the bare loop (%.2f vs %.2f ms); target <= %v: %s",
					r.Label, ms(added), ms(r.WireP50), ms(bare.WireP50), targetEFOAddedP50, mark(added <= targetEFOAddedP50)))
			}
			continue
		}
		if r.Batches >= minBatches {
			spread := ""
			if r.Repeats > 1 {
				spread = fmt.Sprintf(", the median of %d alternating pairs ranging %.2f-%.2fx", r.Repeats, r.RatioMin, r.RatioMax)
			}
			out = append(out, fmt.Sprintf("%s (checkpoint %s): %.3fx the bare loop's records per CPU-second (%.0f vs %.0f%s); target >= %.1fx: %s",
				r.Label, r.Checkpoint, r.RatioToBare, r.RecordsPerCore, bare.RecordsPerCore, spread, targetRatio, mark(r.RatioToBare >= targetRatio)))
		}
	}
	for _, f := range fits {
		if f.Metric == "idle heap" && f.Series != "" && len(f.Series) >= 3 && f.Series[:3] == "kcl" {
			out = append(out, fmt.Sprintf("%s: idle heap grows %.1f KiB per shard (r²=%.3f over %d shard counts); target <= 64 KiB and linear: %s",
				f.Series, f.PerShard/1024, f.R2, f.Points, mark(f.PerShard <= targetIdleHeapPerShard && f.R2 >= 0.98)))
		}
	}
	return out
}

func writeVerdicts(w io.Writer, vs []string) {
	if len(vs) == 0 {
		return
	}
	fmt.Fprintln(w, "\ntargets:")
	for _, v := range vs {
		fmt.Fprintln(w, "  "+v)
	}
}
