package replay

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/kclgo/kcl/aggregation"
)

// shard is one shard of every replayed stream.
type shard struct {
	index              int
	id                 string
	startHash, endHash string
	// offsets, in probe mode, are the arrival times of the shard's records after its clock
	// started.
	offsets []time.Duration
	// clockStart is when the shard's first read started its clock (unix nanoseconds, 0
	// before): probes and paced records arrive from then on, so that no record waits for
	// a reader that is still starting and latencies describe the steady state.
	clockStart atomic.Int64
}

// startClock starts sh's clock if this is its first read.
func (s *Server) startClock(sh *shard) {
	sh.clockStart.CompareAndSwap(0, time.Now().UnixNano())
}

// clockBase is when sh's clock started, or a far future before its first read.
func clockBase(sh *shard) time.Time {
	if n := sh.clockStart.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Unix(0, math.MaxInt64/2)
}

func shardID(i int) string { return fmt.Sprintf("shardId-%012d", i) }

// shardIndex parses a shard id of this server.
func (s *Server) shardIndex(id string) (int, bool) {
	const prefix = "shardId-"
	if len(id) != len(prefix)+12 || id[:len(prefix)] != prefix {
		return 0, false
	}
	n, err := strconv.Atoi(id[len(prefix):])
	if err != nil || n < 0 || n >= len(s.shards) {
		return 0, false
	}
	return n, true
}

// newShards splits the hash-key space evenly, as CreateStream does.
func newShards(cfg Config) []shard {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	step := new(big.Int).Div(space, big.NewInt(int64(cfg.Shards)))
	out := make([]shard, cfg.Shards)
	for i := range out {
		start := new(big.Int).Mul(step, big.NewInt(int64(i)))
		end := new(big.Int).Sub(new(big.Int).Add(start, step), big.NewInt(1))
		if i == cfg.Shards-1 {
			end = new(big.Int).Sub(space, big.NewInt(1))
		}
		out[i] = shard{index: i, id: shardID(i), startHash: start.String(), endHash: end.String()}
		if cfg.ProbeGapMax > 0 {
			rng := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(i)))
			offs := make([]time.Duration, cfg.RecordsPerShard)
			var t time.Duration
			for n := range offs {
				t += cfg.ProbeGapMin + time.Duration(rng.Int64N(int64(cfg.ProbeGapMax-cfg.ProbeGapMin)+1))
				offs[n] = t
			}
			out[i].offsets = offs
		}
	}
	return out
}

// sequenceNumber is record n's sequence number in shard sh: 56 digits, increasing with n.
// n = -1 gives the shard's starting sequence number, which precedes every record.
func sequenceNumber(dst []byte, sh, n int64) []byte {
	dst = append(dst, '4', '9')
	dst = appendPadded(dst, sh, 6)
	return appendPadded(dst, n+1, 48)
}

func appendPadded(dst []byte, v int64, width int) []byte {
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], v, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// parseSequenceNumber returns the record index of a sequence number of shard sh.
func parseSequenceNumber(seq string, sh int) (int64, bool) {
	if len(seq) != 56 || seq[:2] != "49" {
		return 0, false
	}
	if s, err := strconv.Atoi(seq[2:8]); err != nil || s != sh {
		return 0, false
	}
	n, err := strconv.ParseInt(trimZeros(seq[8:]), 10, 64)
	return n - 1, err == nil && n >= 0
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

// arrival is when record n of sh becomes readable.
func (s *Server) arrival(sh *shard, n int64) time.Time {
	switch {
	case sh.offsets != nil:
		if n >= int64(len(sh.offsets)) {
			return time.Unix(0, math.MaxInt64/2)
		}
		return clockBase(sh).Add(sh.offsets[n])
	case s.cfg.BytesPerSecond > 0:
		return clockBase(sh).Add(time.Duration(float64(n) * s.recordBytes() * float64(time.Second) / float64(s.cfg.BytesPerSecond)))
	}
	return s.start
}

// recordBytes is the size of one Kinesis record's data.
func (s *Server) recordBytes() float64 {
	return float64(s.cfg.RecordSize * max(s.cfg.Aggregate, 1))
}

// more reports whether a shard holds a record n: it will arrive some time.
func (s *Server) more(n int64) bool {
	return !s.cfg.Idle && (s.cfg.RecordsPerShard <= 0 || n < s.cfg.RecordsPerShard)
}

// available is how many records of sh are readable at now.
func (s *Server) available(sh *shard, now time.Time) int64 {
	if s.cfg.Idle {
		return 0
	}
	limit := s.cfg.RecordsPerShard
	if limit <= 0 {
		limit = math.MaxInt64
	}
	var n int64
	since := now.Sub(clockBase(sh))
	switch {
	case sh.offsets != nil:
		n = int64(sort.Search(len(sh.offsets), func(i int) bool { return sh.offsets[i] > since }))
	case s.cfg.BytesPerSecond > 0:
		if since < 0 {
			return 0
		}
		n = int64(since.Seconds()*float64(s.cfg.BytesPerSecond)/s.recordBytes()) + 1
	default:
		n = limit
	}
	return min(n, limit)
}

// encoder writes records into JSON responses; one per response writer, not shared.
type encoder struct {
	s      *Server
	header []byte
	data   []byte
	agg    *aggregation.Encoder
}

func (s *Server) newEncoder() *encoder {
	e := &encoder{s: s}
	if s.cfg.Aggregate > 1 {
		e.agg = aggregation.NewEncoder(math.MaxInt32)
	}
	return e
}

// appendRecord appends record n of sh as a JSON object of Kinesis's Record shape.
func (e *encoder) appendRecord(dst []byte, sh *shard, n int64, wire int64) []byte {
	s := e.s
	arrival := s.arrival(sh, n)
	dst = append(dst, `{"Data":"`...)
	if e.agg == nil {
		e.header = AppendHeader(e.header[:0], Payload{Key: uint32(sh.index), Counter: uint64(n), Arrival: arrival.UnixNano(), Wire: wire})
		dst = base64.StdEncoding.AppendEncode(dst, e.header)
		dst = append(dst, s.filler64...)
	} else {
		e.agg.Reset()
		a := int64(s.cfg.Aggregate)
		// The encoder keeps the slices it was given: no reallocation while adding.
		if need := int(a) * (HeaderSize + len(s.filler)); cap(e.data) < need {
			e.data = make([]byte, 0, need)
		}
		for i := range a {
			start := len(e.data)
			e.data = AppendHeader(e.data, Payload{Key: uint32(sh.index), Counter: uint64(n*a + i), Arrival: arrival.UnixNano(), Wire: wire})
			e.data = append(e.data, s.filler...)
			if _, err := e.agg.Add(aggregation.Entry{Data: e.data[start:], PartitionKey: "pk", ExplicitHashKey: sh.startHash}); err != nil {
				panic("replay: aggregate: " + err.Error()) // a shard's own start hash key always parses
			}
		}
		e.header = e.agg.Encode(e.header[:0])
		e.data = e.data[:0]
		dst = base64.StdEncoding.AppendEncode(dst, e.header)
	}
	dst = append(dst, `","PartitionKey":"pk","SequenceNumber":"`...)
	dst = sequenceNumber(dst, int64(sh.index), n)
	dst = append(dst, `","ApproximateArrivalTimestamp":`...)
	dst = strconv.AppendFloat(dst, float64(arrival.UnixMilli())/1000, 'f', 3, 64)
	return append(dst, '}')
}
