package checkpointer

import (
	"errors"

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
