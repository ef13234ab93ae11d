package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// fit is a least-squares line through one series of a sweep over shards: how a figure
// grows per shard, and how straight the growth is (r² near 1: linear).
type fit struct {
	Series   string  `json:"series"`
	Metric   string  `json:"metric"`
	PerShard float64 `json:"per_shard"`
	Base     float64 `json:"base"`
	R2       float64 `json:"r2"`
	Points   int     `json:"points"`
	Unit     string  `json:"unit"`
}

// shardFits fits idle heap, peak heap, peak RSS and CPU per second against shards, per
// reader, over the results of a sweep whose first axis is shards.
func shardFits(results []*result) []fit {
	type pt struct{ x, y float64 }
	metrics := []struct {
		name, unit string
		y          func(r *result) float64
	}{
		{"idle heap", "bytes", func(r *result) float64 { return float64(r.IdleHeapAfterGC) }},
		{"peak heap", "bytes", func(r *result) float64 { return float64(r.PeakHeap) }},
		{"peak RSS", "bytes", func(r *result) float64 { return float64(r.PeakRSS) }},
		{"CPU", "cores", func(r *result) float64 {
			if r.WindowSeconds == 0 {
				return 0
			}
			return r.CPUSeconds / r.WindowSeconds
		}},
	}
	var out []fit
	for _, m := range metrics {
		series := map[string][]pt{}
		for _, r := range results {
			if !strings.HasPrefix(r.Sweep, "shards=") && !strings.HasPrefix(r.Sweep, "shards:") {
				return nil
			}
			y := m.y(r)
			if y == 0 {
				continue
			}
			_, rest, _ := strings.Cut(r.Sweep, " ")
			key := strings.TrimSpace(r.Reader + " " + r.Retrieval + " " + rest)
			series[key] = append(series[key], pt{float64(r.Shards), y})
		}
		keys := make([]string, 0, len(series))
		for k := range series {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ps := series[k]
			if len(ps) < 2 {
				continue
			}
			var sx, sy, sxx, sxy, syy float64
			n := float64(len(ps))
			for _, p := range ps {
				sx += p.x
				sy += p.y
				sxx += p.x * p.x
				sxy += p.x * p.y
				syy += p.y * p.y
			}
			den := n*sxx - sx*sx
			if den == 0 {
				continue
			}
			slope := (n*sxy - sx*sy) / den
			base := (sy - slope*sx) / n
			r2 := 1.0
			if v := (n*syy - sy*sy); v > 0 {
				r := (n*sxy - sx*sy) / math.Sqrt(den*v)
				r2 = r * r
			}
			out = append(out, fit{Series: k, Metric: m.name, PerShard: slope, Base: base, R2: r2, Points: len(ps), Unit: m.unit})
		}
	}
	return out
}

func writeFits(w io.Writer, fits []fit) {
	if len(fits) == 0 {
		return
	}
	fmt.Fprintln(w, "\ngrowth per shard (least squares over the sweep's shard counts):")
	for _, f := range fits {
		switch f.Unit {
		case "bytes":
			fmt.Fprintf(w, "  %-28s %-10s %8.1f KiB/shard  + %8.1f KiB   r²=%.3f (%d points)\n", f.Series, f.Metric, f.PerShard/1024, f.Base/1024, f.R2, f.Points)
		default:
			fmt.Fprintf(w, "  %-28s %-10s %8.4f %s/shard + %8.3f %s r²=%.3f (%d points)\n", f.Series, f.Metric, f.PerShard, f.Unit, f.Base, f.Unit, f.R2, f.Points)
		}
	}
}
