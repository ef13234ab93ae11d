// Command quickstart produces records to a stream on the local emulators and consumes them
// with kcl: one goroutine per leased shard, ranging over its batches and checkpointing each,
// over enhanced fan-out. Run it with `make demo`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"sync"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/examples/internal/local"
)

func main() {
	records := flag.Int("records", 2000, "records to produce")
	shards := flag.Int("shards", 4, "shards of the demo stream")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *shards, *records); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, shards, n int) error {
	clients, err := local.NewClients()
	if err != nil {
		return err
	}
	stream := fmt.Sprintf("orders-%d", time.Now().Unix())
	if err := clients.CreateStream(ctx, stream, shards); err != nil {
		return err
	}
	fmt.Printf("stream %s: %d shards, ACTIVE\n", stream, shards)

	c, err := kcl.New(kcl.Config{
		App:             stream, // names the lease table and the enhanced fan-out consumer
		Stream:          stream,
		Kinesis:         clients.Kinesis,
		DynamoDB:        clients.DynamoDB,
		InitialPosition: kcl.TrimHorizon,
	})
	if err != nil {
		return err
	}
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()

	var (
		mu       sync.Mutex
		perShard = map[string]int{}
		total    int
		all      = make(chan struct{})
		readers  sync.WaitGroup
	)
	readers.Go(func() {
		for shard := range c.Shards() {
			readers.Go(func() {
				for batch := range shard.Batches() {
					mu.Lock()
					perShard[shard.ID()] += len(batch.Records)
					total += len(batch.Records)
					if total == n {
						close(all)
					}
					mu.Unlock()
					if err := batch.Checkpoint(ctx); err != nil {
						fmt.Fprintf(os.Stderr, "\ncheckpoint %s: %v\n", shard.ID(), err)
					}
				}
			})
		}
	})

	start := time.Now()
	consumed := func() int {
		mu.Lock()
		defer mu.Unlock()
		return total
	}
	// Production first, then consumption, each on a line of its own (the consumer may be
	// ahead: it reads while the producer writes).
	produced := newProgress("produced", n)
	err = clients.Produce(ctx, stream, n, produced.update)
	if err != nil {
		return err
	}
	produced.done()
	consumption := newProgress("consumed", n)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(2 * time.Minute)
wait:
	for {
		select {
		case <-all:
			break wait
		case <-tick.C:
			consumption.update(consumed())
		case err := <-runErr:
			return fmt.Errorf("consumer stopped: %w", err)
		case <-timeout:
			return fmt.Errorf("consumed %d of %d records in 2 minutes", consumed(), n)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	consumption.update(n)
	consumption.done()
	fmt.Printf("all %d records consumed %v after the first put\n", n, time.Since(start).Round(time.Millisecond))

	// Drain: stop reading, let the readers checkpoint, release the leases.
	if err := c.Drain(ctx); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	readers.Wait()
	ids := make([]string, 0, len(perShard))
	for id := range perShard {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Println("summary:")
	for _, id := range ids {
		fmt.Printf("  %s  %5d records\n", id, perShard[id])
	}
	fmt.Printf("  total %d records over enhanced fan-out, checkpointed, leases released\n", total)
	return nil
}

// progress shows how far a count got: one line rewritten in place on a terminal, and plain
// lines at every quarter otherwise, so that a saved log reads well.
type progress struct {
	label    string
	n        int
	tty      bool
	reported int // quarters printed (not on a terminal)
}

func newProgress(label string, n int) *progress {
	fi, err := os.Stdout.Stat()
	return &progress{label: label, n: n, tty: err == nil && fi.Mode()&os.ModeCharDevice != 0}
}

func (p *progress) update(done int) {
	if p.tty {
		fmt.Printf("\r%s %d/%d", p.label, done, p.n)
		return
	}
	for p.reported < 4 && done*4 >= (p.reported+1)*p.n {
		p.reported++
		fmt.Printf("%s %d/%d\n", p.label, p.n*p.reported/4, p.n)
	}
}

func (p *progress) done() {
	if p.tty {
		fmt.Println()
	}
}
