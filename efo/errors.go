package efo

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// Kinds of permanent failure. A *ShardError or *ConsumerError matches one of them with
// errors.Is, and also unwraps to the SDK's own error (errors.As with *types.ResourceNotFoundException etc.).
var (
	// ErrNotFound: the consumer, stream or shard does not exist (any more).
	ErrNotFound = errors.New("not found")
	// ErrAccessDenied: the caller may not read the stream: access denied, unrecognised
	// credentials, or a KMS key that cannot be used.
	ErrAccessDenied = errors.New("access denied")
	// ErrInvalidArgument: Kinesis refused the request as invalid, e.g. a sequence number
	// that does not belong to the shard.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrLimitExceeded: registration was refused for LimitExceededException on every try
	// (a stream has at most 20 consumers).
	ErrLimitExceeded = errors.New("limit exceeded")
	// ErrRepeatedFailure: every subscribe of a shard failed the same way, delivering
	// nothing, WithSubscribeFailureLimit times in a row. The *ShardError's Err is the last
	// failure.
	ErrRepeatedFailure = errors.New("subscribe failed the same way repeatedly")
	// ErrClosed is the cause a Subscription ends with after Close.
	ErrClosed = errors.New("efo: subscription closed")
)

// ShardError is a permanent failure of a subscription.
type ShardError struct {
	ShardID string
	Kind    error // one of the Err* kinds above
	Err     error // the SDK's error
}

func (e *ShardError) Error() string {
	return "efo: shard " + e.ShardID + ": " + e.Kind.Error() + ": " + e.Err.Error()
}

// Unwrap returns the kind and the SDK error, so errors.Is and errors.As find both.
func (e *ShardError) Unwrap() []error { return []error{e.Kind, e.Err} }

// ConsumerError is a failure to find, register or deregister a consumer.
type ConsumerError struct {
	Stream   string // as given: name or ARN
	Consumer string
	Kind     error // one of the Err* kinds above, or nil when the cause is not classified
	Err      error
}

func (e *ConsumerError) Error() string {
	msg := "efo: consumer " + e.Consumer + " of stream " + e.Stream + ": "
	if e.Kind != nil {
		msg += e.Kind.Error() + ": "
	}
	return msg + e.Err.Error()
}

// Unwrap returns the kind (when known) and the underlying error.
func (e *ConsumerError) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// errorCode returns the service's error code of err, or "" when err is not a service error.
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// permanentKind returns the kind of a permanent failure, or nil when err is worth retrying
// (throttling, ResourceInUse, server faults, network trouble, anything unknown).
func permanentKind(err error) error {
	switch errorCode(err) {
	case "ResourceNotFoundException":
		return ErrNotFound
	case "AccessDeniedException", "UnrecognizedClientException",
		"KMSAccessDeniedException", "KMSDisabledException", "KMSInvalidStateException",
		"KMSNotFoundException", "KMSOptInRequired":
		return ErrAccessDenied
	case "InvalidArgumentException", "ValidationException":
		return ErrInvalidArgument
	}
	return nil
}

// Service error codes the retry loops look at.
const (
	codeResourceInUse = "ResourceInUseException"
	codeLimitExceeded = "LimitExceededException"
	codeNotFound      = "ResourceNotFoundException"
)

// clientFaultNotTransient reports whether err is an error the service blames on the request
// and that is not known to pass: neither throttling, nor a limit, nor a resource in use, nor
// one of the codes the SDK's own retryer retries.
func clientFaultNotTransient(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorFault() {
	case smithy.FaultServer:
		return false
	case smithy.FaultUnknown: // an error code the SDK has no type for: the status says whose fault
		var resp *awshttp.ResponseError
		if !errors.As(err, &resp) || resp.HTTPStatusCode() < 400 || resp.HTTPStatusCode() >= 500 {
			return false
		}
	}
	code := apiErr.ErrorCode()
	switch code {
	case codeResourceInUse, codeLimitExceeded, "ProvisionedThroughputExceededException":
		return false
	}
	_, throttle := retry.DefaultThrottleErrorCodes[code]
	_, retryable := retry.DefaultRetryableErrorCodes[code]
	return !throttle && !retryable
}
