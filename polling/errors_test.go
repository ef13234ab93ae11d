package polling

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// sdkError wraps err the way the SDK returns it from an operation.
func sdkError(op string, status int, err error) error {
	return &smithy.OperationError{ServiceID: "Kinesis", OperationName: op, Err: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}}
}

func TestClassify(t *testing.T) {
	tests := map[string]struct {
		err  error
		want errorClass
	}{
		"expired iterator":   {sdkError("GetRecords", 400, &types.ExpiredIteratorException{}), classExpired},
		"provisioned tput":   {sdkError("GetRecords", 400, &types.ProvisionedThroughputExceededException{}), classThrottled},
		"after SDK retries":  {&retry.MaxAttemptsError{Attempt: 3, Err: sdkError("GetRecords", 400, &types.ProvisionedThroughputExceededException{})}, classThrottled},
		"retry quota empty":  {errors.Join(sdkError("GetRecords", 400, &types.ProvisionedThroughputExceededException{}), ratelimit.QuotaExceededError{}), classThrottled},
		"kms throttling":     {sdkError("GetRecords", 400, &types.KMSThrottlingException{}), classThrottled},
		"limit exceeded":     {sdkError("GetShardIterator", 400, &types.LimitExceededException{}), classThrottled},
		"throttling code":    {sdkError("GetRecords", 400, &smithy.GenericAPIError{Code: "ThrottlingException", Fault: smithy.FaultClient}), classThrottled},
		"stream deleted":     {sdkError("GetRecords", 400, &types.ResourceNotFoundException{}), classPermanent},
		"access denied type": {sdkError("GetRecords", 400, &types.AccessDeniedException{}), classPermanent},
		"access denied code": {sdkError("GetRecords", 400, &smithy.GenericAPIError{Code: "AccessDeniedException", Fault: smithy.FaultClient}), classPermanent},
		"bad credentials":    {sdkError("GetRecords", 400, &smithy.GenericAPIError{Code: "UnrecognizedClientException", Fault: smithy.FaultClient}), classPermanent},
		"invalid argument":   {sdkError("GetShardIterator", 400, &types.InvalidArgumentException{}), classPermanent},
		"kms access denied":  {sdkError("GetRecords", 400, &types.KMSAccessDeniedException{}), classPermanent},
		"kms disabled":       {sdkError("GetRecords", 400, &types.KMSDisabledException{}), classPermanent},
		"kms key not found":  {sdkError("GetRecords", 400, &types.KMSNotFoundException{}), classPermanent},
		"unknown client":     {sdkError("GetRecords", 400, &smithy.GenericAPIError{Code: "SomethingNew", Fault: smithy.FaultClient}), classTransient},
		"expired token":      {sdkError("GetRecords", 400, &smithy.GenericAPIError{Code: "ExpiredTokenException", Fault: smithy.FaultClient}), classTransient},
		"internal failure":   {sdkError("GetRecords", 500, &types.InternalFailureException{}), classTransient},
		"http 500 unknown":   {sdkError("GetRecords", 500, &smithy.GenericAPIError{Code: "UnknownError"}), classTransient},
		"http 503":           {sdkError("GetRecords", 503, &smithy.GenericAPIError{Code: "ServiceUnavailable"}), classTransient},
		"server fault":       {sdkError("GetRecords", 400, &smithy.GenericAPIError{Code: "Odd", Fault: smithy.FaultServer}), classTransient},
		"connection reset":   {sdkError("GetRecords", 0, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), classTransient},
		"connection refused": {sdkError("GetRecords", 0, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), classTransient},
		"truncated body":     {sdkError("GetRecords", 200, &smithy.DeserializationError{Err: io.ErrUnexpectedEOF}), classTransient},
		"wrapped by caller":  {fmt.Errorf("reading: %w", sdkError("GetRecords", 400, &types.ResourceNotFoundException{})), classPermanent},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := classify(tc.err); got != tc.want {
				t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestPermanentErrorUnwrapsToSDKError(t *testing.T) {
	sdkErr := sdkError("GetRecords", 400, &types.ResourceNotFoundException{Message: aws.String("gone")})
	err := error(&PermanentError{ShardID: "shardId-000000000007", Op: "GetRecords", Err: sdkErr})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Fatalf("%v does not unwrap to ResourceNotFoundException", err)
	}
	var pe *PermanentError
	if !errors.As(fmt.Errorf("consumer: %w", err), &pe) || pe.ShardID != "shardId-000000000007" {
		t.Fatalf("PermanentError with its shard not found in the chain")
	}
}
