// Package local builds AWS SDK clients for the local emulators that `make demo` starts
// (kinesis-local and dynalite), for the examples. Against real AWS, use
// kinesis.NewFromConfig and dynamodb.NewFromConfig with your own aws.Config instead.
package local

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/internal/efoshim"
)

// Clients are SDK clients for the emulators.
type Clients struct {
	Kinesis  *kinesis.Client
	DynamoDB *dynamodb.Client
}

// NewClients reads the endpoints scripts/emulators.sh exports.
func NewClients() (*Clients, error) {
	kinesisURL, dynamoURL := os.Getenv("KCL_TEST_KINESIS_ENDPOINT"), os.Getenv("KCL_TEST_DYNAMODB_ENDPOINT")
	if kinesisURL == "" || dynamoURL == "" {
		return nil, errors.New("no emulator endpoints: run the example with `make demo` or `scripts/emulators.sh run go run ./examples/...`")
	}
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("123456789012", "local", ""),
	}
	return &Clients{
		Kinesis: kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
			o.BaseEndpoint = aws.String(kinesisURL)
			// kinesis-local omits the initial-response event of SubscribeToShard, which
			// real Kinesis sends; the shim adds it.
			o.HTTPClient = &http.Client{Transport: efoshim.Wrap(http.DefaultTransport.(*http.Transport).Clone())}
		}),
		DynamoDB: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(dynamoURL) }),
	}, nil
}

// CreateStream creates a stream and waits until it is ACTIVE.
func (c *Clients) CreateStream(ctx context.Context, name string, shards int) error {
	if _, err := c.Kinesis.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &name, ShardCount: aws.Int32(int32(shards))}); err != nil {
		return fmt.Errorf("create stream %s: %w", name, err)
	}
	for {
		out, err := c.Kinesis.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name})
		if err != nil {
			return fmt.Errorf("describe stream %s: %w", name, err)
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return nil
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Produce puts n records, 100 a call, calling progress after each call.
func (c *Clients) Produce(ctx context.Context, stream string, n int, progress func(done int)) error {
	for done := 0; done < n; {
		batch := min(100, n-done)
		entries := make([]types.PutRecordsRequestEntry, batch)
		for i := range entries {
			entries[i] = types.PutRecordsRequestEntry{
				PartitionKey: aws.String(fmt.Sprintf("order-%d", done+i)),
				Data:         fmt.Appendf(nil, `{"order":%d}`, done+i),
			}
		}
		out, err := c.Kinesis.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &stream, Records: entries})
		if err != nil {
			return fmt.Errorf("put records: %w", err)
		}
		if f := aws.ToInt32(out.FailedRecordCount); f > 0 {
			return fmt.Errorf("put records: %d of %d failed", f, batch)
		}
		done += batch
		progress(done)
	}
	return nil
}
