package kcl_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
)

// BenchmarkTimeToFirstRecord measures a consumer's start on an empty lease table, a 4-shard
// stream with records waiting and a consumer name never registered, from Run to the first
// record in hand, with each retrieval. It reports when each phase ended, in milliseconds
// after Run, from the calls an observing injector saw (no timing hooks in the library):
//
//	stream-ms    the stream was described (the next call went out)
//	consumer-ms  the fan-out consumer was ACTIVE (the lease table's first call went out)
//	table-ms     the lease table was ACTIVE (the first lease scan went out)
//	leases-ms    the first leases were written (the first take went out)
//	reader-ms    the first reader started (GetShardIterator or SubscribeToShard)
//	first-ms     the first record was in the reader's hands
//
// kinesis-local pushes the first SubscribeToShard event about one second after the call
// (its cadence; measured with the SDK alone), so over enhanced fan-out first-ms minus
// reader-ms is the emulator's, not kcl's. KCL_BENCH_TRACE=1 prints every call's time.
//
// Run it with: scripts/emulators.sh run go test -run '^$' -bench TimeToFirstRecord -benchtime 5x .
func BenchmarkTimeToFirstRecord(b *testing.B) {
	env := testenv.New(b)
	for _, r := range []kcl.Retrieval{kcl.Polling, kcl.EnhancedFanOut} {
		b.Run(map[kcl.Retrieval]string{kcl.Polling: "polling", kcl.EnhancedFanOut: "efo"}[r], func(b *testing.B) {
			var sum [6]time.Duration
			for range b.N {
				b.StopTimer()
				stream := env.CreateStream(b, 4)
				stream.PutN(b, "first", 8)
				inj := faults.New()
				cfg := kcl.Config{
					App: testenv.UniqueName(b, "app"), Stream: stream.Name,
					Kinesis: env.NewKinesis(inj.Wrap), DynamoDB: env.NewDynamoDB(inj.Wrap),
					LeaseTable: env.LeaseTable(b), Retrieval: r, InitialPosition: kcl.TrimHorizon,
					EFOOptions: []efo.Option{efo.WithRetryBackoff(100*time.Millisecond, time.Second)},
				}
				c, err := kcl.New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				ctx := testenv.WithTimeout(b, time.Minute)
				b.StartTimer()
				start := time.Now()
				errc := make(chan error, 1)
				go func() { errc <- c.Run(ctx) }()
				first := make(chan time.Time, 1)
				go func() {
					for shard := range c.Shards() {
						go func() {
							for batch := range shard.Batches() {
								if len(batch.Records) > 0 {
									select {
									case first <- time.Now():
									default:
									}
								}
							}
						}()
					}
				}()
				var got time.Time
				select {
				case got = <-first:
				case err := <-errc:
					b.Fatalf("Run ended before the first record: %v", err)
				}
				b.StopTimer()
				if err := c.Stop(); err != nil {
					b.Fatal(err)
				}
				firstCall := func(ops ...string) time.Duration {
					var t time.Time
					for _, op := range ops {
						if cs := inj.Calls(op); len(cs) > 0 && (t.IsZero() || cs[0].Time.Before(t)) {
							t = cs[0].Time
						}
					}
					if t.IsZero() {
						b.Fatalf("no %v call", ops)
					}
					return t.Sub(start)
				}
				phases := [6]time.Duration{
					firstCall("DescribeStreamConsumer", "DescribeTable"),
					firstCall("DescribeTable"),
					firstCall("Scan"),
					firstCall("UpdateItem"),
					firstCall("GetShardIterator", "SubscribeToShard"),
					got.Sub(start),
				}
				if os.Getenv("KCL_BENCH_TRACE") != "" {
					for _, c := range inj.Log() {
						fmt.Fprintf(os.Stderr, "%6.1f ms %s %s\n", float64(c.Time.Sub(start).Microseconds())/1000, c.Op, c.Shard)
					}
					fmt.Fprintf(os.Stderr, "%6.1f ms first record\n", float64(got.Sub(start).Microseconds())/1000)
				}
				for i, d := range phases {
					sum[i] += d
				}
			}
			for i, unit := range []string{"stream-ms", "consumer-ms", "table-ms", "leases-ms", "reader-ms", "first-ms"} {
				b.ReportMetric(float64(sum[i].Microseconds())/1000/float64(b.N), unit)
			}
		})
	}
}
