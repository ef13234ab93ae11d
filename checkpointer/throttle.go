package checkpointer

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// throttlingCodes are DynamoDB's error codes for "too many requests now, try later".
var throttlingCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ThrottlingException":                    true,
	"RequestLimitExceeded":                   true,
	"Throttling":                             true,
}

// IsThrottling reports whether err is DynamoDB throttling (provisioned throughput exceeded,
// request limit exceeded, throttling), which a retry after a backoff may cure. It looks at
// the API error code, never at message text.
func IsThrottling(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && throttlingCodes[apiErr.ErrorCode()]
}

// sdkRetryables is the SDK's own notion of a transient error: connection errors, HTTP 5xx,
// throttling and transient error codes. It says so even after the SDK ran out of attempts.
var sdkRetryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// Retryable reports whether a write that failed with err may succeed if tried again later
// while ctx (the caller's context) is live: DynamoDB throttling; a transient failure the
// SDK gave up on after its own attempts (connection reset, HTTP 5xx); or one attempt that
// ran out of its own time limit. Such a write may still have been applied; the Writer
// settles that when the next attempt's condition fails.
func Retryable(ctx context.Context, err error) bool {
	switch {
	case err == nil || ctx.Err() != nil || errors.Is(err, ErrLeaseLost):
		return false
	case IsThrottling(err), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return sdkRetryables.IsErrorRetryable(err).Bool()
}
