package efo

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
)

// eventStream is what a subscription reads; *kinesis.SubscribeToShardEventStream is one.
type eventStream interface {
	Events() <-chan types.SubscribeToShardEventStream
	Close() error
	Err() error
}

// transportInfo is what a subscription learnt about the HTTP exchange that opened it.
type transportInfo struct {
	protoMajor int  // 0 when unknown
	https      bool // the request went to an https endpoint
}

// subscribeFunc opens one event stream. Tests of pure timing logic swap in a scripted one.
type subscribeFunc func(ctx context.Context, in *kinesis.SubscribeToShardInput) (eventStream, transportInfo, error)

// sdkSubscribe calls api.SubscribeToShard with the per-call options every subscription needs.
func sdkSubscribe(api SubscribeAPI) subscribeFunc {
	return func(ctx context.Context, in *kinesis.SubscribeToShardInput) (eventStream, transportInfo, error) {
		out, err := api.SubscribeToShard(ctx, in, subscribeCallOptions)
		if err != nil {
			return nil, transportInfo{}, err
		}
		es := out.GetStream()
		if es == nil {
			return nil, transportInfo{}, errors.New("SubscribeToShard returned no event stream")
		}
		var info transportInfo
		if resp, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok && resp.Response != nil {
			info.protoMajor = resp.ProtoMajor
			info.https = resp.Request != nil && resp.Request.URL != nil && resp.Request.URL.Scheme == "https"
		}
		return es, info, nil
	}
}

// subscribeCallOptions adjusts the client's options for one SubscribeToShard call:
//   - the retryer is off: the subscription paces its own calls (1 per second per shard)
//     and retries after its own backoff;
//   - the call gets its own JSON protocol instance: the event stream codec inside the
//     client's shared instance keeps scratch state that concurrent streams race on
//     (aws/smithy-go#714). A protocol the user set themselves is left alone.
func subscribeCallOptions(o *kinesis.Options) {
	o.Retryer = aws.NopRetryer{}
	PerCallCodec(o)
}

// PerCallCodec is an option for a plain SDK SubscribeToShard call (client.SubscribeToShard(ctx,
// in, efo.PerCallCodec)): it gives the call its own JSON protocol instance. The event stream
// codec inside the client's shared instance keeps scratch state that concurrent streams
// race on (aws/smithy-go#714), so any SDK loop reading several shards at once over one
// client needs it; kcl's own subscriptions use it. A protocol the user set is left alone.
func PerCallCodec(o *kinesis.Options) {
	if _, ok := o.Protocol.(*awsjson.Protocol); ok {
		o.Protocol = awsjson.New11(schemas.Kinesis_20131202)
	}
}
