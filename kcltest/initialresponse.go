package kcltest

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// subscribeTarget is the X-Amz-Target of SubscribeToShard in Kinesis's JSON 1.1 protocol.
const subscribeTarget = "Kinesis_20131202.SubscribeToShard"

// initialResponse is the encoded event stream message the SDK expects first.
var initialResponse = mustEncode(eventstream.Message{
	Headers: eventstream.Headers{
		{Name: ":message-type", Value: eventstream.StringValue("event")},
		{Name: ":event-type", Value: eventstream.StringValue("initial-response")},
		{Name: ":content-type", Value: eventstream.StringValue("application/json")},
	},
	Payload: []byte("{}"),
})

func mustEncode(m eventstream.Message) []byte {
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, m); err != nil {
		// Encoding a fixed, valid message cannot fail; a failure here is a broken SDK.
		panic("kcltest: encode initial-response: " + err.Error())
	}
	return buf.Bytes()
}

// InitialResponseTransport puts the initial-response event that kinesis-local 0.6.2 omits in
// front of every successful SubscribeToShard response, so that aws-sdk-go-v2 reads its event
// streams; every other byte comes from the emulator unchanged. Real Kinesis sends that event
// itself: never use this transport against AWS.
type InitialResponseTransport struct {
	// Base carries the requests; http.DefaultTransport when nil.
	Base http.RoundTripper
}

// WithInitialResponse returns an InitialResponseTransport around base (http.DefaultTransport
// when nil).
func WithInitialResponse(base http.RoundTripper) http.RoundTripper {
	return &InitialResponseTransport{Base: base}
}

// RoundTrip implements http.RoundTripper.
func (t *InitialResponseTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || !isSubscribeToShard(req) {
		return resp, err
	}
	resp.Body = &prefixedBody{Reader: io.MultiReader(bytes.NewReader(initialResponse), resp.Body), closer: resp.Body}
	resp.ContentLength = -1
	resp.Header.Del("Content-Length")
	return resp, nil
}

// isSubscribeToShard reports whether req is a SubscribeToShard call.
func isSubscribeToShard(req *http.Request) bool {
	return strings.EqualFold(req.Header.Get("X-Amz-Target"), subscribeTarget)
}

type prefixedBody struct {
	io.Reader
	closer io.Closer
}

func (b *prefixedBody) Close() error { return b.closer.Close() }
