package polling_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kclgo/kcl/polling"
)

// Reading a shard needs a live Kinesis (or kinesis-local), so this example is compiled but
// not run; the tests run the same steps against kinesis-local.
func Example() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	poller, err := polling.New(kinesis.NewFromConfig(cfg))
	if err != nil {
		log.Fatal(err)
	}
	reader, err := poller.ReadShard(ctx, "orders", "shardId-000000000000", polling.TrimHorizon())
	if err != nil {
		log.Fatal(err)
	}
	defer reader.Close()
	for batch := range reader.Batches() {
		for _, rec := range batch.Records {
			fmt.Printf("%s %s\n", *rec.SequenceNumber, rec.Data)
		}
		if batch.ShardEnd {
			fmt.Println("shard ended; continue with", len(batch.ChildShards), "child shards")
		}
	}
	if err := reader.Err(); err != nil {
		var permanent *polling.PermanentError
		if errors.As(err, &permanent) {
			log.Fatalf("shard %s cannot be read: %v", permanent.ShardID, err)
		}
		log.Fatal(err)
	}
}

// A bad option is reported by New, naming the option.
func ExampleNew_invalidOption() {
	_, err := polling.New(kinesis.New(kinesis.Options{Region: "us-east-1"}), polling.WithMaxRecords(0))
	fmt.Println(err)
	fmt.Println(errors.Is(err, polling.ErrInvalidOption))
	// Output:
	// polling: invalid option: WithMaxRecords: 0 is outside 1..10000
	// true
}
