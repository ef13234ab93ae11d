package efo_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/kcltest"
)

// Benchmarks against kinesis-local; run them with, e.g.,
//
//	scripts/emulators.sh run go test -run '^$' -bench . -benchtime 5x ./efo/
//
// kinesis-local pushes an event per subscription about once a second, with every record
// it has: its pace, not this package's, sets records/s and put-to-hand-on latency. The
// figures that describe this package are CPU time per record, the latency it adds after
// an event has come off the wire, and the heap an idle subscription holds.

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReadTrimHorizon reads a shard's records from TRIM_HORIZON over a fresh
// subscription per iteration and reports records/s and this process's CPU time per 100k
// records (decoding by the SDK included, the emulator's CPU not).
func BenchmarkReadTrimHorizon(b *testing.B) {
	for _, bc := range []struct{ records, size int }{{3000, 100}, {1500, 1024}} {
		b.Run(fmt.Sprintf("%d records of %d B", bc.records, bc.size), func(b *testing.B) {
			env := testenv.New(b)
			// Iterations take the shards in turn: kinesis-local refuses a new subscription to
			// a shard for ~3 s after the last one closed.
			const shards = 5
			stream := env.CreateStream(b, shards)
			byShard := map[string]int{}
			var ids []string
			for _, sh := range stream.Shards(b) {
				ids = append(ids, *sh.ShardId)
				hashKey := *sh.HashKeyRange.StartingHashKey
				records := make([]testenv.Record, bc.records)
				for i := range records {
					data := fmt.Appendf(make([]byte, 0, bc.size), "bench-%06d-", i)
					for len(data) < bc.size {
						data = append(data, 'x')
					}
					records[i] = testenv.Record{PartitionKey: "k", ExplicitHashKey: hashKey, Data: data}
				}
				byShard[*sh.ShardId] = len(stream.Put(b, records...))
			}
			c := newConsumerB(b, env.Kinesis, stream)
			b.ReportAllocs()
			cpu0, start, iter := cpuTime(b), time.Now(), 0
			total := 0
			for b.Loop() {
				id := ids[iter%shards]
				iter++
				sub, err := c.Subscribe(b.Context(), id, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon})
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for got < byShard[id] {
					batch, ok := <-sub.Batches()
					if !ok {
						b.Fatalf("subscription ended after %d records: %v", got, sub.Err())
					}
					got += len(batch.Records)
				}
				sub.Close()
				total += got
			}
			elapsed, cpu := time.Since(start), cpuTime(b)-cpu0
			b.ReportMetric(float64(total)/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(cpu.Milliseconds())/float64(total)*100_000, "cpu-ms/100k-records")
		})
	}
}

// BenchmarkLatency puts one timestamped record per iteration (50 a second) while a LATEST
// subscription is live and reports, over all records: put-to-hand-on latency (p50, p99),
// which kinesis-local's once-a-second push dominates, and the latency this package and the
// SDK add between the last byte of an event read off the wire and its batch handed on.
//
//	scripts/emulators.sh run go test -run '^$' -bench Latency -benchtime 500x ./efo/
func BenchmarkLatency(b *testing.B) {
	env := testenv.New(b)
	stream := env.CreateStream(b, 1)
	var mu sync.Mutex
	var wireDone []time.Time // when each event's last byte was read
	var putToHandOn, added []time.Duration
	counter := &countingTransport{base: testenv.NewTransport(), messageRead: func() {
		mu.Lock()
		wireDone = append(wireDone, time.Now())
		mu.Unlock()
	}}
	client := env.NewKinesis(nil, func(o *kinesis.Options) { o.HTTPClient = &http.Client{Transport: kcltest.WithInitialResponse(counter)} })
	c := newConsumerB(b, client, stream)
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	sub, err := c.Subscribe(ctx, *stream.Shards(b)[0].ShardId, efo.StartPosition{Type: types.ShardIteratorTypeLatest})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()

	var records atomic.Int64
	events := 0
	handOn := func(batch efo.Batch) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if events < len(wireDone) {
			added = append(added, now.Sub(wireDone[events]))
		}
		events++
		for _, r := range batch.Records {
			putToHandOn = append(putToHandOn, now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(r.Data)))))
		}
		records.Add(int64(len(batch.Records)))
	}
	select { // live once the first (empty) event came
	case batch := <-sub.Batches():
		handOn(batch)
	case <-time.After(30 * time.Second):
		b.Fatal("no event within 30 s")
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for batch := range sub.Batches() {
			handOn(batch)
		}
	})

	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	n := int64(0)
	for b.Loop() {
		<-tick.C
		stream.Put(b, testenv.Record{PartitionKey: "k", Data: binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))})
		n++
	}
	for deadline := time.Now().Add(30 * time.Second); records.Load() < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d records arrived within 30 s", records.Load(), n)
		}
	}
	sub.Close()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(percentile(putToHandOn, 0.50)), "put-to-hand-on-p50-ms")
	b.ReportMetric(ms(percentile(putToHandOn, 0.99)), "put-to-hand-on-p99-ms")
	b.ReportMetric(ms(percentile(added, 0.50)), "wire-to-hand-on-p50-ms")
	b.ReportMetric(ms(percentile(added, 0.99)), "wire-to-hand-on-p99-ms")
}

// BenchmarkIdleSubscriptionHeap subscribes at LATEST to every shard of an idle stream and
// reports the heap and goroutines each live subscription holds, over HTTP/1.1 (a connection
// each) and h2c (one connection for all).
func BenchmarkIdleSubscriptionHeap(b *testing.B) {
	const shards = 40
	for _, h2 := range []bool{false, true} {
		b.Run(map[bool]string{false: "HTTP/1.1", true: "h2c"}[h2], func(b *testing.B) {
			env := testenv.New(b)
			tr := efo.NewHTTPClient(func(tr *http.Transport) {
				tr.MaxIdleConnsPerHost = 2 * shards
				if h2 {
					tr.Protocols = new(http.Protocols)
					tr.Protocols.SetUnencryptedHTTP2(true)
				}
			}).GetTransport()
			b.Cleanup(tr.CloseIdleConnections)
			client := env.NewKinesis(nil, func(o *kinesis.Options) { o.HTTPClient = &http.Client{Transport: kcltest.WithInitialResponse(tr)} })
			stream := env.CreateStream(b, shards)
			c := newConsumerB(b, client, stream)
			var ids []string
			for _, sh := range stream.Shards(b) {
				ids = append(ids, *sh.ShardId)
			}
			var perSub, goroutinesPerSub float64
			for b.Loop() {
				ctx, cancel := context.WithCancel(b.Context())
				heap0, g0 := heapAlloc(), runtime.NumGoroutine()
				subs := make([]*efo.Subscription, 0, shards)
				for _, id := range ids {
					sub, err := c.Subscribe(ctx, id, efo.StartPosition{Type: types.ShardIteratorTypeLatest})
					if err != nil {
						b.Fatal(err)
					}
					subs = append(subs, sub)
				}
				for _, sub := range subs { // each is live once its first event came
					select {
					case <-sub.Batches():
					case <-time.After(60 * time.Second):
						b.Fatalf("no event on %s within 60 s", sub.ShardID())
					}
				}
				heap1, g1 := heapAlloc(), runtime.NumGoroutine()
				perSub = float64(heap1-heap0) / shards
				goroutinesPerSub = float64(g1-g0) / shards
				cancel()
				for _, sub := range subs {
					sub.Close()
				}
				time.Sleep(4 * time.Second) // kinesis-local's refusal after a close
			}
			b.ReportMetric(perSub/1024, "heap-KiB/subscription")
			b.ReportMetric(goroutinesPerSub, "goroutines/subscription")
		})
	}
}

// newConsumerB registers a consumer for a benchmark.
func newConsumerB(b *testing.B, api efo.KinesisAPI, stream *testenv.Stream) *efo.Consumer {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), 30*time.Second)
	defer cancel()
	c, err := efo.NewConsumer(ctx, api, stream.ARN, "bench", fast()...)
	if err != nil {
		b.Fatalf("NewConsumer: %v", err)
	}
	return c
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}
