// Command kcl-chaos runs kcl's chaos suite by hand: real worker processes (this binary,
// re-executed), a producer, seeded faults and an independent verifier (see internal/chaos).
// It needs the local emulators:
//
//	scripts/emulators.sh run go run ./cmd/kcl-chaos -duration 1h -workers 5
//
// It prints a one-screen summary, writes report.json and every log under -dir, and exits 1
// when anything the suite checks did not hold. -verify DIR judges a finished run again from
// its files alone (the logs and the stream's final state saved in final-stream.json).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kclgo/kcl/internal/chaos"
)

func main() {
	if chaos.IsWorker() {
		os.Exit(chaos.WorkerMain())
	}
	seed := flag.Uint64("seed", 0, "seed of the fault schedule (0: random, printed)")
	duration := flag.Duration("duration", 60*time.Second, "time of faults per retrieval mode")
	workers := flag.Int("workers", 3, "worker processes")
	shards := flag.Int("shards", 4, "shards at the start")
	rate := flag.Int("rate", 40, "user records per second")
	failover := flag.Duration("failover", 3*time.Second, "the workers' lease failover time")
	modes := flag.String("modes", "polling,efo", "retrieval modes, comma-separated: polling, efo")
	dir := flag.String("dir", "", "where logs and report.json go (default: a new temporary directory)")
	broken := flag.String("broken", os.Getenv(chaos.EnvBroken), "run a deliberately broken worker: drop, checkpoint-first")
	debug := flag.Bool("debug", false, "log kcl at debug level into each worker's stderr file")
	verifyDir := flag.String("verify", "", "only verify the finished run in this directory again, from its files")
	flag.Parse()

	if *verifyDir != "" {
		rep, err := chaos.Verify(*verifyDir, os.Stdout)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if !rep.OK {
			os.Exit(1)
		}
		return
	}

	if *dir == "" {
		d, err := os.MkdirTemp("", "kcl-chaos-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		*dir = d
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := chaos.Run(ctx, chaos.Options{
		Seed: *seed, Duration: *duration, Workers: *workers, Shards: *shards, Rate: *rate,
		FailoverTime: *failover, Modes: strings.Split(*modes, ","), Dir: *dir,
		WorkerCommand: []string{exe}, Broken: *broken, WorkerDebug: *debug, Out: os.Stdout,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("report: %s/report.json\n", *dir)
	if !rep.OK {
		os.Exit(1)
	}
}
