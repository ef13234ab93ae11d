package main

import (
	"testing"
	"time"

	"github.com/kclgo/kcl/internal/replay"
)

func payload(key uint32, n uint64) []byte {
	return append(replay.AppendHeader(nil, replay.Payload{Key: key, Counter: n, Arrival: time.Now().UnixNano()}), replay.Filler(50)...)
}

func TestMergeCountsLostAndDuplicatesAcrossWorkers(t *testing.T) {
	a, b := newVerifier(), newVerifier()
	s := a.begin()
	for n := range uint64(100) {
		s.add(payload(0, n))
	}
	s.add(payload(0, 5)) // a duplicate within a worker
	s.add([]byte("not ours"))
	s.commit()
	s = b.begin()
	for n := uint64(90); n < 150; n++ { // 10 read by both workers; 150..199 never
		s.add(payload(0, n))
	}
	s.commit()
	m := mergeReports([]verifyReport{a.report(), b.report()}, 1, 200)
	if m.Unique != 150 || m.Dups != 11 || m.Lost != 0 || m.Unread != 50 || m.Foreign != 1 {
		t.Fatalf("unique %d dups %d lost %d unread %d foreign %d; want 150 11 0 50 1", m.Unique, m.Dups, m.Lost, m.Unread, m.Foreign)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d < -0.03 || d > 0.03 {
			t.Errorf("q%.2f = %v, want %v within 3%%", c.q, got, c.want)
		}
	}
	var empty histogram
	if empty.quantile(0.5) != 0 {
		t.Error("empty histogram has a quantile")
	}
}

func TestParseGrid(t *testing.T) {
	axes, err := parseGrid("shards=1,10;retrieval=efo,polling")
	if err != nil {
		t.Fatal(err)
	}
	cfgs, labels, err := combinations(runConfig{Shards: 4, Retrieval: "efo"}, axes)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 4 || cfgs[3].Shards != 10 || cfgs[3].Retrieval != "polling" || labels[1] != "shards=1 retrieval=polling" {
		t.Fatalf("combinations: %+v %q", cfgs, labels)
	}
	for _, bad := range []string{"", "shards", "color=red", "shards=x"} {
		axes, err := parseGrid(bad)
		if err == nil {
			_, _, err = combinations(runConfig{}, axes)
		}
		if err == nil {
			t.Errorf("parseGrid(%q) accepted", bad)
		}
	}
}

func TestMergeCountsGapsWithoutAnExpectedCount(t *testing.T) {
	v := newVerifier()
	s := v.begin()
	for _, n := range []uint64{0, 1, 2, 4, 7, 70} { // 3, 5, 6 and 8..69 missing
		s.add(payload(3, n))
	}
	s.add(payload(4, 0))
	s.commit()
	m := mergeReports([]verifyReport{v.report()}, 2, 0)
	if m.Unique != 7 || m.Lost != 3+62 {
		t.Fatalf("unique %d lost %d; want 7 and 65", m.Unique, m.Lost)
	}
}
