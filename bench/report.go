package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// column is one figure of a result, as the table, the CSV and the charts show it.
type column struct {
	name  string
	value func(r *result) float64
	// format is the table's format of value; "" shows the text of text.
	format string
	text   func(r *result) string
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

var columns = []column{
	{name: "run", text: func(r *result) string { return r.Label }},
	{name: "checkpoint", text: func(r *result) string { return r.Checkpoint }},
	{name: "workers", value: func(r *result) float64 { return float64(r.Workers) }, format: "%.0f"},
	{name: "records", value: func(r *result) float64 { return float64(r.Records) }, format: "%.0f"},
	{name: "batches", value: func(r *result) float64 { return float64(r.Batches) }, format: "%.0f"},
	{name: "records/s", value: func(r *result) float64 { return r.RecordsPerSec }, format: "%.0f"},
	{name: "MiB/s", value: func(r *result) float64 { return r.MiBPerSec }, format: "%.2f"},
	{name: "records/cpu-s", value: func(r *result) float64 { return r.RecordsPerCore }, format: "%.0f"},
	{name: "x bare", value: func(r *result) float64 { return r.RatioToBare }, format: "%.2f"},
	{name: "x bare range", text: func(r *result) string {
		if r.Repeats < 2 {
			return "-"
		}
		return fmt.Sprintf("%.2f-%.2f (%d)", r.RatioMin, r.RatioMax, r.Repeats)
	}},
	{name: "cpu-s/100k", value: func(r *result) float64 { return r.CPUPer100k }, format: "%.3f"},
	{name: "peak RSS MiB", value: func(r *result) float64 { return float64(r.PeakRSS) / mib }, format: "%.1f"},
	{name: "peak heap KiB/shard", value: func(r *result) float64 { return r.HeapPerShard / 1024 }, format: "%.1f"},
	{name: "idle heap KiB/shard", value: func(r *result) float64 { return r.IdleHeapPerShard / 1024 }, format: "%.1f"},
	{name: "wire p50 ms", value: func(r *result) float64 { return ms(r.WireP50) }, format: "%.2f"},
	{name: "wire p99 ms", value: func(r *result) float64 { return ms(r.WireP99) }, format: "%.2f"},
	{name: "wire max ms", value: func(r *result) float64 { return ms(r.WireMax) }, format: "%.1f"},
	{name: "put p50 ms", value: func(r *result) float64 { return ms(r.ArrivalP50) }, format: "%.2f"},
	{name: "put p99 ms", value: func(r *result) float64 { return ms(r.ArrivalP99) }, format: "%.2f"},
	{name: "put max ms", value: func(r *result) float64 { return ms(r.ArrivalMax) }, format: "%.1f"},
	{name: "kinesis calls/shard-min", value: func(r *result) float64 { return r.KinesisPSM }, format: "%.1f"},
	{name: "dynamodb calls/shard-min", value: func(r *result) float64 { return r.DynamoDBPSM }, format: "%.1f"},
	{name: "lost", value: func(r *result) float64 { return float64(r.Lost) }, format: "%.0f"},
	{name: "dups", value: func(r *result) float64 { return float64(r.Dups) }, format: "%.0f"},
	{name: "load", text: func(r *result) string { return r.Load }},
}

func (c column) cell(r *result) string {
	if c.text != nil {
		return c.text(r)
	}
	v := c.value(r)
	if v == 0 && c.name == "x bare" {
		return "-"
	}
	return fmt.Sprintf(c.format, v)
}

// minBatches is the fewest batches whose window the table trusts without a warning.
const minBatches = 20

func (r *result) idleRun() bool { return r.IdleHeapAfterGC > 0 }

// writeTable prints the results transposed (a column per run) when there are few runs,
// which fits a terminal; a row per run otherwise.
func writeTable(w io.Writer, results []*result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if len(results) <= 6 {
		for _, c := range columns {
			fmt.Fprintf(tw, "%s\t", c.name)
			for _, r := range results {
				fmt.Fprintf(tw, "%s\t", c.cell(r))
			}
			fmt.Fprintln(tw)
		}
	} else {
		for _, c := range columns {
			fmt.Fprintf(tw, "%s\t", c.name)
		}
		fmt.Fprintln(tw)
		for _, r := range results {
			for _, c := range columns {
				fmt.Fprintf(tw, "%s\t", c.cell(r))
			}
			fmt.Fprintln(tw)
		}
	}
	_ = tw.Flush()
	for _, r := range results {
		if r.Errors != "" {
			fmt.Fprintf(w, "%s: ERRORS: %s\n", r.Label, r.Errors)
		}
		if r.Batches < minBatches && !r.idleRun() && r.Records > 0 {
			fmt.Fprintf(w, "%s: only %d batches: the throughput window is too short to trust; read more records (-records)\n", r.Label, r.Batches)
		}
		if r.Lost > 0 || r.Foreign > 0 {
			fmt.Fprintf(w, "%s: %d records LOST, %d unparsable\n", r.Label, r.Lost, r.Foreign)
		}
	}
}

// writeFiles writes results.csv and results.json (and the charts) into dir.
func writeFiles(dir, name string, results []*result, fits []fit, vs []string, meta map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, name+".csv"))
	if err != nil {
		return err
	}
	cw := csv.NewWriter(f)
	head := []string{}
	for _, c := range columns {
		head = append(head, c.name)
	}
	_ = cw.Write(head)
	for _, r := range results {
		row := []string{}
		for _, c := range columns {
			if c.text != nil {
				row = append(row, c.text(r))
			} else {
				row = append(row, strconv.FormatFloat(c.value(r), 'g', 6, 64))
			}
		}
		_ = cw.Write(row)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := writeJSONFile(filepath.Join(dir, name+".json"), map[string]any{"machine": meta, "results": results, "growth_per_shard": fits, "targets": vs}); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".md"), markdown(results, fits, vs, meta), 0o644)
}

// markdownColumns are the columns of the Markdown table (the README's figures).
var markdownColumns = []string{"run", "checkpoint", "workers", "records", "records/s", "MiB/s", "records/cpu-s", "x bare", "x bare range",
	"cpu-s/100k", "peak RSS MiB", "peak heap KiB/shard", "idle heap KiB/shard", "wire p50 ms", "wire p99 ms",
	"put p50 ms", "put p99 ms", "put max ms", "kinesis calls/shard-min", "dynamodb calls/shard-min", "lost", "dups", "load"}

// markdown renders the results as the README shows them, with the machine and the load.
func markdown(results []*result, fits []fit, vs []string, meta map[string]string) []byte {
	var b strings.Builder
	var cols []column
	for _, name := range markdownColumns {
		for _, c := range columns {
			if c.name == name {
				cols = append(cols, c)
			}
		}
	}
	for _, c := range cols {
		fmt.Fprintf(&b, "| %s ", c.name)
	}
	b.WriteString("|\n")
	for range cols {
		b.WriteString("|---:")
	}
	b.WriteString("|\n")
	for _, r := range results {
		for _, c := range cols {
			fmt.Fprintf(&b, "| %s ", c.cell(r))
		}
		b.WriteString("|\n")
	}
	for _, r := range results {
		if r.Batches < minBatches && !r.idleRun() && r.Records > 0 {
			fmt.Fprintf(&b, "\n%s: only %d batches, too few for its throughput figures to be trusted.\n", r.Label, r.Batches)
		}
	}
	if len(fits) > 0 {
		b.WriteString("\n```")
		writeFits(&b, fits)
		b.WriteString("```\n")
	}
	if len(vs) > 0 {
		b.WriteString("\n")
		for _, v := range vs {
			fmt.Fprintf(&b, "- %s\n", v)
		}
	}
	if meta != nil {
		fmt.Fprintf(&b, "\n%s, %s CPUs (%s), %s memory, %s; load average at the end: %s.\n", meta["os"], meta["cpus"], meta["cpu"], meta["memory"], meta["go"], meta["load"])
	}
	return []byte(b.String())
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
