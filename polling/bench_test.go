package polling_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/polling"
)

// BenchmarkReadTrimHorizon reads a shard of records from kinesis-local from TRIM_HORIZON
// to the end, once per iteration, and reports records/s and this process's CPU time per
// record (the emulator's CPU is not counted). The records are put once, in the setup.
//
//	scripts/emulators.sh run go test -run '^$' -bench ReadTrimHorizon -benchtime 5x ./polling/
func BenchmarkReadTrimHorizon(b *testing.B) {
	for _, bc := range []struct {
		records, size int
	}{
		{5000, 100},
		{2000, 1024},
	} {
		b.Run(fmt.Sprintf("%d records of %d B", bc.records, bc.size), func(b *testing.B) {
			benchmarkRead(b, bc.records, bc.size)
		})
	}
}

func benchmarkRead(b *testing.B, n, size int) {
	env := testenv.New(b)
	stream := env.CreateStream(b, 1)
	records := make([]testenv.Record, n)
	for i := range records {
		data := fmt.Appendf(make([]byte, 0, size), "bench-%06d-", i)
		for len(data) < size {
			data = append(data, 'x')
		}
		records[i] = testenv.Record{PartitionKey: fmt.Sprintf("pk-%d", i), Data: data}
	}
	puts := stream.Put(b, records...)
	shardID := puts[0].ShardID
	calls := &callCounter{}
	p := newPoller(b, env.Kinesis, polling.WithMetrics(calls))

	b.ReportAllocs()
	cpuBefore := cpuTime(b)
	start := time.Now()
	for b.Loop() {
		ctx, cancel := context.WithCancel(b.Context())
		r, err := p.ReadShard(ctx, stream.Name, shardID, polling.TrimHorizon())
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for got < n {
			batch, ok := <-r.Batches()
			if !ok {
				b.Fatalf("reader ended after %d of %d records: %v", got, n, r.Err())
			}
			got += len(batch.Records)
		}
		cancel()
		r.Close()
		if got != n {
			b.Fatalf("read %d records, want %d", got, n)
		}
	}
	elapsed := time.Since(start)
	cpu := cpuTime(b) - cpuBefore
	total := float64(n * b.N)
	b.ReportMetric(total/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/total, "cpu-ns/record")
	b.ReportMetric(float64(cpu.Nanoseconds())/1e6/total*100_000, "cpu-ms/100k-records")
	b.ReportMetric(float64(calls.n.Load())/float64(b.N), "GetRecords/op")
}

// callCounter counts GetRecords calls, to tell the pacer's waits from the emulator's speed.
type callCounter struct{ n atomic.Int64 }

func (c *callCounter) OnGetRecords(string, int, int, int64, time.Duration) { c.n.Add(1) }
func (c *callCounter) OnThrottle(string)                                   {}

// cpuTime is the user and system CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
