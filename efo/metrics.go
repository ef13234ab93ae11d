package efo

// Metrics receives what subscriptions do. Implementations must be safe for concurrent use
// and quick: they are called on the subscriptions' goroutines.
type Metrics interface {
	// Subscribed is called after every SubscribeToShard call; err is nil when the event
	// stream opened.
	Subscribed(shardID string, err error)
	// Delivered is called when the consumer took a batch.
	Delivered(shardID string, records int, millisBehindLatest int64)
	// SessionEnded is called when an open event stream ended, with why.
	SessionEnded(shardID string, reason EndReason)
}

// EndReason says why an event stream ended.
type EndReason string

// Reasons an event stream ends.
const (
	EndCompleted EndReason = "completed" // the server ended it cleanly (5-minute limit or close)
	EndIdle      EndReason = "idle"      // no event within the idle timeout
	EndError     EndReason = "error"     // a retryable error: reset, ResourceInUse, ...
	EndShardEnd  EndReason = "shard-end" // the shard is closed and fully read
	EndFailed    EndReason = "failed"    // a permanent error
	EndCancelled EndReason = "cancelled" // the subscription's context ended or Close was called
)

type nopMetrics struct{}

func (nopMetrics) Subscribed(string, error)       {}
func (nopMetrics) Delivered(string, int, int64)   {}
func (nopMetrics) SessionEnded(string, EndReason) {}
