package testenv

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// RegisterConsumer registers a uniquely named enhanced fan-out consumer on the stream, waits
// until it is ACTIVE and returns its ARN. The stream's deletion removes it.
func (s *Stream) RegisterConsumer(t testing.TB) string {
	t.Helper()
	out, err := s.env.Kinesis.RegisterStreamConsumer(t.Context(), &kinesis.RegisterStreamConsumerInput{
		StreamARN: aws.String(s.ARN), ConsumerName: aws.String(UniqueName(t, "c")),
	})
	if err != nil {
		t.Fatalf("RegisterStreamConsumer: %v", err)
	}
	arn := aws.ToString(out.Consumer.ConsumerARN)
	for deadline := time.Now().Add(20 * time.Second); ; {
		d, err := s.env.Kinesis.DescribeStreamConsumer(t.Context(), &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(arn)})
		if err != nil {
			t.Fatalf("DescribeStreamConsumer: %v", err)
		}
		if d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive {
			return arn
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s not ACTIVE after 20 s", arn)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
