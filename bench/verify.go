package main

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"math/bits"
	"sort"
	"sync"
	"time"

	"github.com/kclgo/kcl/internal/replay"
)

// verifier counts every generated record a reader got: unique, duplicate, unparsable. It
// keeps one bit per (key, counter), so lost records are what is missing at the end.
type verifier struct {
	mu       sync.Mutex
	keys     map[uint32][]uint64
	unique   int64
	dups     int64
	foreign  int64
	recent   histogram // arrival -> reader since the last takeRecent
	wire     histogram // server wrote the record -> batch at the reader
	arrival  histogram // record arrived (was put) -> batch at the reader
	maxCount map[uint32]uint64
	// first and last bound the steady window: the process's CPU time and the clock at the
	// first batch (before counting it) and after the last.
	first, last window
	batches     int64
}

type window struct {
	T      int64
	CPU    float64
	Counts int64
}

func newVerifier() *verifier {
	return &verifier{keys: map[uint32][]uint64{}, maxCount: map[uint32]uint64{}}
}

// batchSink collects one batch's records before they go into the verifier under one lock.
type batchSink struct {
	v   *verifier
	at  int64
	ps  []replay.Payload
	bad int64
}

func (v *verifier) begin() *batchSink { return &batchSink{v: v, at: time.Now().UnixNano()} }

func (b *batchSink) add(data []byte) {
	p, err := replay.ParsePayload(data)
	if err != nil {
		b.bad++
		return
	}
	b.ps = append(b.ps, p)
}

func (b *batchSink) commit() {
	v := b.v
	v.mu.Lock()
	defer v.mu.Unlock()
	// The window opens when the first batch has been counted: what is counted in it is
	// what arrived after, over the time it took to arrive.
	defer func() {
		cpu, _ := cpuSeconds()
		w := window{T: time.Now().UnixNano(), CPU: cpu, Counts: v.unique + v.dups}
		if v.first.T == 0 {
			v.first = w
		}
		v.last = w
		v.batches++
	}()
	v.foreign += b.bad
	for _, p := range b.ps {
		set := v.keys[p.Key]
		w := int(p.Counter / 64)
		if w >= len(set) {
			set = append(set, make([]uint64, w+1-len(set)+len(set)/2)...)
			v.keys[p.Key] = set
		}
		bit := uint64(1) << (p.Counter % 64)
		if set[w]&bit != 0 {
			v.dups++
		} else {
			set[w] |= bit
			v.unique++
		}
		if p.Counter+1 > v.maxCount[p.Key] {
			v.maxCount[p.Key] = p.Counter + 1
		}
		if p.Wire > 0 {
			v.wire.add(time.Duration(b.at - p.Wire))
		}
		if p.Arrival > 0 {
			v.arrival.add(time.Duration(b.at - p.Arrival))
			v.recent.add(time.Duration(b.at - p.Arrival))
		}
	}
}

// takeRecent returns the latencies since the last call and starts afresh.
func (v *verifier) takeRecent() histogram {
	v.mu.Lock()
	defer v.mu.Unlock()
	h := v.recent
	v.recent = histogram{}
	return h
}

func (v *verifier) counts() (unique, dups int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.unique, v.dups
}

// verifyReport is what a worker hands its parent: the counts and the bitsets, so that the
// parent can count duplicates across workers and records no worker got.
type verifyReport struct {
	Unique  int64             `json:"unique"`
	Dups    int64             `json:"dups"`
	Foreign int64             `json:"foreign"`
	Wire    histogram         `json:"wire"`
	Arrival histogram         `json:"arrival"`
	Bitsets map[uint32]string `json:"bitsets"`
	Batches int64             `json:"batches"`
	First   window            `json:"first"`
	Last    window            `json:"last"`
}

func (v *verifier) report() verifyReport {
	v.mu.Lock()
	defer v.mu.Unlock()
	r := verifyReport{Unique: v.unique, Dups: v.dups, Foreign: v.foreign, Wire: v.wire, Arrival: v.arrival, Bitsets: map[uint32]string{}, First: v.first, Last: v.last, Batches: v.batches}
	for k, set := range v.keys {
		b := make([]byte, 8*len(set))
		for i, w := range set {
			binary.LittleEndian.PutUint64(b[8*i:], w)
		}
		r.Bitsets[k] = base64.StdEncoding.EncodeToString(b)
	}
	return r
}

// merged is the verdict over every worker of a run.
type merged struct {
	Unique, Dups, Lost, Foreign int64
	// Unread is what the readers had not reached when the run ended.
	Unread        int64
	Wire, Arrival histogram
}

// mergeReports counts across workers; with expectedPerKey > 0, keys 0..keys-1 each hold
// that many records, and what no reader reached is Unread.
func mergeReports(reports []verifyReport, keys int, expectedPerKey int64) merged {
	var m merged
	all := map[uint32][]uint64{}
	for _, r := range reports {
		m.Dups += r.Dups
		m.Foreign += r.Foreign
		m.Wire.merge(r.Wire)
		m.Arrival.merge(r.Arrival)
		for k, s := range r.Bitsets {
			b, _ := base64.StdEncoding.DecodeString(s)
			words := make([]uint64, len(b)/8)
			for i := range words {
				words[i] = binary.LittleEndian.Uint64(b[8*i:])
			}
			cur := all[k]
			if len(words) > len(cur) {
				cur = append(cur, make([]uint64, len(words)-len(cur))...)
			}
			for i, w := range words {
				m.Dups += int64(bits.OnesCount64(cur[i] & w)) // got by two workers
				cur[i] |= w
			}
			all[k] = cur
		}
	}
	for _, set := range all {
		for _, w := range set {
			m.Unique += int64(bits.OnesCount64(w))
		}
	}
	// A record is lost when a later one of its key arrived and it did not; records after
	// the last one read are unread (the run ended first), not lost.
	for _, set := range all {
		for i := len(set) - 1; i >= 0; i-- {
			if set[i] != 0 {
				highest := int64(i*64 + 63 - bits.LeadingZeros64(set[i]))
				var got int64
				for _, w := range set[:i+1] {
					got += int64(bits.OnesCount64(w))
				}
				m.Lost += highest + 1 - got
				break
			}
		}
	}
	if expectedPerKey > 0 {
		m.Unread = int64(keys)*expectedPerKey - m.Unique - m.Lost
	}
	return m
}

// histogram is a log-linear latency histogram: 1 µs to ~1 h in buckets 1/32 of a doubling
// wide (about 2% resolution), cheap to add to and to merge across processes.
type histogram struct {
	Counts map[int]int64 `json:"counts,omitempty"`
	N      int64         `json:"n"`
	Max    time.Duration `json:"max"`
}

const subBuckets = 32

func bucketOf(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us < 1 {
		return 0
	}
	return 1 + int(math.Log2(us)*subBuckets)
}

func bucketValue(b int) time.Duration {
	if b == 0 {
		return 0
	}
	return time.Duration(math.Exp2(float64(b-1)/subBuckets) * float64(time.Microsecond))
}

func (h *histogram) add(d time.Duration) {
	if h.Counts == nil {
		h.Counts = map[int]int64{}
	}
	h.Counts[bucketOf(d)]++
	h.N++
	h.Max = max(h.Max, d)
}

func (h *histogram) merge(o histogram) {
	for b, n := range o.Counts {
		if h.Counts == nil {
			h.Counts = map[int]int64{}
		}
		h.Counts[b] += n
	}
	h.N += o.N
	h.Max = max(h.Max, o.Max)
}

// quantile returns the q-quantile, 0 for an empty histogram.
func (h *histogram) quantile(q float64) time.Duration {
	if h.N == 0 {
		return 0
	}
	bs := make([]int, 0, len(h.Counts))
	for b := range h.Counts {
		bs = append(bs, b)
	}
	sort.Ints(bs)
	rank := int64(math.Ceil(q * float64(h.N)))
	var seen int64
	for _, b := range bs {
		seen += h.Counts[b]
		if seen >= rank {
			return min(bucketValue(b), h.Max)
		}
	}
	return h.Max
}
