package efo_test

import (
	"context"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/efo"
)

// Example registers (or finds) the consumer "orders-app" on the stream "orders" and reads
// one shard from its oldest record until the shard ends or ctx is cancelled.
func Example() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// The SDK's default HTTP client already speaks HTTP/2 over TLS, as SubscribeToShard
	// needs; efo.NewHTTPClient adds a per-stream window and pings.
	client := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.HTTPClient = efo.NewHTTPClient() })

	consumer, err := efo.NewConsumer(ctx, client, "orders", "orders-app")
	if err != nil {
		log.Fatal(err)
	}
	sub, err := consumer.Subscribe(ctx, "shardId-000000000000", efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	for batch := range sub.Batches() {
		for _, r := range batch.Records {
			fmt.Printf("%s %s\n", *r.SequenceNumber, r.Data)
		}
		if batch.ShardEnd {
			fmt.Println("children:", len(batch.ChildShards))
		}
	}
	if err := sub.Err(); err != nil {
		log.Fatal(err)
	}
}

// A consumer that is known to be registered needs no API call.
func ExampleNewConsumerFromARN() {
	var client *kinesis.Client // any client; no call is made until Subscribe
	c, err := efo.NewConsumerFromARN(client, "arn:aws:kinesis:eu-west-1:123456789012:stream/orders/consumer/orders-app:1700000000")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Name())
	fmt.Println(c.StreamARN())
	// Output:
	// orders-app
	// arn:aws:kinesis:eu-west-1:123456789012:stream/orders
}

// NewHTTPClient is the SDK's HTTP client with HTTP/2 forced on and tuned for event streams.
func ExampleNewHTTPClient() {
	tr := efo.NewHTTPClient().GetTransport()
	fmt.Println(tr.ForceAttemptHTTP2, tr.HTTP2.MaxReceiveBufferPerStream)
	// Output: true 1048576
}
