package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "worker":
		err = workerMain(args)
	case "consume":
		err = consumeMain(args)
	case "latency":
		err = latencyMain(args)
	case "sweep":
		err = sweepMain(args)
	case "produce":
		err = produceMain(args)
	case "-h", "-help", "--help", "help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "bench: unknown subcommand %q\n", cmd)
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: go run ./bench <subcommand> [flags]   (-h after a subcommand lists its flags)

  consume   read with kcl (workers as processes) and with a bare SDK loop; throughput, CPU, memory, calls
  latency   probes at random gaps: put->reader and wire->reader latency, kcl and bare
  sweep     a grid of consume runs: -grid 'shards=1,10,100;retrieval=efo,polling'
  produce   put records to kinesis-local or a real stream: records/s, MiB/s, put latency
`)
}

// common are the flags of consume, latency and sweep.
type common struct {
	cfg        runConfig
	rate       string
	pollingMax string
	bare       bool
	repeat     int
	out        string
	name       string
	charts     bool
	records    int64
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.cfg.Source, "source", "replay", "where records come from: replay (loopback server, the default), emulators (kinesis-local), aws (a real stream, -stream)")
	fs.StringVar(&c.cfg.Stream, "stream", "", "the stream, with -source aws")
	fs.StringVar(&c.cfg.App, "app", "kcl-bench", "the application (lease table, fan-out consumer), with -source aws")
	fs.StringVar(&c.cfg.Retrieval, "retrieval", "efo", "efo or polling")
	fs.IntVar(&c.cfg.Shards, "shards", 4, "shards of the stream")
	fs.IntVar(&c.cfg.RecordSize, "record-size", 100, "bytes of each (user) record")
	fs.IntVar(&c.cfg.Aggregate, "aggregate", 0, "user records per KPL aggregate (0: no aggregation)")
	fs.Int64Var(&c.records, "records", 20000, "Kinesis records per shard the replay source holds")
	fs.StringVar(&c.rate, "rate", "0", "replay pace per shard, bytes/s (e.g. 2MiB); 0: as fast as read")
	fs.DurationVar(&c.cfg.EventInterval, "event-interval", 50*time.Millisecond, "replay: least gap between two SubscribeToShard events while records arrive (records meanwhile go out together)")
	fs.BoolVar(&c.cfg.Idle, "idle", false, "serve no records and measure the heap of idle shards")
	fs.StringVar(&c.cfg.Checkpoint, "checkpoint", "batch", "kcl checkpoints: batch, records:N or every:DURATION")
	fs.IntVar(&c.cfg.Buffer, "buffer", 0, "batches read ahead per shard (efo.WithBufferSize, polling.WithReadAhead); 0: default")
	fs.StringVar(&c.pollingMax, "polling-max-bytes", "0", "polling pace per shard in bytes/s (e.g. 1GiB); 0: the library's 2 MiB/s")
	fs.IntVar(&c.cfg.Workers, "workers", 1, "kcl worker processes")
	fs.BoolVar(&c.bare, "bare", true, "also run the bare SDK loop (the floor) and report kcl's ratio to it")
	fs.IntVar(&c.repeat, "repeat", 1, "alternate kcl and bare runs this many times; report the pair with the median ratio")
	fs.DurationVar(&c.cfg.Duration, "duration", 60*time.Second, "longest a run may take")
	fs.StringVar(&c.out, "out", "bench/results", "directory for CSV, JSON, Markdown and charts (empty: none)")
	fs.StringVar(&c.name, "name", "", "base name of the files written (default: the subcommand)")
	fs.StringVar(&c.cfg.ProfileDir, "cpuprofile", "", "directory for a CPU profile (pprof) of every worker process")
	fs.BoolVar(&c.charts, "charts", true, "write charts (SVG) beside the CSV")
}

func (c *common) finish() error {
	r, err := parseBytes(c.rate)
	if err != nil {
		return fmt.Errorf("-rate: %w", err)
	}
	c.cfg.Rate = r
	if c.cfg.PollingMaxBytes, err = parseBytes(c.pollingMax); err != nil {
		return fmt.Errorf("-polling-max-bytes: %w", err)
	}
	c.cfg.RecordsPerShard = c.records
	c.cfg.Reader = "kcl"
	return nil
}

// parseBytes reads 2097152, 2MiB, 512KiB.
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.m
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a byte count", s)
	}
	return int64(f * float64(mult)), nil
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// runPair runs kcl and, when asked, the bare loop with the same settings, and sets kcl's
// ratio to the floor. With repeat > 1 it alternates kcl and bare runs that many times and
// keeps the pair whose ratio is the median, noting the range of the ratios: on a busy
// machine one pair can be off by more than the difference being measured.
func runPair(ctx context.Context, env *environment, cfg runConfig, bare bool, repeat ...int) ([]*result, error) {
	n := 1
	if len(repeat) > 0 && repeat[0] > 1 && bare {
		n = repeat[0]
	}
	type pair struct{ k, b *result }
	var pairs []pair
	for range n {
		k, err := runOnce(ctx, env, cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.label(), err)
		}
		if !bare {
			return []*result{k}, nil
		}
		b := cfg
		b.Reader, b.Workers = "bare", 1
		br, err := runOnce(ctx, env, b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.label(), err)
		}
		if br.RecordsPerCore > 0 {
			k.RatioToBare = k.RecordsPerCore / br.RecordsPerCore
		}
		pairs = append(pairs, pair{k, br})
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].k.RatioToBare < pairs[j].k.RatioToBare })
	mid := pairs[len(pairs)/2]
	mid.k.Repeats = n
	if n > 1 {
		mid.k.RatioMin, mid.k.RatioMax = pairs[0].k.RatioToBare, pairs[n-1].k.RatioToBare
	}
	for _, p := range pairs { // any loss or failure in any repetition shows
		for _, r := range []*result{p.k, p.b} {
			if r.Errors != "" && r != mid.k && r != mid.b {
				mid.k.Errors += " [another repetition] " + r.Errors
			}
			if r.Lost > 0 && r != mid.k && r != mid.b {
				mid.k.Errors += fmt.Sprintf(" [another repetition lost %d records]", r.Lost)
			}
		}
	}
	return []*result{mid.k, mid.b}, nil
}

func consumeMain(args []string) error {
	fs := flag.NewFlagSet("consume", flag.ContinueOnError)
	var c common
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.finish(); err != nil {
		return err
	}
	return measure(c, "consume", func(ctx context.Context, env *environment) ([]*result, error) {
		return runPair(ctx, env, c.cfg, c.bare, c.repeat)
	})
}

// measure sets up the environment, runs, and reports.
func measure(c common, name string, run func(ctx context.Context, env *environment) ([]*result, error)) error {
	ctx, cancel := signalContext()
	defer cancel()
	env, err := setUpEnvironment(ctx, c.cfg.Source)
	if err != nil {
		return err
	}
	defer env.stop()
	results, err := run(ctx, env)
	if err != nil {
		return err
	}
	return report(c, name, results)
}

func report(c common, name string, results []*result) error {
	writeTable(os.Stdout, results)
	fits := shardFits(results)
	writeFits(os.Stdout, fits)
	vs := verdicts(results, fits)
	writeVerdicts(os.Stdout, vs)
	if c.out != "" {
		if c.name != "" {
			name = c.name
		}
		if err := writeFiles(c.out, name, results, fits, vs, machine()); err != nil {
			return err
		}
		if c.charts {
			if err := writeCharts(c.out, name, results); err != nil {
				return err
			}
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s/%s.{csv,json}\n", c.out, name)
	}
	for _, r := range results {
		if r.Errors != "" || r.Lost > 0 || r.Foreign > 0 {
			return errors.New("a run lost records or failed (see above)")
		}
	}
	return nil
}
