package efo

import (
	"net/http"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// HTTP/2 settings of NewHTTPClient.
const (
	// http2StreamWindow is the flow-control window of one subscription: what the transport
	// buffers for a consumer that does not take. 1 MiB carries a shard's 2 MiB/s at any
	// round-trip time under 500 ms; Go's default (4 MiB) would hold four times as much per
	// stalled shard.
	http2StreamWindow = 1 << 20
	// A connection silent this long gets a ping; one that does not answer within
	// http2PingTimeout is closed, so a dead connection is noticed even while the
	// subscriptions on it wait for their consumers.
	http2SendPingTimeout = 30 * time.Second
	http2PingTimeout     = 15 * time.Second
)

// NewHTTPClient returns the SDK's buildable HTTP client, set up for SubscribeToShard: HTTP/2
// over TLS (ForceAttemptHTTP2, negotiated with ALPN; Kinesis serves SubscribeToShard over
// HTTP/2 only), a 1 MiB flow-control window per subscription, and pings that find a dead
// connection. Everything else is the SDK's default. optFns run after these settings.
//
//	client := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.HTTPClient = efo.NewHTTPClient() })
func NewHTTPClient(optFns ...func(*http.Transport)) *awshttp.BuildableClient {
	opts := append([]func(*http.Transport){configureHTTP2}, optFns...)
	return awshttp.NewBuildableClient().WithTransportOptions(opts...)
}

// configureHTTP2 makes tr try HTTP/2 and sets the HTTP/2 limits above.
func configureHTTP2(tr *http.Transport) {
	tr.ForceAttemptHTTP2 = true
	var h2 http.HTTP2Config // a copy: a cloned transport shares its HTTP2 config
	if tr.HTTP2 != nil {
		h2 = *tr.HTTP2
	}
	h2.MaxReceiveBufferPerStream = http2StreamWindow
	h2.SendPingTimeout = http2SendPingTimeout
	h2.PingTimeout = http2PingTimeout
	tr.HTTP2 = &h2
}
