package efo

import (
	"fmt"
	"log/slog"
	"time"
)

// Defaults, in one place.
const (
	// DefaultIdleTimeout: Kinesis sends an event at least every few seconds even on an idle
	// shard, so 35 s of silence means the subscription is dead.
	DefaultIdleTimeout = 35 * time.Second
	// DefaultBufferSize is how many batches a subscription reads ahead of its consumer.
	DefaultBufferSize = 3
	// DefaultRetryMin and DefaultRetryMax bound the jittered backoff between failed
	// subscribes (ResourceInUse, LimitExceeded, resets) and between registration retries.
	DefaultRetryMin = 1 * time.Second
	DefaultRetryMax = 10 * time.Second
	// DefaultPollInterval is the longest wait between the describes of a consumer that
	// registration waits for; the first waits are shorter (50 ms, doubling).
	DefaultPollInterval = 1 * time.Second
	// DefaultRegisterAttempts is how many LimitExceededException answers to
	// RegisterStreamConsumer registration takes before it gives up.
	DefaultRegisterAttempts = 10
	// DefaultSubscribeFailureLimit is how many subscribes of a shard in a row may fail the
	// same way, delivering nothing, before the subscription ends with ErrRepeatedFailure.
	// With the default backoff that is over a minute of failing.
	DefaultSubscribeFailureLimit = 10
	// loudFailures is how many such failures in a row are logged at error level (once);
	// every failure is logged at warn level before.
	loudFailures = 3

	// subscribeInterval is Kinesis's limit: one SubscribeToShard per second per consumer and shard.
	subscribeInterval = time.Second
	// latestSkew is taken off the time of a LATEST subscribe when the position is pinned to
	// a timestamp, so a client clock ahead of Kinesis's cannot skip records.
	latestSkew = time.Second
)

type config struct {
	logger           *slog.Logger
	metrics          Metrics
	idleTimeout      time.Duration
	bufferSize       int
	retryMin         time.Duration
	retryMax         time.Duration
	pollInterval     time.Duration
	registerAttempts int
	failureLimit     int
}

func defaultConfig() config {
	return config{
		logger:           slog.New(slog.DiscardHandler),
		metrics:          nopMetrics{},
		idleTimeout:      DefaultIdleTimeout,
		bufferSize:       DefaultBufferSize,
		retryMin:         DefaultRetryMin,
		retryMax:         DefaultRetryMax,
		pollInterval:     DefaultPollInterval,
		registerAttempts: DefaultRegisterAttempts,
		failureLimit:     DefaultSubscribeFailureLimit,
	}
}

// Option configures a Consumer.
type Option func(*config) error

func newConfig(opts []Option) (config, error) {
	c := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return config{}, fmt.Errorf("efo: nil Option")
		}
		if err := o(&c); err != nil {
			return config{}, err
		}
	}
	return c, nil
}

// WithLogger logs through l (nothing is logged by default).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("efo: WithLogger: nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithMetrics reports to m.
func WithMetrics(m Metrics) Option {
	return func(c *config) error {
		if m == nil {
			return fmt.Errorf("efo: WithMetrics: nil Metrics")
		}
		c.metrics = m
		return nil
	}
}

// WithIdleTimeout resubscribes when no event arrived for d (DefaultIdleTimeout). Time spent
// waiting for the consumer to take a batch does not count.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("efo: WithIdleTimeout: must be positive, got %v", d)
		}
		c.idleTimeout = d
		return nil
	}
}

// WithBufferSize lets a subscription read up to n batches ahead of its consumer
// (DefaultBufferSize).
func WithBufferSize(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("efo: WithBufferSize: must be at least 1, got %d", n)
		}
		c.bufferSize = n
		return nil
	}
}

// WithRetryBackoff sets the range of the jittered exponential backoff between retries
// (DefaultRetryMin, DefaultRetryMax). SubscribeToShard is never called more than once a
// second per shard, whatever min is.
func WithRetryBackoff(min, max time.Duration) Option {
	return func(c *config) error {
		if min <= 0 || max < min {
			return fmt.Errorf("efo: WithRetryBackoff: need 0 < min <= max, got min %v, max %v", min, max)
		}
		c.retryMin, c.retryMax = min, max
		return nil
	}
}

// WithPollInterval caps the wait between the describes of a consumer that registration
// waits for (DefaultPollInterval); the waits start at 50 ms (or d, if shorter) and double,
// each jittered.
func WithPollInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("efo: WithPollInterval: must be positive, got %v", d)
		}
		c.pollInterval = d
		return nil
	}
}

// WithRegisterAttempts sets how many LimitExceededException answers to
// RegisterStreamConsumer registration takes before it fails with ErrLimitExceeded
// (DefaultRegisterAttempts).
func WithRegisterAttempts(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("efo: WithRegisterAttempts: must be at least 1, got %d", n)
		}
		c.registerAttempts = n
		return nil
	}
}

// WithSubscribeFailureLimit ends a subscription with a *ShardError of kind
// ErrRepeatedFailure once n subscribes of its shard in a row failed the same way (the same
// service error code, or the same kind of transport or decoding error) and delivered
// nothing (DefaultSubscribeFailureLimit). A failure that repeats is a configuration problem
// (a client that cannot read event streams, a consumer that another application holds)
// more often than an outage. Pass math.MaxInt to retry for ever.
func WithSubscribeFailureLimit(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("efo: WithSubscribeFailureLimit: must be at least 1, got %d", n)
		}
		c.failureLimit = n
		return nil
	}
}
