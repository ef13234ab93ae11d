// Command quickstart is, for now, a smoke run against the local emulators: it creates a
// stream, puts records and reads them back per shard with GetRecords. It does not use the
// kcl consumer yet; once the consumer lands, this example becomes its quickstart.
//
// Run it with `make demo`, which starts kinesis-local and dynalite and exports their
// endpoints; or point it at endpoints of your own with -kinesis-endpoint.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func main() {
	endpoint := flag.String("kinesis-endpoint", os.Getenv("KCL_TEST_KINESIS_ENDPOINT"), "Kinesis endpoint (kinesis-local)")
	records := flag.Int("records", 1000, "records to put")
	shards := flag.Int("shards", 2, "shards of the demo stream")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *endpoint, *shards, *records); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, endpoint string, shards, n int) error {
	if endpoint == "" {
		return errors.New("no Kinesis endpoint: run `make demo`, or pass -kinesis-endpoint")
	}
	kc := kinesis.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("123456789012", "demo", ""),
	}, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(endpoint) })

	stream := fmt.Sprintf("quickstart-%d", time.Now().UnixNano())
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(int32(shards))}); err != nil {
		return fmt.Errorf("create stream: %w", err)
	}
	defer kc.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: &stream})
	if err := kinesis.NewStreamExistsWaiter(kc, func(o *kinesis.StreamExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond }).
		Wait(ctx, &kinesis.DescribeStreamInput{StreamName: &stream}, time.Minute); err != nil {
		return fmt.Errorf("wait for stream: %w", err)
	}
	fmt.Printf("stream %s with %d shards is ACTIVE\n", stream, shards)

	perShard := map[string]int{}
	start := time.Now()
	for put := 0; put < n; {
		batch := min(100, n-put)
		entries := make([]types.PutRecordsRequestEntry, batch)
		for i := range entries {
			entries[i] = types.PutRecordsRequestEntry{
				PartitionKey: aws.String(fmt.Sprintf("key-%d", put+i)),
				Data:         fmt.Appendf(nil, "record %d", put+i),
			}
		}
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &stream, Records: entries})
		if err != nil {
			return fmt.Errorf("put records: %w", err)
		}
		if c := aws.ToInt32(out.FailedRecordCount); c > 0 {
			return fmt.Errorf("put records: %d of %d failed", c, batch)
		}
		for _, r := range out.Records {
			perShard[aws.ToString(r.ShardId)]++
		}
		put += batch
		fmt.Printf("\rput %d/%d records", put, n)
	}
	fmt.Printf(" in %v\n", time.Since(start).Round(time.Millisecond))

	total := 0
	for shard, want := range perShard {
		got, err := readShard(ctx, kc, stream, shard, want)
		if err != nil {
			return err
		}
		fmt.Printf("%s: read %d records in order\n", shard, got)
		total += got
	}
	if total != n {
		return fmt.Errorf("read %d records, put %d", total, n)
	}
	fmt.Printf("summary: put %d, read back %d, across %d shards\n", n, total, len(perShard))
	return nil
}

func readShard(ctx context.Context, kc *kinesis.Client, stream, shard string, want int) (int, error) {
	it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: &stream, ShardId: &shard, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		return 0, fmt.Errorf("%s: get shard iterator: %w", shard, err)
	}
	iter, got, last := it.ShardIterator, 0, ""
	for got < want {
		out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			return got, fmt.Errorf("%s: get records: %w", shard, err)
		}
		for _, r := range out.Records {
			seq := aws.ToString(r.SequenceNumber)
			if last != "" && (len(seq) < len(last) || len(seq) == len(last) && seq <= last) {
				return got, fmt.Errorf("%s: sequence %s after %s: out of order", shard, seq, last)
			}
			last = seq
		}
		got += len(out.Records)
		if iter = out.NextShardIterator; iter == nil {
			break
		}
		if len(out.Records) == 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	return got, nil
}
