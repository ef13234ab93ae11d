package multilang

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kclgo/kcl/internal/testenv"
)

// BenchmarkFourShards measures the daemon on a 4-shard stream of 10,000 records with trivial
// children that checkpoint every batch: records/s from start to the last checkpoint, the
// daemon's CPU (this process: the daemon plus the benchmark's lease-table polling) against
// the children's CPU, and the daemon's peak resident memory. Run it with -benchtime=1x;
// kinesis-local's GetRecords bounds the rate (see the emulator notes).
func BenchmarkFourShards(b *testing.B) {
	env := testenv.New(b)
	stream := env.CreateStream(b, 4)
	var puts []testenv.Put
	for i := range 20 {
		puts = append(puts, stream.Put(b, records(i*500, 500)...)...)
	}
	last := map[string]string{}
	for shard, ps := range testenv.ByShard(puts) {
		last[shard] = ps[len(ps)-1].SequenceNumber
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	children := []struct {
		name string
		argv func(*testing.B) []string
	}{
		{"child=go", func(b *testing.B) []string {
			return []string{"env", "FAKE_CHILD=checkpoint", "FAKE_CHILD_DIR=" + b.TempDir(), exe, "-test.run=^$"}
		}},
		{"child=node-aws-kcl", func(b *testing.B) []string {
			modules, err := awsKCL()
			if err != nil {
				b.Fatal(err)
			}
			script, _ := filepath.Abs("testdata/node/trivial_processor.js")
			return []string{"env", "NODE_PATH=" + modules, "node", script}
		}},
	}
	for _, child := range children {
		b.Run(child.name, func(b *testing.B) {
			for range b.N {
				table := env.LeaseTable(b)
				cfg := testConfig(b, stream, table, child.argv(b))
				cfg.MaxRecords = 1000
				d, err := New(cfg, env.Kinesis, env.DynamoDB, nil)
				if err != nil {
					b.Fatal(err)
				}
				self0, kids0 := cpu(syscall.RUSAGE_SELF), cpu(syscall.RUSAGE_CHILDREN)
				start := time.Now()
				done := make(chan error, 1)
				ctx, cancel := context.WithCancel(context.Background())
				go func() { done <- d.Run(ctx) }()
				peak := 0
				deadline := time.Now().Add(5 * time.Minute)
				for shard, seq := range last {
					for checkpointOf(b, env, table, shard) != seq {
						peak = max(peak, rssKB())
						if time.Now().After(deadline) {
							cancel()
							b.Fatalf("shard %s not done in 5 minutes", shard)
						}
						time.Sleep(100 * time.Millisecond) // sampling memory while waiting
					}
				}
				elapsed := time.Since(start)
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				self, kids := cpu(syscall.RUSAGE_SELF)-self0, cpu(syscall.RUSAGE_CHILDREN)-kids0
				n := float64(len(puts))
				b.ReportMetric(n/elapsed.Seconds(), "records/s")
				b.ReportMetric(self.Seconds()/elapsed.Seconds()*100, "daemon-cpu-%")
				b.ReportMetric(kids.Seconds()/elapsed.Seconds()*100, "children-cpu-%")
				b.ReportMetric(float64(self.Microseconds())/n, "daemon-cpu-µs/record")
				b.ReportMetric(float64(kids.Microseconds())/n, "children-cpu-µs/record")
				b.ReportMetric(float64(peak)/1024, "daemon-peak-rss-MiB")
			}
		})
	}
}

func records(from, n int) []testenv.Record {
	out := make([]testenv.Record, n)
	for i := range out {
		out[i] = testenv.Record{PartitionKey: fmt.Sprintf("pk-%d", from+i), Data: fmt.Appendf(nil, "%-100d", from+i)}
	}
	return out
}

func cpu(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssKB is this process's resident set size from /proc (0 where there is none).
func rssKB() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}
