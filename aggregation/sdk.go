package aggregation

import "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

// FromSDK converts a record returned by the AWS SDK's GetRecords or SubscribeToShard.
// The data is shared, not copied.
func FromSDK(r types.Record) Record {
	rec := Record{Data: r.Data}
	if r.PartitionKey != nil {
		rec.PartitionKey = *r.PartitionKey
	}
	if r.SequenceNumber != nil {
		rec.SequenceNumber = *r.SequenceNumber
	}
	if r.ApproximateArrivalTimestamp != nil {
		rec.ApproximateArrivalTimestamp = *r.ApproximateArrivalTimestamp
	}
	return rec
}
