package main

import (
	"time"
)

// result is one run's figures: a row of the table, CSV and JSON.
type result struct {
	Label      string `json:"label"`
	Source     string `json:"source"`
	Reader     string `json:"reader"`
	Retrieval  string `json:"retrieval"`
	Shards     int    `json:"shards"`
	RecordSize int    `json:"record_size"`
	Aggregate  int    `json:"aggregate"`
	Workers    int    `json:"workers"`
	Checkpoint string `json:"checkpoint"`
	Rate       int64  `json:"rate_bytes_per_shard"`
	Load       string `json:"load_average"`
	// Sweep names the grid point; SweepX is its value on the grid's first axis.
	Sweep  string `json:"sweep,omitempty"`
	SweepX string `json:"sweep_x,omitempty"`

	Records int64 `json:"records"`
	// Batches is how many batches the readers took; a window of few says little.
	Batches int64 `json:"batches"`
	Lost    int64 `json:"lost"`
	Dups    int64 `json:"duplicates"`
	Foreign int64 `json:"unparsable"`
	// Unread is what the readers had not reached by -duration.
	Unread int64 `json:"unread,omitempty"`

	// The steady window: from just before the first record to just after the last.
	WindowSeconds  float64 `json:"window_seconds"`
	RecordsPerSec  float64 `json:"records_per_sec"`
	MiBPerSec      float64 `json:"mib_per_sec"`
	CPUSeconds     float64 `json:"cpu_seconds"`
	RecordsPerCore float64 `json:"records_per_cpu_second"`
	CPUPer100k     float64 `json:"cpu_seconds_per_100k"`
	// RatioToBare is RecordsPerCore over the bare loop's of the same run, when there was one.
	RatioToBare float64 `json:"ratio_to_bare,omitempty"`
	// Repeats is how many kcl/bare pairs ran; RatioMin and RatioMax bound their ratios.
	Repeats  int     `json:"repeats,omitempty"`
	RatioMin float64 `json:"ratio_min,omitempty"`
	RatioMax float64 `json:"ratio_max,omitempty"`

	PeakRSS          int64   `json:"peak_rss_bytes"`
	PeakHeap         uint64  `json:"peak_heap_bytes"`
	HeapPerShard     float64 `json:"peak_heap_per_shard_bytes"`
	IdleHeapAfterGC  uint64  `json:"idle_heap_bytes,omitempty"`
	IdleHeapPerShard float64 `json:"idle_heap_per_shard_bytes,omitempty"`

	WireP50     time.Duration `json:"wire_to_reader_p50_ns"`
	WireP99     time.Duration `json:"wire_to_reader_p99_ns"`
	WireMax     time.Duration `json:"wire_to_reader_max_ns"`
	ArrivalP50  time.Duration `json:"put_to_reader_p50_ns"`
	ArrivalP99  time.Duration `json:"put_to_reader_p99_ns"`
	ArrivalMax  time.Duration `json:"put_to_reader_max_ns"`
	LatencyN    int64         `json:"latency_samples"`
	RunSeconds  float64       `json:"run_seconds"`
	KinesisPSM  float64       `json:"kinesis_calls_per_shard_minute"`
	DynamoDBPSM float64       `json:"dynamodb_calls_per_shard_minute"`

	KinesisCalls  map[string]int64 `json:"kinesis_calls"`
	DynamoDBCalls map[string]int64 `json:"dynamodb_calls"`
	Errors        string           `json:"errors,omitempty"`

	// Probes marks a latency run (records at random gaps).
	Probes bool `json:"probes,omitempty"`

	// Timeline is the run's throughput per interval, for charts.
	Timeline []timePoint `json:"timeline,omitempty"`
}

type timePoint struct {
	Seconds       float64 `json:"t"`
	RecordsPerSec float64 `json:"records_per_sec"`
	HeapBytes     uint64  `json:"heap_bytes"`
	// PutP50Ms is the p50 put -> reader latency of the records read in the interval.
	PutP50Ms float64 `json:"put_p50_ms"`
}

const mib = 1 << 20

func summarize(cfg runConfig, finals []*workerFinal, children []*child, run time.Duration, load string) *result {
	r := &result{
		Label: cfg.label(), Source: cfg.Source, Reader: cfg.Reader, Retrieval: cfg.Retrieval, Shards: cfg.Shards,
		RecordSize: cfg.RecordSize, Aggregate: cfg.Aggregate, Workers: cfg.Workers, Checkpoint: cfg.Checkpoint,
		Rate: cfg.Rate, Load: load, RunSeconds: run.Seconds(), Probes: cfg.ProbeGapMax > 0,
		KinesisCalls: map[string]int64{}, DynamoDBCalls: map[string]int64{},
	}
	if r.Reader == "bare" {
		r.Checkpoint = "-"
	}
	var reports []verifyReport
	var t0, t1, windowRecords int64
	for _, f := range finals {
		reports = append(reports, f.Verify)
		r.PeakRSS = max(r.PeakRSS, f.MaxRSS)
		r.PeakHeap += f.PeakHeap
		for k, v := range f.KinesisCalls {
			r.KinesisCalls[k] += v
		}
		for k, v := range f.DynamoDBCalls {
			r.DynamoDBCalls[k] += v
		}
		w0, w1 := f.Verify.First, f.Verify.Last
		if w0.T == 0 {
			continue // read nothing
		}
		r.Batches += f.Verify.Batches
		r.CPUSeconds += w1.CPU - w0.CPU
		windowRecords += w1.Counts - w0.Counts
		if t0 == 0 || w0.T < t0 {
			t0 = w0.T
		}
		t1 = max(t1, w1.T)
	}
	expected := cfg.userRecordsPerShard()
	if cfg.Source == "aws" || cfg.Idle {
		expected = 0 // the stream holds what producers put: only gaps are known
	}
	m := mergeReports(reports, cfg.Shards, expected)
	r.Records, r.Dups, r.Lost, r.Foreign, r.Unread = m.Unique, m.Dups, m.Lost, m.Foreign, m.Unread
	r.WindowSeconds = float64(t1-t0) / 1e9
	// Records counted in the window: every record but the first batch of each worker.
	if r.WindowSeconds > 0 {
		r.RecordsPerSec = float64(windowRecords) / r.WindowSeconds
		r.MiBPerSec = r.RecordsPerSec * float64(cfg.RecordSize) / mib
	}
	if r.CPUSeconds > 0 && windowRecords > 0 {
		r.RecordsPerCore = float64(windowRecords) / r.CPUSeconds
		r.CPUPer100k = r.CPUSeconds / float64(windowRecords) * 1e5
	}
	r.HeapPerShard = float64(r.PeakHeap) / float64(cfg.Shards)
	r.WireP50, r.WireP99, r.WireMax = m.Wire.quantile(0.5), m.Wire.quantile(0.99), m.Wire.Max
	r.ArrivalP50, r.ArrivalP99, r.ArrivalMax = m.Arrival.quantile(0.5), m.Arrival.quantile(0.99), m.Arrival.Max
	r.LatencyN = m.Wire.N
	shardMinutes := float64(cfg.Shards) * run.Minutes()
	for _, v := range r.KinesisCalls {
		r.KinesisPSM += float64(v) / shardMinutes
	}
	for _, v := range r.DynamoDBCalls {
		r.DynamoDBPSM += float64(v) / shardMinutes
	}
	r.Timeline = timeline(children)
	return r
}

// timeline sums the workers' samples per 500 ms interval.
func timeline(children []*child) []timePoint {
	const step = int64(500 * time.Millisecond)
	var start int64
	type acc struct {
		records int64
		heap    uint64
		p50     float64
	}
	buckets := map[int64]*acc{}
	var last int64
	for _, c := range children {
		c.mu.Lock()
		tl := c.timeline
		c.mu.Unlock()
		if len(tl) == 0 {
			continue
		}
		if start == 0 || tl[0].T < start {
			start = tl[0].T
		}
	}
	for _, c := range children {
		c.mu.Lock()
		tl := c.timeline
		c.mu.Unlock()
		prev := int64(0)
		for _, s := range tl {
			b := (s.T - start) / step
			a := buckets[b]
			if a == nil {
				a = &acc{}
				buckets[b] = a
			}
			n := s.Unique + s.Dups
			a.records += n - prev
			prev = n
			a.heap = max(a.heap, s.Heap)
			a.p50 = max(a.p50, float64(s.PutP50)/1e6)
			last = max(last, b)
		}
	}
	out := make([]timePoint, 0, last+1)
	for b := int64(0); b <= last; b++ {
		a := buckets[b]
		if a == nil {
			a = &acc{}
		}
		out = append(out, timePoint{Seconds: float64(b*step) / 1e9, RecordsPerSec: float64(a.records) / (float64(step) / 1e9), HeapBytes: a.heap, PutP50Ms: a.p50})
	}
	return out
}

// ProbeRun reports whether the run sent latency probes rather than a throughput load.
func (r *result) ProbeRun() bool { return r.Probes }
