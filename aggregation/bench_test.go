package aggregation

import (
	"crypto/md5"
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchAggregate is an aggregate of n user records of size bytes each, keyed as KPL users
// commonly key them: a distinct random UUID-like partition key per record, no explicit
// hash key. Distinct keys are the expensive case: every key is copied into a string.
func benchAggregate(b testing.TB, n, size int) Record {
	rng := rand.New(rand.NewPCG(uint64(n), uint64(size)))
	e := NewEncoder(1 << 30) // 1000 records of 1 KiB exceed 1 MiB; Kinesis allows up to 10 MiB
	for range n {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		pk := fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint64()&(1<<48-1))
		if ok, err := e.Add(Entry{Data: data, PartitionKey: pk}); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
	return testRecord(e.Encode(nil))
}

var md5Sink [md5.Size]byte

// BenchmarkDeaggregate measures Append with a reused dst, copying keys (the default) and
// with AliasKeys, against crypto/md5 over the same bytes: the floor set by checksum
// verification.
func BenchmarkDeaggregate(b *testing.B) {
	for _, size := range []int{100, 1024} {
		for _, n := range []int{1, 10, 100, 1000} {
			rec := benchAggregate(b, n, size)
			name := fmt.Sprintf("size=%d/records=%d", size, n)
			for _, mode := range []struct {
				name  string
				alias bool
			}{{"deaggregate", false}, {"deaggregate-alias", true}} {
				b.Run(name+"/"+mode.name, func(b *testing.B) {
					d := Deaggregator{AliasKeys: mode.alias}
					dst := make([]UserRecord, 0, n)
					d.Append(dst, rec) // size the scratch buffers: steady state is what counts
					b.SetBytes(int64(len(rec.Data)))
					b.ReportAllocs()
					for b.Loop() {
						var err error
						if dst, _, err = d.Append(dst[:0], rec); err != nil || len(dst) != n {
							b.Fatal(len(dst), err)
						}
					}
					reportPerRecord(b, n)
				})
			}
			b.Run(name+"/md5", func(b *testing.B) {
				b.SetBytes(int64(len(rec.Data)))
				b.ReportAllocs()
				for b.Loop() {
					md5Sink = md5.Sum(rec.Data)
				}
				reportPerRecord(b, n)
			})
		}
	}
}

// BenchmarkDeaggregateFiltered adds the hash-key filter, which hashes every partition
// key: with distinct keys that is one more MD5 per user record.
func BenchmarkDeaggregateFiltered(b *testing.B) {
	for _, size := range []int{100, 1024} {
		n := 100
		rec := benchAggregate(b, n, size)
		b.Run(fmt.Sprintf("size=%d/records=%d", size, n), func(b *testing.B) {
			d := NewDeaggregator(HashKeyRange{Start: HashKey{Hi: 1 << 62}, End: HashKey{Hi: 3 << 62}})
			dst := make([]UserRecord, 0, n)
			d.Append(dst, rec)
			b.SetBytes(int64(len(rec.Data)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, _, err = d.Append(dst[:0], rec); err != nil {
					b.Fatal(err)
				}
			}
			reportPerRecord(b, n)
		})
	}
}

func BenchmarkPassthrough(b *testing.B) {
	rec := testRecord(make([]byte, 1024))
	var d Deaggregator
	dst := make([]UserRecord, 0, 1)
	b.SetBytes(int64(len(rec.Data)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _, _ = d.Append(dst[:0], rec)
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, n := range []int{10, 1000} {
		rec := benchAggregate(b, n, 100)
		users, _, _ := Deaggregate(rec)
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			e := NewEncoder(1 << 30)
			buf := make([]byte, 0, len(rec.Data))
			for _, u := range users { // size the key tables
				e.Add(Entry{Data: u.Data, PartitionKey: u.PartitionKey})
			}
			b.SetBytes(int64(len(rec.Data)))
			b.ReportAllocs()
			for b.Loop() {
				e.Reset()
				for _, u := range users {
					e.Add(Entry{Data: u.Data, PartitionKey: u.PartitionKey})
				}
				buf = e.Encode(buf[:0])
			}
			reportPerRecord(b, n)
		})
	}
}

func BenchmarkHashKey(b *testing.B) {
	const s = "340282366920938463463374607431768211455"
	h := MaxHashKey()
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			h, _ = ParseHashKey(s)
		}
	})
	b.Run("append-text", func(b *testing.B) {
		buf := make([]byte, 0, 64)
		for b.Loop() {
			buf, _ = h.AppendText(buf[:0])
		}
	})
	b.Run("hash-partition-key", func(b *testing.B) {
		for b.Loop() {
			h = HashPartitionKey("fc03dd88-3e79-448a-b01a-7cf1bd47b784")
		}
	})
}

func reportPerRecord(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/rec")
}
