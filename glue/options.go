package glue

import (
	"fmt"
	"log/slog"
	"time"
)

// Defaults, in one place. The cache's size and refresh age are the registry's Java
// client's.
const (
	DefaultCacheSize      = 200
	DefaultRefreshAge     = 24 * time.Hour
	DefaultNegativeTTL    = time.Minute
	DefaultFailureBackoff = time.Second
	DefaultCallTimeout    = 30 * time.Second
	// DefaultMaxPayloadSize bounds a payload after decompression: Kinesis records hold
	// at most 10 MiB, so a bigger zlib payload is a decompression bomb.
	DefaultMaxPayloadSize = 10 << 20
)

type config struct {
	cacheSize      int
	refreshAge     time.Duration
	negativeTTL    time.Duration
	failureBackoff time.Duration
	callTimeout    time.Duration
	maxPayload     int
	strict         bool
	validateJSON   bool
	log            *slog.Logger
}

func defaults() config {
	return config{
		cacheSize:      DefaultCacheSize,
		refreshAge:     DefaultRefreshAge,
		negativeTTL:    DefaultNegativeTTL,
		failureBackoff: DefaultFailureBackoff,
		callTimeout:    DefaultCallTimeout,
		maxPayload:     DefaultMaxPayloadSize,
		validateJSON:   true,
		log:            slog.New(slog.DiscardHandler),
	}
}

// An Option configures a Decoder.
type Option func(*config) error

// OptionError says which option was given a bad value.
type OptionError struct {
	Option string
	Reason string
}

func (e *OptionError) Error() string { return "glue: " + e.Option + ": " + e.Reason }

func positive[T int | time.Duration](name string, v T, dst *T) Option {
	return func(c *config) error {
		if v <= 0 {
			return &OptionError{Option: name, Reason: fmt.Sprintf("%v is not positive", v)}
		}
		*dst = v
		return nil
	}
}

// WithCacheSize bounds how many schema versions are kept. Default 200.
func WithCacheSize(n int) Option {
	return func(c *config) error { return positive("WithCacheSize", n, &c.cacheSize)(c) }
}

// WithRefreshAge is the age after which a cached schema is fetched again, in the
// background; the cached one serves meanwhile, and goes on serving if the fetch fails.
// Default 24 h.
func WithRefreshAge(d time.Duration) Option {
	return func(c *config) error { return positive("WithRefreshAge", d, &c.refreshAge)(c) }
}

// WithNegativeTTL is how long an id the registry does not know (or whose version is not
// AVAILABLE, or whose schema does not parse) is remembered as such, so records naming it
// cost no call each. Default 1 min.
func WithNegativeTTL(d time.Duration) Option {
	return func(c *config) error { return positive("WithNegativeTTL", d, &c.negativeTTL)(c) }
}

// WithFailureBackoff is how long a failed registry call (throttled, unreachable, after the
// SDK's own retries) is remembered before the registry is asked again. Default 1 s.
func WithFailureBackoff(d time.Duration) Option {
	return func(c *config) error { return positive("WithFailureBackoff", d, &c.failureBackoff)(c) }
}

// WithCallTimeout bounds one GetSchemaVersion call, retries included. Default 30 s.
func WithCallTimeout(d time.Duration) Option {
	return func(c *config) error { return positive("WithCallTimeout", d, &c.callTimeout)(c) }
}

// WithMaxPayloadSize bounds a payload's size after decompression; inflation stops there.
// Default 10 MiB.
func WithMaxPayloadSize(n int) Option {
	return func(c *config) error { return positive("WithMaxPayloadSize", n, &c.maxPayload)(c) }
}

// Strict makes a record without the registry's header a decode error (ErrNotFramed). By
// default such a record passes through untouched, with no decoded value.
func Strict() Option {
	return func(c *config) error { c.strict = true; return nil }
}

// WithoutJSONValidation decodes JSON payloads without checking them against their JSON
// Schema.
func WithoutJSONValidation() Option {
	return func(c *config) error { c.validateJSON = false; return nil }
}

// WithLogger receives the Decoder's warnings (failed fetches and refreshes, records that
// do not decode). Default: discarded.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return &OptionError{Option: "WithLogger", Reason: "nil logger"}
		}
		c.log = l
		return nil
	}
}
