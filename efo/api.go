package efo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// SubscribeAPI is the part of *kinesis.Client a Consumer subscribes with.
type SubscribeAPI interface {
	SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, optFns ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error)
}

// RegistrationAPI is the part of *kinesis.Client that finds, registers and deregisters
// consumers. DescribeStreamSummary turns a stream name into its ARN.
type RegistrationAPI interface {
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
	RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error)
	DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error)
	DeregisterStreamConsumer(ctx context.Context, in *kinesis.DeregisterStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.DeregisterStreamConsumerOutput, error)
}

// KinesisAPI is everything NewConsumer needs; *kinesis.Client satisfies it.
type KinesisAPI interface {
	RegistrationAPI
	SubscribeAPI
}

var _ KinesisAPI = (*kinesis.Client)(nil)
