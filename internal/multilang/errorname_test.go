package multilang

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/checkpointer"
)

// TestErrorName: the Java exception names the clients expect, decided by error type.
func TestErrorName(t *testing.T) {
	_, badSeq := checkpointer.ParseSequenceNumber("12x", 0)
	cases := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("write: %w", kcl.ErrLeaseLost), ErrNameShutdown},
		{&checkpointer.CheckpointError{Err: checkpointer.ErrCheckpointBackwards}, ErrNameIllegalArgument},
		{&checkpointer.CheckpointError{Err: checkpointer.ErrCheckpointBeyondDelivered}, ErrNameIllegalArgument},
		{badSeq, ErrNameIllegalArgument},
		{fmt.Errorf("put: %w", &types.ProvisionedThroughputExceededException{}), ErrNameThrottling},
		{&types.RequestLimitExceeded{}, ErrNameThrottling},
		{&types.ThrottlingException{}, ErrNameThrottling},
		{errors.New("connection reset"), ErrNameDependency},
	}
	for _, tc := range cases {
		if got := errorName(tc.err); got != tc.want {
			t.Errorf("errorName(%v) = %q; want %q", tc.err, got, tc.want)
		}
	}
}
