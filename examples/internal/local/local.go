// Package local is the examples' glue to the local emulators that `make demo` starts: the
// clients come from the public kcltest package; this adds a producer. Against real AWS, use
// kinesis.NewFromConfig and dynamodb.NewFromConfig with your own aws.Config instead.
package local

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/kcltest"
)

// Clients are kcltest's clients for the emulators, with a producer.
type Clients struct{ *kcltest.Clients }

// NewClients reads the endpoints scripts/emulators.sh exports.
func NewClients() (*Clients, error) {
	c, err := kcltest.NewClients()
	if err != nil {
		return nil, fmt.Errorf("%w (`make demo` runs the quickstart that way)", err)
	}
	return &Clients{c}, nil
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
