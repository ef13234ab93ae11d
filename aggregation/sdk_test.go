package aggregation

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/google/go-cmp/cmp"
)

func TestFromSDK(t *testing.T) {
	pk, seq := "pk", "4711"
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	data := []byte("payload")
	tests := map[string]struct {
		in   types.Record
		want Record
	}{
		"all fields": {types.Record{Data: data, PartitionKey: &pk, SequenceNumber: &seq, ApproximateArrivalTimestamp: &at},
			Record{Data: data, PartitionKey: pk, SequenceNumber: seq, ApproximateArrivalTimestamp: at}},
		"nil pointers": {types.Record{Data: data}, Record{Data: data}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, FromSDK(tt.in)); diff != "" {
				t.Errorf("FromSDK (-want +got):\n%s", diff)
			}
		})
	}
}
