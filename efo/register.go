package efo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/internal/ctxwait"
)

// NewConsumer finds the consumer named consumerName on stream (a name or an ARN) or
// registers it, waits until it is ACTIVE and returns it. It is safe to call from many
// workers at once: they end up with the same consumer, registered once. It retries
// throttling and races with jitter until ctx ends; LimitExceededException from
// RegisterStreamConsumer (also what the 20-consumer limit looks like) and unknown errors
// are tried WithRegisterAttempts times in a row.
func NewConsumer(ctx context.Context, api KinesisAPI, stream, consumerName string, opts ...Option) (*Consumer, error) {
	if api == nil {
		return nil, fmt.Errorf("efo: NewConsumer: nil KinesisAPI")
	}
	if err := validateNames(stream, consumerName); err != nil {
		return nil, fmt.Errorf("efo: NewConsumer: %w", err)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	r := registrar{api: api, cfg: cfg, stream: stream, name: consumerName,
		log: cfg.logger.With("stream", stream, "consumer", consumerName)}
	streamARN, err := r.streamARN(ctx)
	if err != nil {
		return nil, err
	}
	arn, err := r.findOrRegister(ctx, streamARN)
	if err != nil {
		return nil, err
	}
	return newConsumer(sdkSubscribe(api), arn, streamARN, consumerName, cfg), nil
}

// DeregisterConsumer deregisters the consumer named consumerName from stream (a name or an
// ARN). A consumer that does not exist is not an error. Kinesis deletes it in the
// background (DELETING, then gone); its subscriptions fail with ErrNotFound.
func DeregisterConsumer(ctx context.Context, api RegistrationAPI, stream, consumerName string, opts ...Option) error {
	if api == nil {
		return fmt.Errorf("efo: DeregisterConsumer: nil RegistrationAPI")
	}
	if err := validateNames(stream, consumerName); err != nil {
		return fmt.Errorf("efo: DeregisterConsumer: %w", err)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return err
	}
	r := registrar{api: api, cfg: cfg, stream: stream, name: consumerName,
		log: cfg.logger.With("stream", stream, "consumer", consumerName)}
	streamARN, err := r.streamARN(ctx)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	for failures := 0; ; failures++ {
		_, err := api.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{
			StreamARN: aws.String(streamARN), ConsumerName: aws.String(consumerName),
		})
		switch {
		case err == nil:
			r.log.Info("efo: deregistered consumer")
			return nil
		case errorCode(err) == codeNotFound:
			return nil
		}
		if err := r.retry(ctx, err, failures); err != nil {
			return err
		}
	}
}

// registrar finds or registers one consumer.
type registrar struct {
	api    RegistrationAPI
	cfg    config
	stream string
	name   string
	log    *slog.Logger
}

func (r *registrar) fail(kind, err error) error {
	return &ConsumerError{Stream: r.stream, Consumer: r.name, Kind: kind, Err: err}
}

// retry decides after a failed call whether to try again: it waits a backoff for a
// transient error, or returns the error that ends the attempt.
func (r *registrar) retry(ctx context.Context, err error, failures int) error {
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	if kind := permanentKind(err); kind != nil {
		return r.fail(kind, err)
	}
	if clientFaultNotTransient(err) {
		// A request the service refused as the caller's fault (an operation it does not
		// know, an expired token, a bad signature) fails the same way every time: say so
		// now instead of after a minute of retries.
		return r.fail(nil, err)
	}
	if failures+1 >= r.cfg.registerAttempts && errorCode(err) != codeLimitExceeded {
		return r.fail(nil, fmt.Errorf("giving up after %d tries: %w", failures+1, err))
	}
	wait := backoff(r.cfg.retryMin, r.cfg.retryMax, failures)
	r.log.Warn("efo: registration call failed; retrying", "after", wait, "try", failures+1, "err", err)
	return ctxwait.Sleep(ctx, wait)
}

// streamARN returns the stream's ARN, describing the stream when given its name.
func (r *registrar) streamARN(ctx context.Context) (string, error) {
	if strings.HasPrefix(r.stream, "arn:") {
		return r.stream, nil
	}
	for failures := 0; ; failures++ {
		out, err := r.api.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(r.stream)})
		if err == nil {
			if out.StreamDescriptionSummary == nil || out.StreamDescriptionSummary.StreamARN == nil {
				return "", r.fail(nil, errors.New("DescribeStreamSummary returned no stream ARN"))
			}
			return *out.StreamDescriptionSummary.StreamARN, nil
		}
		if err := r.retry(ctx, err, failures); err != nil {
			return "", err
		}
	}
}

// findOrRegister describes before it registers (DescribeStreamConsumer allows 20 TPS,
// RegisterStreamConsumer 5), registers when the consumer is missing, takes losing a
// registration race (ResourceInUseException) as a sign to describe again, and polls until
// the consumer is ACTIVE.
func (r *registrar) findOrRegister(ctx context.Context, streamARN string) (string, error) {
	failures := 0        // unknown errors and throttled describes in a row
	registerLimited := 0 // LimitExceededException from RegisterStreamConsumer in a row
	polls := 0           // waits for a consumer that is not ACTIVE yet
	poll := func() error {
		polls++
		return ctxwait.Sleep(ctx, growingPoll(r.cfg.pollInterval, polls-1))
	}
	for {
		out, err := r.api.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{
			StreamARN: aws.String(streamARN), ConsumerName: aws.String(r.name),
		})
		if err == nil && out.ConsumerDescription != nil {
			d := out.ConsumerDescription
			failures = 0
			if d.ConsumerStatus == types.ConsumerStatusActive {
				r.log.Debug("efo: consumer is active", "arn", aws.ToString(d.ConsumerARN))
				return aws.ToString(d.ConsumerARN), nil
			}
			// CREATING: someone registered it; DELETING: it goes away, then we register anew.
			r.log.Debug("efo: waiting for consumer", "status", d.ConsumerStatus)
			if err := poll(); err != nil {
				return "", err
			}
			continue
		}
		if err == nil {
			err = errors.New("DescribeStreamConsumer returned no consumer description")
		}
		if errorCode(err) != codeNotFound {
			if err := r.retry(ctx, err, failures); err != nil {
				return "", err
			}
			failures++
			continue
		}

		_, err = r.api.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{
			StreamARN: aws.String(streamARN), ConsumerName: aws.String(r.name),
		})
		switch code := errorCode(err); {
		case err == nil:
			r.log.Info("efo: registered consumer")
			registerLimited = 0
			// Freshly registered consumers are CREATING; describe again soon, then less often.
			if err := poll(); err != nil {
				return "", err
			}
		case code == codeResourceInUse:
			// Another worker registered it between our describe and register (or it is
			// still being deleted): describe it again.
			r.log.Debug("efo: consumer registered by someone else", "err", err)
			if err := poll(); err != nil {
				return "", err
			}
		case code == codeLimitExceeded:
			registerLimited++
			if registerLimited >= r.cfg.registerAttempts {
				return "", r.fail(ErrLimitExceeded, err)
			}
			if err := ctxwait.Sleep(ctx, backoff(r.cfg.retryMin, r.cfg.retryMax, registerLimited-1)); err != nil {
				return "", err
			}
		default:
			if err := r.retry(ctx, err, failures); err != nil {
				return "", err
			}
			failures++
		}
	}
}

// validateNames checks what Kinesis requires of a stream name or ARN and a consumer name.
func validateNames(stream, consumer string) error {
	if stream == "" {
		return errors.New("empty stream name or ARN")
	}
	if len(consumer) == 0 || len(consumer) > 128 {
		return fmt.Errorf("consumer name must be 1 to 128 characters, got %d", len(consumer))
	}
	for _, c := range consumer {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("consumer name %q may hold only letters, digits, '_', '.' and '-'", consumer)
		}
	}
	return nil
}
