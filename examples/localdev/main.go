// Command localdev runs a kcl consumer against the local emulators, over enhanced fan-out:
//
//	scripts/emulators.sh run go run ./examples/localdev
//
// The README's "Local development" section shows this file; a test keeps the two equal.
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/kcltest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// Endpoints from the KCL_TEST_* variables that scripts/emulators.sh exports, region
	// us-east-1, static dummy credentials, and the Kinesis client's compatibility transport
	// for kinesis-local's SubscribeToShard.
	clients, err := kcltest.NewClients()
	if err != nil {
		log.Fatal(err)
	}
	if err := clients.CreateStream(ctx, "local-orders", 2); err != nil {
		log.Fatal(err)
	}
	for i := range 10 {
		_, err := clients.Kinesis.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("local-orders"),
			PartitionKey: aws.String(fmt.Sprint(i)), Data: fmt.Appendf(nil, "order %d", i)})
		if err != nil {
			log.Fatal(err)
		}
	}
	c, err := kcl.New(kcl.Config{
		App:             "local-orders-app",
		Stream:          "local-orders",
		Kinesis:         clients.Kinesis,
		DynamoDB:        clients.DynamoDB,
		InitialPosition: kcl.TrimHorizon,
		// Warnings and errors (a subscription that keeps failing, say) are worth seeing,
		// locally as in production.
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		log.Fatal(err)
	}
	var seen atomic.Int64 // Process runs the shards concurrently
	err = c.Process(ctx, func(ctx context.Context, b kcl.Batch) error {
		for _, r := range b.Records {
			fmt.Printf("%s: %s\n", b.ShardID, r.Data)
		}
		// A second run puts 10 more and resumes after the first run's checkpoints.
		if seen.Add(int64(len(b.Records))) >= 10 {
			go c.Drain(context.Background()) // never from inside the batch loop: see Drain
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}
