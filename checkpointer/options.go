package checkpointer

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Option configures a Checkpointer.
type Option func(*config)

type config struct {
	strategy       Strategy
	logger         *slog.Logger
	retryInitial   time.Duration
	retryMax       time.Duration
	retryJitterPct float64
	observe        func(position ExtendedSequenceNumber, took time.Duration, err error)
}

// Defaults, in one place.
func defaultConfig() config {
	return config{
		strategy:       Manual(),
		logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		retryInitial:   100 * time.Millisecond,
		retryMax:       5 * time.Second,
		retryJitterPct: 0.5,
	}
}

// WithStrategy sets when checkpoints are written without the application asking
// (default Manual).
func WithStrategy(s Strategy) Option { return func(c *config) { c.strategy = s } }

// WithWriteObserver has observe called after every write the Checkpointer sends to its
// Writer (retries included, once per checkpoint), with how long it took and its error: real
// writes only, never for checkpoints that were refused or had nothing to write.
func WithWriteObserver(observe func(position ExtendedSequenceNumber, took time.Duration, err error)) Option {
	return func(c *config) { c.observe = observe }
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithThrottleBackoff sets the first and the largest wait between retries of a throttled
// (or otherwise transiently failed, see Retryable) write (defaults 100 ms and 5 s; each wait
// is jittered by ±50%). Retries go on until the write succeeds, fails otherwise, or the
// caller's context ends.
func WithThrottleBackoff(initial, max time.Duration) Option {
	return func(c *config) { c.retryInitial, c.retryMax = initial, max }
}

func (c *config) validate() error {
	if err := c.strategy.validate(); err != nil {
		return err
	}
	if c.logger == nil {
		return fmt.Errorf("checkpointer: WithLogger: nil logger")
	}
	if c.retryInitial <= 0 || c.retryMax < c.retryInitial {
		return fmt.Errorf("checkpointer: WithThrottleBackoff: need 0 < initial <= max, got %v and %v", c.retryInitial, c.retryMax)
	}
	return nil
}

func (c *config) newBackOff() *backoff.ExponentialBackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(c.retryInitial),
		backoff.WithMaxInterval(c.retryMax),
		backoff.WithRandomizationFactor(c.retryJitterPct),
		backoff.WithMultiplier(2),
		backoff.WithMaxElapsedTime(0), // bounded by the caller's context instead
	)
}
