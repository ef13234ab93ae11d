package efo

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// Consumer is a registered enhanced fan-out consumer of one stream. It opens subscriptions
// and spaces their SubscribeToShard calls. It holds no goroutines and needs no closing;
// stopping it never deregisters the consumer (see DeregisterConsumer).
type Consumer struct {
	arn       string
	streamARN string
	name      string
	cfg       config
	subscribe subscribeFunc
	limiter   *shardLimiter
	warnHTTP1 sync.Once
}

// NewConsumerFromARN returns a Consumer for a consumer that is already registered and
// ACTIVE, without calling Kinesis.
func NewConsumerFromARN(api SubscribeAPI, consumerARN string, opts ...Option) (*Consumer, error) {
	if api == nil {
		return nil, fmt.Errorf("efo: NewConsumerFromARN: nil SubscribeAPI")
	}
	streamARN, name, ok := splitConsumerARN(consumerARN)
	if !ok {
		return nil, fmt.Errorf("efo: NewConsumerFromARN: %q is not a consumer ARN (arn:...:stream/NAME/consumer/NAME:TIMESTAMP)", consumerARN)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return newConsumer(sdkSubscribe(api), consumerARN, streamARN, name, cfg), nil
}

func newConsumer(subscribe subscribeFunc, arn, streamARN, name string, cfg config) *Consumer {
	return &Consumer{
		arn:       arn,
		streamARN: streamARN,
		name:      name,
		cfg:       cfg,
		subscribe: subscribe,
		limiter:   newShardLimiter(subscribeInterval),
	}
}

// ARN is the consumer's ARN.
func (c *Consumer) ARN() string { return c.arn }

// StreamARN is the ARN of the consumer's stream.
func (c *Consumer) StreamARN() string { return c.streamARN }

// Name is the consumer's name.
func (c *Consumer) Name() string { return c.name }

// Subscribe starts reading shardID at start. The subscription runs until the shard ends,
// ctx ends, Close is called or a permanent error happens; then Batches is closed and Err
// says why.
func (c *Consumer) Subscribe(ctx context.Context, shardID string, start StartPosition) (*Subscription, error) {
	if shardID == "" {
		return nil, fmt.Errorf("efo: Subscribe: empty shard id")
	}
	if err := start.validate(); err != nil {
		return nil, fmt.Errorf("efo: Subscribe %s: start position: %w", shardID, err)
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	s := &Subscription{
		c:       c,
		shardID: shardID,
		log:     c.cfg.logger.With("shard", shardID, "consumer", c.name),
		batches: make(chan Batch, c.cfg.bufferSize),
		cancel:  cancel,
	}
	s.wg.Add(1)
	go s.run(ctx, start)
	return s, nil
}

// warnIfNotHTTP2 logs once per consumer when a subscription to an https endpoint did not
// come back over HTTP/2: real Kinesis serves SubscribeToShard over HTTP/2 only.
func (c *Consumer) warnIfNotHTTP2(info transportInfo) {
	if !info.https || info.protoMajor == 0 || info.protoMajor == 2 {
		return
	}
	c.warnHTTP1.Do(func() {
		c.cfg.logger.Warn("efo: SubscribeToShard answered over HTTP/1; Kinesis needs HTTP/2: "+
			"build the client's HTTP client with efo.NewHTTPClient or set ForceAttemptHTTP2",
			"proto_major", info.protoMajor)
	})
}

// splitConsumerARN takes arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME/consumer/NAME:TIMESTAMP
// apart into the stream's ARN and the consumer's name.
func splitConsumerARN(arn string) (streamARN, name string, ok bool) {
	if !strings.HasPrefix(arn, "arn:") {
		return "", "", false
	}
	streamARN, rest, found := strings.Cut(arn, "/consumer/")
	if !found || !strings.Contains(streamARN, ":stream/") {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 {
		return "", "", false
	}
	return streamARN, rest[:i], true
}
