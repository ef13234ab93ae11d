package polling

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

func TestNewRejectsBadOptions(t *testing.T) {
	client := kinesis.New(kinesis.Options{Region: "us-east-1"})
	tests := map[string]struct {
		opt  Option
		want string
	}{
		"records zero":         {WithMaxRecords(0), "WithMaxRecords: 0 is outside 1..10000"},
		"records too many":     {WithMaxRecords(10001), "WithMaxRecords: 10001 is outside 1..10000"},
		"calls zero":           {WithMaxCallsPerSecond(0), "WithMaxCallsPerSecond: 0 is outside 1..5"},
		"calls above limit":    {WithMaxCallsPerSecond(6), "WithMaxCallsPerSecond: 6 is outside 1..5"},
		"bytes zero":           {WithMaxBytesPerSecond(0), "WithMaxBytesPerSecond: 0 is outside 1..1073741824"},
		"large threshold zero": {WithLargeResponsePause(0, time.Second), "WithLargeResponsePause: threshold 0 is not positive"},
		"large pause negative": {WithLargeResponsePause(1, -time.Second), "WithLargeResponsePause: pause -1s is negative"},
		"idle negative":        {WithIdleDelay(-time.Millisecond), "WithIdleDelay: -1ms is negative"},
		"read-ahead batches":   {WithReadAhead(0, 1), "WithReadAhead: batches 0 is not positive"},
		"read-ahead bytes":     {WithReadAhead(1, 0), "WithReadAhead: bytes 0 is not positive"},
		"backoff initial":      {WithRetryBackoff(0, time.Second), "WithRetryBackoff: initial 0s is not positive"},
		"backoff max":          {WithRetryBackoff(time.Second, time.Millisecond), "WithRetryBackoff: max 1ms is below initial 1s"},
		"call timeout zero":    {WithCallTimeout(0), "WithCallTimeout: 0s is not positive"},
		"nil logger":           {WithLogger(nil), "WithLogger: nil logger"},
		"nil metrics":          {WithMetrics(nil), "WithMetrics: nil Metrics"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := New(client, WithMaxRecords(5), tc.opt)
			if p != nil || err == nil {
				t.Fatalf("New accepted a bad option: %v, %v", p, err)
			}
			if !errors.Is(err, ErrInvalidOption) {
				t.Errorf("error %v does not wrap ErrInvalidOption", err)
			}
			if !strings.HasPrefix(err.Error(), "polling: ") || !strings.HasSuffix(err.Error(), tc.want) {
				t.Errorf("error %q, want it to start with \"polling: \" and end with %q", err, tc.want)
			}
		})
	}
}

func TestNewAppliesOptionsOverDefaults(t *testing.T) {
	client := kinesis.New(kinesis.Options{Region: "us-east-1"})
	p, err := New(client, WithMaxRecords(7), WithMaxCallsPerSecond(2), WithMaxBytesPerSecond(1000),
		WithLargeResponsePause(100, time.Second), WithIdleDelay(time.Second), WithReadAhead(9, 99),
		WithRetryBackoff(time.Millisecond, time.Minute), WithCallTimeout(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := p.cfg
	if got.maxRecords != 7 || got.callsPerSecond != 2 || got.bytesPerSecond != 1000 || got.largeBytes != 100 ||
		got.largePause != time.Second || got.idleDelay != time.Second || got.readAheadCount != 9 ||
		got.readAheadBytes != 99 || got.retryInitial != time.Millisecond || got.retryMax != time.Minute || got.callTimeout != time.Hour {
		t.Errorf("options not applied: %+v", got)
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) returned no error")
	}
}

func TestDefaultsMatchServiceLimits(t *testing.T) {
	c := defaultConfig()
	if c.maxRecords != 10000 || c.callsPerSecond != 5 || c.bytesPerSecond != 2<<20 ||
		c.largeBytes != 10<<20 || c.largePause != 5*time.Second {
		t.Errorf("defaults drifted from the Kinesis limits: %+v", c)
	}
	if c.idleDelay != 200*time.Millisecond || c.readAheadCount != 3 || c.readAheadBytes != 8<<20 {
		t.Errorf("defaults drifted from the documented ones: %+v", c)
	}
}
