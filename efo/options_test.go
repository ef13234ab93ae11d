package efo

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
)

// TestOptionValidation: a bad option is refused with an error naming it.
func TestOptionValidation(t *testing.T) {
	tests := map[string]struct {
		opt  Option
		name string
	}{
		"nil option":        {nil, "nil Option"},
		"nil logger":        {WithLogger(nil), "WithLogger"},
		"nil metrics":       {WithMetrics(nil), "WithMetrics"},
		"zero idle timeout": {WithIdleTimeout(0), "WithIdleTimeout"},
		"zero buffer":       {WithBufferSize(0), "WithBufferSize"},
		"min above max":     {WithRetryBackoff(2*time.Second, time.Second), "WithRetryBackoff"},
		"zero min":          {WithRetryBackoff(0, time.Second), "WithRetryBackoff"},
		"negative poll":     {WithPollInterval(-time.Second), "WithPollInterval"},
		"no register tries": {WithRegisterAttempts(0), "WithRegisterAttempts"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewConsumerFromARN(&kinesis.Client{}, "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:1", tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.name) {
				t.Fatalf("error %v, want one naming %s", err, tt.name)
			}
		})
	}
	c, err := NewConsumerFromARN(&kinesis.Client{}, "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:1",
		WithIdleTimeout(time.Second), WithBufferSize(1), WithRetryBackoff(time.Second, time.Second))
	if err != nil || c.cfg.idleTimeout != time.Second || c.cfg.bufferSize != 1 {
		t.Fatalf("good options: %v, %+v", err, c)
	}
}

func TestStartPositionValidation(t *testing.T) {
	now := time.Now()
	tests := map[string]struct {
		pos StartPosition
		ok  bool
	}{
		"trim horizon":               {StartPosition{Type: types.ShardIteratorTypeTrimHorizon}, true},
		"latest":                     {StartPosition{Type: types.ShardIteratorTypeLatest}, true},
		"at timestamp":               {StartPosition{Type: types.ShardIteratorTypeAtTimestamp, Timestamp: now}, true},
		"at sequence number":         {StartPosition{Type: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: "49590338271490256608559692538361571095921575989136588898"}, true},
		"after sequence number":      {StartPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: "0"}, true},
		"empty":                      {StartPosition{}, false},
		"unknown type":               {StartPosition{Type: "SOMEWHERE"}, false},
		"latest with a sequence":     {StartPosition{Type: types.ShardIteratorTypeLatest, SequenceNumber: "1"}, false},
		"timestamp missing":          {StartPosition{Type: types.ShardIteratorTypeAtTimestamp}, false},
		"sequence missing":           {StartPosition{Type: types.ShardIteratorTypeAtSequenceNumber}, false},
		"sequence not decimal":       {StartPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: "12a"}, false},
		"sequence with leading 0":    {StartPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: "012"}, false},
		"sequence and a timestamp":   {StartPosition{Type: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: "1", Timestamp: now}, false},
		"timestamp and a sequence":   {StartPosition{Type: types.ShardIteratorTypeAtTimestamp, SequenceNumber: "1", Timestamp: now}, false},
		"sentinel is not a sequence": {StartPosition{Type: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: "TRIM_HORIZON"}, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if err := tt.pos.validate(); (err == nil) != tt.ok {
				t.Fatalf("validate(%v) = %v, want ok %v", tt.pos, err, tt.ok)
			}
		})
	}
	c, _ := NewConsumerFromARN(&kinesis.Client{}, "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:1")
	if _, err := c.Subscribe(t.Context(), "shardId-000000000000", StartPosition{Type: "SOMEWHERE"}); err == nil || !strings.Contains(err.Error(), "start position") {
		t.Fatalf("Subscribe at a bad position: %v", err)
	}
	if _, err := c.Subscribe(t.Context(), "", StartPosition{Type: types.ShardIteratorTypeLatest}); err == nil {
		t.Fatal("Subscribe without a shard id succeeded")
	}
}

func TestSplitConsumerARN(t *testing.T) {
	tests := map[string]struct {
		arn, stream, name string
		ok                bool
	}{
		"aws":        {"arn:aws:kinesis:us-east-1:123456789012:stream/orders/consumer/app.v2:1700000000", "arn:aws:kinesis:us-east-1:123456789012:stream/orders", "app.v2", true},
		"china":      {"arn:aws-cn:kinesis:cn-north-1:123456789012:stream/s/consumer/c:1", "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/s", "c", true},
		"stream ARN": {"arn:aws:kinesis:us-east-1:123456789012:stream/orders", "", "", false},
		"no time":    {"arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c", "", "", false},
		"not an ARN": {"orders/consumer/c:1", "", "", false},
		"empty":      {"", "", "", false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			stream, cname, ok := splitConsumerARN(tt.arn)
			if ok != tt.ok || stream != tt.stream || cname != tt.name {
				t.Fatalf("splitConsumerARN(%q) = %q, %q, %v", tt.arn, stream, cname, ok)
			}
			_, err := NewConsumerFromARN(&kinesis.Client{}, tt.arn)
			if (err == nil) != tt.ok {
				t.Fatalf("NewConsumerFromARN(%q) = %v", tt.arn, err)
			}
		})
	}
}

// FuzzSplitConsumerARN: never a panic, and what it accepts puts back together.
func FuzzSplitConsumerARN(f *testing.F) {
	f.Add("arn:aws:kinesis:us-east-1:123456789012:stream/orders/consumer/app:1700000000")
	f.Add("arn:aws:kinesis:::stream//consumer/:")
	f.Add("arn:/consumer/:1")
	f.Fuzz(func(t *testing.T, arn string) {
		stream, name, ok := splitConsumerARN(arn)
		if !ok {
			return
		}
		if !strings.HasPrefix(arn, stream+"/consumer/"+name+":") || name == "" {
			t.Fatalf("splitConsumerARN(%q) = %q, %q", arn, stream, name)
		}
	})
}

func TestBackoffBounds(t *testing.T) {
	min, max := 100*time.Millisecond, 3*time.Second
	for attempt := range 12 {
		step := min << attempt
		if step > max || attempt > 10 {
			step = max
		}
		for range 200 {
			if d := backoff(min, max, attempt); d < step/2 || d > step {
				t.Fatalf("backoff attempt %d = %v, want within [%v, %v]", attempt, d, step/2, step)
			}
		}
	}
	for range 200 {
		if d := jitter(time.Second); d < 750*time.Millisecond || d > 1250*time.Millisecond {
			t.Fatalf("jitter(1s) = %v", d)
		}
	}
}

func TestPermanentKind(t *testing.T) {
	tests := map[string]struct {
		err  error
		kind error
	}{
		"not found":        {&types.ResourceNotFoundException{}, ErrNotFound},
		"access denied":    {&types.AccessDeniedException{}, ErrAccessDenied},
		"kms disabled":     {&types.KMSDisabledException{}, ErrAccessDenied},
		"invalid argument": {&types.InvalidArgumentException{}, ErrInvalidArgument},
		"in use":           {&types.ResourceInUseException{}, nil},
		"limit exceeded":   {&types.LimitExceededException{}, nil},
		"kms throttling":   {&types.KMSThrottlingException{}, nil},
		"internal failure": {&types.InternalFailureException{}, nil},
		"reset":            {connReset(), nil},
		"plain":            {errString("boom"), nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := permanentKind(tt.err); got != tt.kind {
				t.Fatalf("permanentKind(%v) = %v, want %v", tt.err, got, tt.kind)
			}
		})
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestSDKDefaultClientTriesHTTP2 guards the claim in the package doc: the SDK's default
// client forces an HTTP/2 attempt over TLS, so a Kinesis client built with defaults reaches
// SubscribeToShard over HTTP/2.
func TestSDKDefaultClientTriesHTTP2(t *testing.T) {
	if tr := awshttp.NewBuildableClient().GetTransport(); !tr.ForceAttemptHTTP2 {
		t.Fatal("the SDK's default transport no longer sets ForceAttemptHTTP2: SubscribeToShard would go over HTTP/1.1")
	}
	tr := NewHTTPClient(func(tr *http.Transport) { tr.MaxIdleConnsPerHost = 7 }).GetTransport()
	if !tr.ForceAttemptHTTP2 || tr.HTTP2 == nil || tr.HTTP2.MaxReceiveBufferPerStream != http2StreamWindow ||
		tr.HTTP2.SendPingTimeout == 0 || tr.HTTP2.PingTimeout == 0 || tr.MaxIdleConnsPerHost != 7 {
		t.Fatalf("NewHTTPClient's transport: ForceAttemptHTTP2 %v, HTTP2 %+v, MaxIdleConnsPerHost %d", tr.ForceAttemptHTTP2, tr.HTTP2, tr.MaxIdleConnsPerHost)
	}
}

// TestSubscribeCallOptions: each SubscribeToShard call gets its own protocol instance (so
// concurrent streams share no codec) and no SDK retries.
func TestSubscribeCallOptions(t *testing.T) {
	shared := awsjson.New11(schemas.Kinesis_20131202)
	o1 := kinesis.Options{Protocol: shared, Retryer: aws.NopRetryer{}}
	o2 := o1
	subscribeCallOptions(&o1)
	subscribeCallOptions(&o2)
	p1, _ := o1.Protocol.(*awsjson.Protocol)
	p2, _ := o2.Protocol.(*awsjson.Protocol)
	if p1 == nil || p2 == nil || p1 == shared || p2 == shared || p1 == p2 {
		t.Fatalf("protocols %p, %p from shared %p: want two fresh instances", p1, p2, shared)
	}
	if _, ok := o1.Retryer.(aws.NopRetryer); !ok {
		t.Fatalf("retryer %T, want aws.NopRetryer", o1.Retryer)
	}
}
