package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// writeCharts draws throughput and latency over time for every run, and, for a sweep,
// each metric across the grid. SVG, so the README shows them sharp.
func writeCharts(dir, name string, results []*result) error {
	if err := overTime(filepath.Join(dir, name+"-throughput.svg"), "records/s over time", "records/s", results,
		func(p timePoint) float64 { return p.RecordsPerSec }); err != nil {
		return err
	}
	if err := overTime(filepath.Join(dir, name+"-latency.svg"), "put -> reader p50 over time", "ms", results,
		func(p timePoint) float64 { return p.PutP50Ms }); err != nil {
		return err
	}
	if len(results) == 0 || results[0].Sweep == "" {
		return nil
	}
	for _, c := range columns {
		if c.value == nil || !slices.Contains(sweepMetrics, c.name) {
			continue
		}
		file := filepath.Join(dir, name+"-"+slug(c.name)+".svg")
		if err := acrossSweep(file, c, results); err != nil {
			return err
		}
	}
	return nil
}

// sweepMetrics are the columns charted across a sweep.
var sweepMetrics = []string{"records/s", "MiB/s", "records/cpu-s", "x bare", "cpu-s/100k", "peak RSS MiB",
	"peak heap KiB/shard", "idle heap KiB/shard", "wire p50 ms", "put p50 ms", "put p99 ms",
	"kinesis calls/shard-min", "dynamodb calls/shard-min"}

func slug(s string) string {
	r := strings.NewReplacer("/", "-per-", " ", "-", ".", "")
	return strings.ToLower(r.Replace(s))
}

func overTime(file, title, unit string, results []*result, y func(timePoint) float64) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds since the workers started"
	p.Y.Label.Text = unit
	var lines []any
	for _, r := range results {
		if len(r.Timeline) == 0 {
			continue
		}
		pts := make(plotter.XYs, 0, len(r.Timeline))
		for _, tp := range r.Timeline {
			pts = append(pts, plotter.XY{X: tp.Seconds, Y: y(tp)})
		}
		name := r.Label
		if r.Sweep != "" {
			name = r.Reader + " " + r.Sweep
		}
		lines = append(lines, name, pts)
	}
	if len(lines) == 0 {
		return nil
	}
	if err := plotutil.AddLines(p, lines...); err != nil {
		return err
	}
	p.Legend.Top = true
	return p.Save(8*vg.Inch, 5*vg.Inch, file)
}

// acrossSweep charts one metric against the grid's first axis, a line per reader and
// per combination of the other axes.
func acrossSweep(file string, c column, results []*result) error {
	var xs []string
	series := map[string]map[string]float64{}
	var order []string
	for _, r := range results {
		if !slices.Contains(xs, r.SweepX) {
			xs = append(xs, r.SweepX)
		}
		_, rest, _ := strings.Cut(r.Sweep, " ") // the other axes: empty for a one-axis grid
		key := strings.TrimSpace(r.Reader + " " + rest)
		if series[key] == nil {
			series[key] = map[string]float64{}
			order = append(order, key)
		}
		series[key][r.SweepX] = c.value(r)
	}
	p := plot.New()
	p.Title.Text = c.name + " across the sweep"
	p.Y.Label.Text = c.name
	if first := results[0].Sweep; first != "" {
		k, _, _ := strings.Cut(first, "=")
		p.X.Label.Text = k
	}
	var lines []any
	for _, key := range order {
		pts := plotter.XYs{}
		for i, x := range xs {
			if v, ok := series[key][x]; ok {
				pts = append(pts, plotter.XY{X: float64(i), Y: v})
			}
		}
		lines = append(lines, key, pts)
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return err
	}
	ticks := make([]plot.Tick, len(xs))
	for i, x := range xs {
		ticks[i] = plot.Tick{Value: float64(i), Label: x}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = -0.2, float64(len(xs)-1)+0.2
	p.Legend.Top = true
	if err := p.Save(8*vg.Inch, 5*vg.Inch, file); err != nil {
		return fmt.Errorf("chart %s: %w", file, err)
	}
	return nil
}
