package polling

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Kinesis service limits the defaults are derived from (see the package documentation).
const (
	// MaxGetRecordsLimit is the largest Limit a GetRecords call accepts.
	MaxGetRecordsLimit = 10000
	// MaxCallsPerSecond is the GetRecords rate Kinesis allows per shard.
	MaxCallsPerSecond = 5
	// ShardReadBytesPerSecond is a shard's shared read throughput.
	ShardReadBytesPerSecond = 2 << 20
	// LargeResponseBytes is the size of the largest GetRecords response; after one,
	// Kinesis throttles the shard's calls for LargeResponsePause.
	LargeResponseBytes = 10 << 20
	// LargeResponsePause is how long Kinesis throttles a shard after a LargeResponseBytes response.
	LargeResponsePause = 5 * time.Second
)

// maxBytesPerSecond bounds WithMaxBytesPerSecond (1 GiB/s, far above any shard's limit) so
// the pacer's integer arithmetic cannot overflow.
const maxBytesPerSecond = 1 << 30

// ErrInvalidOption is wrapped by every error New returns for a bad option.
var ErrInvalidOption = errors.New("polling: invalid option")

// Option configures a Poller.
type Option func(*config) error

// config holds every setting; defaultConfig is the only place defaults live.
type config struct {
	maxRecords      int32
	callsPerSecond  int
	bytesPerSecond  int64
	largeBytes      int64
	largePause      time.Duration
	idleDelay       time.Duration
	readAheadCount  int
	readAheadBytes  int64
	retryInitial    time.Duration
	retryMax        time.Duration
	callTimeout     time.Duration
	logger          *slog.Logger
	metrics         Metrics
	refreshAfterErr int
}

func defaultConfig() config {
	return config{
		maxRecords:     MaxGetRecordsLimit,
		callsPerSecond: MaxCallsPerSecond,
		bytesPerSecond: ShardReadBytesPerSecond,
		largeBytes:     LargeResponseBytes,
		largePause:     LargeResponsePause,
		// One poll per 200 ms when caught up: about 200 ms propagation delay on an idle
		// shard, at the cost of the shard's whole GetRecords rate (KCL waits 1.5 s).
		idleDelay:      200 * time.Millisecond,
		readAheadCount: 3,       // as KCL's prefetch
		readAheadBytes: 8 << 20, // as KCL's prefetch
		retryInitial:   100 * time.Millisecond,
		retryMax:       5 * time.Second,
		callTimeout:    30 * time.Second, // as KCL's kinesisRequestTimeout
		logger:         slog.New(slog.DiscardHandler),
		metrics:        nopMetrics{},
		// After this many transient GetRecords failures in a row the iterator itself is
		// suspect (a server that lost it answers with a 5xx): get a fresh one.
		refreshAfterErr: 3,
	}
}

func invalid(option, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidOption, option, fmt.Sprintf(format, args...))
}

// WithMaxRecords sets GetRecords' Limit, 1..10000 (default 10000, the maximum).
func WithMaxRecords(n int) Option {
	return func(c *config) error {
		if n < 1 || n > MaxGetRecordsLimit {
			return invalid("WithMaxRecords", "%d is outside 1..%d", n, MaxGetRecordsLimit)
		}
		c.maxRecords = int32(n)
		return nil
	}
}

// WithMaxCallsPerSecond caps GetRecords calls per shard, 1..5 (default 5, the service limit).
// Calls start at least 1s/n apart.
func WithMaxCallsPerSecond(n int) Option {
	return func(c *config) error {
		if n < 1 || n > MaxCallsPerSecond {
			return invalid("WithMaxCallsPerSecond", "%d is outside 1..%d", n, MaxCallsPerSecond)
		}
		c.callsPerSecond = n
		return nil
	}
}

// WithMaxBytesPerSecond caps the average bytes per second read from a shard (default 2 MiB,
// the shard's read throughput; lower it when several applications poll the same stream).
// Bursts of up to one second's worth are allowed.
func WithMaxBytesPerSecond(n int64) Option {
	return func(c *config) error {
		if n < 1 || n > maxBytesPerSecond {
			return invalid("WithMaxBytesPerSecond", "%d is outside 1..%d", n, maxBytesPerSecond)
		}
		c.bytesPerSecond = n
		return nil
	}
}

// WithLargeResponsePause makes the reader wait pause after a response of at least
// threshold bytes (default 10 MiB and 5 s, as Kinesis throttles after such a response).
// A pause of 0 turns the rule off.
func WithLargeResponsePause(threshold int64, pause time.Duration) Option {
	return func(c *config) error {
		if threshold < 1 {
			return invalid("WithLargeResponsePause", "threshold %d is not positive", threshold)
		}
		if pause < 0 {
			return invalid("WithLargeResponsePause", "pause %v is negative", pause)
		}
		c.largeBytes, c.largePause = threshold, pause
		return nil
	}
}

// WithIdleDelay sets how long the reader waits after a response that shows it is caught up
// (MillisBehindLatest 0 and fewer records than the Limit) before it polls again (default
// 200 ms). While behind it does not wait beyond the rate limits.
func WithIdleDelay(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return invalid("WithIdleDelay", "%v is negative", d)
		}
		c.idleDelay = d
		return nil
	}
}

// WithReadAhead bounds what a reader holds that its consumer has not taken: at most batches
// responses, and no further GetRecords once bytes are held (default 3 and 8 MiB). With
// bytes held below the bound one more response may arrive, so the most a reader holds is
// bytes plus one response.
func WithReadAhead(batches int, bytes int64) Option {
	return func(c *config) error {
		if batches < 1 {
			return invalid("WithReadAhead", "batches %d is not positive", batches)
		}
		if bytes < 1 {
			return invalid("WithReadAhead", "bytes %d is not positive", bytes)
		}
		c.readAheadCount, c.readAheadBytes = batches, bytes
		return nil
	}
}

// WithRetryBackoff sets the jittered exponential backoff after throttling and transient
// errors: the n-th retry in a row waits between half and all of min(max, initial*2^n)
// (default 100 ms and 5 s).
func WithRetryBackoff(initial, max time.Duration) Option {
	return func(c *config) error {
		if initial <= 0 {
			return invalid("WithRetryBackoff", "initial %v is not positive", initial)
		}
		if max < initial {
			return invalid("WithRetryBackoff", "max %v is below initial %v", max, initial)
		}
		c.retryInitial, c.retryMax = initial, max
		return nil
	}
}

// WithCallTimeout bounds each GetRecords and GetShardIterator call (default 30 s); a call
// that takes longer, e.g. on a connection that went silent, is abandoned and retried.
func WithCallTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalid("WithCallTimeout", "%v is not positive", d)
		}
		c.callTimeout = d
		return nil
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return invalid("WithLogger", "nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithMetrics sets the metrics hook (default: none).
func WithMetrics(m Metrics) Option {
	return func(c *config) error {
		if m == nil {
			return invalid("WithMetrics", "nil Metrics")
		}
		c.metrics = m
		return nil
	}
}
