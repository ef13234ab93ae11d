package kcl

import (
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/efo"
)

// Metrics receives the consumer's measurements. Methods are called from the consumer's
// goroutines, concurrently for different shards, and must return quickly. Embed NoMetrics
// to implement only some of them.
type Metrics interface {
	// BatchDelivered: a batch was handed to a shard's reader.
	BatchDelivered(stream, shardID string, records int, millisBehindLatest int64)
	// LeaseAcquired and LeaseLost: this worker took or lost a shard's lease.
	LeaseAcquired(stream, shardID string)
	LeaseLost(stream, shardID string, reason string)
	// Checkpointed: a checkpoint write of the shard to the lease table finished (retries
	// included), err nil on success. Checkpoints with nothing to write are not reported.
	Checkpointed(stream, shardID string, took time.Duration, err error)
	// Throttled: Kinesis throttled a call made for the shard.
	Throttled(stream, shardID, operation string)
}

// SubscribeMetrics is an optional extension of Metrics: a Metrics that also implements it
// is told of failed subscriptions. It is separate so that Metrics written before it still
// compile.
type SubscribeMetrics interface {
	// SubscribeFailed: a SubscribeToShard call for the shard failed otherwise than by
	// throttling; it is retried until efo's subscribe failure limit (see
	// efo.WithSubscribeFailureLimit) ends the shard with efo.ErrRepeatedFailure.
	SubscribeFailed(stream, shardID string, err error)
}

// ShardEndMetrics is an optional extension of Metrics: a Metrics that also implements it
// hears of closed shards held at their end.
type ShardEndMetrics interface {
	// ShardEndHeld: the reader took the last batch of a closed shard waited ago, and has not
	// checkpointed it (nor every record before it), so the shard's children cannot start.
	// Reported every Config.ShardEndWarnAfter until the shard finishes.
	ShardEndHeld(stream, shardID string, waited time.Duration)
}

// NoMetrics discards every measurement.
type NoMetrics struct{}

func (NoMetrics) BatchDelivered(string, string, int, int64)         {}
func (NoMetrics) LeaseAcquired(string, string)                      {}
func (NoMetrics) LeaseLost(string, string, string)                  {}
func (NoMetrics) Checkpointed(string, string, time.Duration, error) {}
func (NoMetrics) Throttled(string, string, string)                  {}
func (NoMetrics) SubscribeFailed(string, string, error)             {}
func (NoMetrics) ShardEndHeld(string, string, time.Duration)        {}

// pollingMetrics passes a polling reader's throttling on.
type pollingMetrics struct {
	m      Metrics
	stream string
}

func (p pollingMetrics) OnGetRecords(string, int, int, int64, time.Duration) {}
func (p pollingMetrics) OnThrottle(shardID string)                           { p.m.Throttled(p.stream, shardID, "GetRecords") }

// efoMetrics passes refused subscriptions on as throttling, and other failures as such.
type efoMetrics struct {
	m      Metrics
	stream string
}

func (e efoMetrics) Subscribed(shardID string, err error) {
	var limit *types.LimitExceededException
	var inUse *types.ResourceInUseException
	switch {
	case errors.As(err, &limit) || errors.As(err, &inUse):
		e.m.Throttled(e.stream, shardID, "SubscribeToShard")
	case err != nil:
		if sm, ok := e.m.(SubscribeMetrics); ok {
			sm.SubscribeFailed(e.stream, shardID, err)
		}
	}
}
func (e efoMetrics) Delivered(string, int, int64)       {}
func (e efoMetrics) SessionEnded(string, efo.EndReason) {}
