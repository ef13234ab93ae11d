// Command process consumes a stream in the callback style: Consumer.Process calls a function
// per batch, shards concurrently, and checkpoints every 100 records. It runs against the
// local emulators: `scripts/emulators.sh run go run ./examples/process`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/examples/internal/local"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, 1000); err != nil {
		fmt.Fprintln(os.Stderr, "process:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, n int) error {
	clients, err := local.NewClients()
	if err != nil {
		return err
	}
	stream := fmt.Sprintf("events-%d", time.Now().Unix())
	if err := clients.CreateStream(ctx, stream, 2); err != nil {
		return err
	}
	if err := clients.Produce(ctx, stream, n, func(int) {}); err != nil {
		return err
	}
	c, err := kcl.New(kcl.Config{
		App: stream, Stream: stream, Kinesis: clients.Kinesis, DynamoDB: clients.DynamoDB,
		InitialPosition: kcl.TrimHorizon,
		Retrieval:       kcl.Polling, // or the default, enhanced fan-out
	})
	if err != nil {
		return err
	}
	var processed atomic.Int64
	go func() {
		// Stop gracefully once everything was seen: Drain checkpoints what the
		// every-100-records strategy has not yet.
		for processed.Load() < int64(n) {
			time.Sleep(50 * time.Millisecond)
		}
		_ = c.Drain(ctx)
	}()
	err = c.Process(ctx, func(ctx context.Context, b kcl.Batch) error {
		processed.Add(int64(len(b.Records)))
		return nil // an error here stops the consumer; its batch is not checkpointed
	}, kcl.CheckpointEveryRecords(100))
	if err != nil {
		return err
	}
	fmt.Printf("processed %d records from %s in the callback style\n", processed.Load(), stream)
	return nil
}
