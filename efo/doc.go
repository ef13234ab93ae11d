// Package efo reads Kinesis shards with enhanced fan-out: it registers (or finds) the stream's
// consumer and keeps one SubscribeToShard subscription per shard, handing on the records
// Kinesis pushes, in order, with their metadata.
//
// # Registration
//
// [NewConsumer] finds the named consumer on the stream or registers it, waits until it is
// ACTIVE and remembers its ARN. Many workers may call it at once: they describe before they
// register, a lost registration race (ResourceInUseException) turns into a describe, and
// throttling (LimitExceededException, RegisterStreamConsumer's 5 TPS and
// DescribeStreamConsumer's 20 TPS) is retried with jitter. Nothing in this package ever
// deregisters a consumer except [DeregisterConsumer], which a user calls on purpose.
//
// # Subscriptions
//
// [Consumer.Subscribe] starts a [Subscription] for one shard at a [StartPosition]. It
// subscribes, hands each event on as a [Batch] through a bounded channel, and resubscribes
// from the last ContinuationSequenceNumber (AFTER_SEQUENCE_NUMBER) whenever a subscription
// ends: the 5-minute limit, a close by the server, a reset connection, or an event stream
// that stayed silent longer than the idle timeout (Kinesis sends events on idle shards too).
// It never calls SubscribeToShard more than once a second for a shard, and waits out
// ResourceInUseException with jittered backoff. A subscription started at LATEST pins its
// position at once: a retry before the first event starts AT_TIMESTAMP of the first call
// less a second (room for a client clock ahead of Kinesis's, so such a retry may deliver
// records put up to a second before the call), and after it AFTER its continuation, so a
// resubscribe never jumps ahead to a newer LATEST.
//
// The position only advances with events that entered the channel: when the consumer stops
// taking, the subscription stops reading the event stream, so HTTP flow control holds the
// rest at the server and memory stays bounded; a resubscribe starts right after the last
// event handed on, so no record is skipped or repeated.
//
// The final event of a closed shard (no continuation, ChildShards set) is handed on as a
// Batch with ShardEnd, and the subscription ends with a nil [Subscription.Err]. Permanent
// failures (consumer, stream or shard gone, access denied, invalid argument) end it with a
// [*ShardError]. So does a failure that repeats: when every subscribe of the shard fails the
// same way, delivering nothing, it is logged at error level at the third, and after
// [DefaultSubscribeFailureLimit] in a row ([WithSubscribeFailureLimit]) the subscription ends
// with [ErrRepeatedFailure] rather than retrying silently for ever.
//
// # HTTP/2
//
// Kinesis serves SubscribeToShard over HTTP/2 only. The SDK's default HTTP client
// (awshttp.NewBuildableClient, what kinesis.NewFromConfig uses unless told otherwise) sets
// ForceAttemptHTTP2 and negotiates h2 through TLS ALPN, so a client built with defaults is
// right. A client built on a custom *http.Transport must set ForceAttemptHTTP2 (or
// Protocols with HTTP2) itself, or SubscribeToShard fails against real Kinesis; [NewHTTPClient]
// builds the SDK's client with HTTP/2 and connection health checks (pings) for you:
//
//	client := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
//		o.HTTPClient = efo.NewHTTPClient()
//	})
//
// A subscription that comes back over HTTP/1 from an https endpoint is logged as a warning.
//
// Two details of aws-sdk-go-v2 are handled inside: each SubscribeToShard call gets its own
// event stream codec (the client's shared one is not safe for concurrent streams, see
// aws/smithy-go#714), and the SDK's retryer is switched off for SubscribeToShard so that this
// package alone paces the calls.
package efo
