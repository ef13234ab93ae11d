package polling

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// ErrClosed is the cause a reader reports after its Close.
var ErrClosed = errors.New("polling: reader closed")

// PermanentError is a failure that retrying cannot fix (stream or shard not found, access
// denied, invalid argument, KMS key unusable). It ends the reader; Unwrap gives the SDK error.
type PermanentError struct {
	ShardID string
	Op      string // the Kinesis operation that failed: GetShardIterator or GetRecords
	Err     error
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("polling: shard %s: %s: %v", e.ShardID, e.Op, e.Err)
}

func (e *PermanentError) Unwrap() error { return e.Err }

// errorClass is what the read loop does about an error.
type errorClass int

const (
	classPermanent errorClass = iota // end the reader with a PermanentError
	classThrottled                   // back off, retry the same call
	classExpired                     // get a fresh iterator after what was delivered
	classTransient                   // back off, retry (a fresh iterator after a few in a row)
)

func (c errorClass) String() string {
	switch c {
	case classThrottled:
		return "throttled"
	case classExpired:
		return "expired iterator"
	case classTransient:
		return "transient"
	}
	return "permanent"
}

// Error codes that mean the caller lacks rights, whatever type the SDK gave the error.
var accessDeniedCodes = map[string]bool{
	"AccessDeniedException":       true,
	"AccessDenied":                true,
	"UnrecognizedClientException": true,
}

// sdkRetryables decides what counts as a transient transport or server failure, the way the
// SDK's own retryer does (connection errors, timeouts, 5xx status codes, throttling codes).
var sdkRetryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// classify sorts a GetRecords or GetShardIterator error by type and error code, never by
// message text. The caller has already ruled out its own context ending.
func classify(err error) errorClass {
	var (
		expired   *types.ExpiredIteratorException
		pte       *types.ProvisionedThroughputExceededException
		kmsThrot  *types.KMSThrottlingException
		limit     *types.LimitExceededException
		notFound  *types.ResourceNotFoundException
		denied    *types.AccessDeniedException
		invalid   *types.InvalidArgumentException
		invalidV  *types.ValidationException
		kmsDenied *types.KMSAccessDeniedException
		kmsOff    *types.KMSDisabledException
		kmsState  *types.KMSInvalidStateException
		kmsGone   *types.KMSNotFoundException
		kmsOptIn  *types.KMSOptInRequired
		internal  *types.InternalFailureException
	)
	switch {
	case errors.As(err, &expired):
		return classExpired
	case errors.As(err, &pte), errors.As(err, &kmsThrot), errors.As(err, &limit):
		return classThrottled
	case errors.As(err, &notFound), errors.As(err, &denied), errors.As(err, &invalid), errors.As(err, &invalidV),
		errors.As(err, &kmsDenied), errors.As(err, &kmsOff), errors.As(err, &kmsState), errors.As(err, &kmsGone),
		errors.As(err, &kmsOptIn):
		return classPermanent
	case errors.As(err, &internal):
		return classTransient
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		code := api.ErrorCode()
		if accessDeniedCodes[code] {
			return classPermanent
		}
		if _, ok := retry.DefaultThrottleErrorCodes[code]; ok {
			return classThrottled
		}
		if api.ErrorFault() == smithy.FaultServer {
			return classTransient
		}
	}
	if sdkRetryables.IsErrorRetryable(err) == aws.TrueTernary {
		return classTransient
	}
	// An API error of a kind not listed above (an expired session token during a credentials
	// refresh, a skewed clock), or no answer from the service at all (a cut connection, a
	// truncated body, a failed dial): nothing says retrying is useless, so try again.
	return classTransient
}
