package leases_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kclgo/kcl/checkpointer"
	"github.com/kclgo/kcl/leases"
)

func ExampleLeaseKey() {
	stream := leases.StreamIdentifier{AccountID: "123456789012", Name: "orders", CreationEpoch: 1700000000}
	fmt.Println(leases.LeaseKey(leases.StreamIdentifier{}, "shardId-000000000001"))
	fmt.Println(leases.LeaseKey(stream, "shardId-000000000001"))
	// Output:
	// shardId-000000000001
	// 123456789012:orders:1700000000:shardId-000000000001
}

func ExampleParseStreamIdentifier() {
	id, err := leases.ParseStreamIdentifier("123456789012:orders:1700000000")
	fmt.Println(id.AccountID, id.Name, id.CreationEpoch, err)
	_, err = leases.ParseStreamIdentifier("orders")
	fmt.Println(errors.Is(err, leases.ErrInvalidStreamIdentifier))
	// Output:
	// 123456789012 orders 1700000000 <nil>
	// true
}

// A worker: make sure the table exists, run the coordinator, process each acquired shard
// until its lease ends, and on shutdown write final checkpoints before releasing.
func ExampleCoordinator() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	table, err := leases.NewTable(dynamodb.NewFromConfig(cfg), "my-application")
	if err != nil {
		log.Fatal(err)
	}
	if err := table.EnsureTable(ctx); err != nil {
		log.Fatal(err)
	}
	coord, err := leases.NewCoordinator(table, "worker-1")
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for ev := range coord.Events() {
			if ev.Type != leases.Acquired {
				continue
			}
			cp, err := coord.NewCheckpointer(ev, checkpointer.WithStrategy(checkpointer.EveryRecords(1000)))
			if err != nil {
				log.Print(err)
				continue
			}
			go func() {
				// Read the shard after cp.LastCheckpoint() until ev.Done is closed, calling
				// cp.Delivered and cp.Processed per batch. At shutdown: cp.Drain(ctx), then
				// coord.Shutdown(ctx) releases the leases for the other workers.
				<-ev.Done
				log.Printf("lease %s ended at %v", ev.Lease.Key, cp.LastCheckpoint())
			}()
		}
	}()
	if err := coord.Run(ctx); err != nil {
		log.Print(err)
	}
}
