package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// The stream faults act on successful SubscribeToShard answers (HTTP 200, an event
// stream) and let anything else through unchanged. They decode the emulator's messages one
// by one as the caller reads, pass the ones they keep on byte for byte, and start no
// goroutines. The initial-response message, which the caller sees first, passes untouched
// and is not counted as an event.

// CutStream passes AfterEvents SubscribeToShardEvent messages through, then ends the stream:
// cleanly (io.EOF, as when the service closes a subscription after 5 minutes) when Err is
// nil, otherwise with Err, e.g. ConnReset(nil) for a connection reset.
type CutStream struct {
	AfterEvents int
	Err         error
}

// HangStream passes AfterEvents SubscribeToShardEvent messages through, then goes silent
// without ending: a half-open connection. The emulator's side is closed; the caller's reads
// block until it closes the stream or the request's context is done.
type HangStream struct {
	AfterEvents int
}

// StreamException passes AfterEvents SubscribeToShardEvent messages through, then sends an
// exception message of type Type (e.g. "ResourceInUseException", "InternalFailureException")
// inside the stream, as the service does for errors after the subscription started, and
// ends the stream.
type StreamException struct {
	AfterEvents int
	Type        string
	Message     string // empty gives one naming the fault as injected
}

// Inject implements Fault.
func (f CutStream) Inject(_ Call, req *http.Request, next http.RoundTripper) (*http.Response, error) {
	end := f.Err
	if end == nil {
		end = io.EOF
	}
	return relay(req, next, &countingStep{after: f.AfterEvents, end: func(*bytes.Buffer) error { return end }})
}

// Inject implements Fault.
func (f HangStream) Inject(_ Call, req *http.Request, next http.RoundTripper) (*http.Response, error) {
	return relay(req, next, &countingStep{after: f.AfterEvents, end: func(*bytes.Buffer) error { return errHang }})
}

// Inject implements Fault.
func (f StreamException) Inject(_ Call, req *http.Request, next http.RoundTripper) (*http.Response, error) {
	msg := f.Message
	if msg == "" {
		msg = f.Type + " (injected by internal/faults)"
	}
	payload, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	exception := eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":message-type", Value: eventstream.StringValue("exception")},
			{Name: ":exception-type", Value: eventstream.StringValue(f.Type)},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
		},
		Payload: payload,
	}
	return relay(req, next, &countingStep{after: f.AfterEvents, end: func(out *bytes.Buffer) error {
		if err := eventstream.NewEncoder().Encode(out, exception); err != nil {
			return fmt.Errorf("faults: encode the injected exception: %w", err)
		}
		return io.EOF
	}})
}

// String names the fault in Call.Fault.
func (f CutStream) String() string {
	if f.Err == nil {
		return fmt.Sprintf("cut stream after %d events", f.AfterEvents)
	}
	return fmt.Sprintf("cut stream after %d events with %v", f.AfterEvents, f.Err)
}

// String names the fault in Call.Fault.
func (f HangStream) String() string { return fmt.Sprintf("hang stream after %d events", f.AfterEvents) }

// String names the fault in Call.Fault.
func (f StreamException) String() string {
	return fmt.Sprintf("%s in stream after %d events", f.Type, f.AfterEvents)
}

// errHang marks the end of a stream that goes silent instead of ending.
var errHang = errors.New("faults: stream hangs")

// errReadAfterClose is what reading a closed, hung stream gives, as net/http gives an error
// for reads on a closed response body.
var errReadAfterClose = errors.New("faults: read on closed response body")

// step decides, message by message, what the caller gets: it writes the bytes the caller is
// to read next to out and returns a non-nil error to end the stream after them (io.EOF for a
// clean end, errHang to go silent).
type step interface {
	message(m eventstream.Message, raw []byte, out *bytes.Buffer) error
}

// relay forwards req and, when the answer is an event stream, hands its messages to s.
func relay(req *http.Request, next http.RoundTripper, s step) (*http.Response, error) {
	ctx := req.Context()
	resp, err := next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/vnd.amazon.eventstream") {
		return resp, err
	}
	// The caller reads different bytes from the emulator's: its length no longer holds.
	resp.ContentLength = -1
	resp.Header.Del("Content-Length")
	resp.Body = &relayBody{
		ctx:    ctx,
		src:    resp.Body,
		in:     bufio.NewReader(resp.Body),
		dec:    eventstream.NewDecoder(),
		step:   s,
		closed: make(chan struct{}),
	}
	return resp, nil
}

// relayBody is the caller's view of an event stream with a step in the middle.
type relayBody struct {
	ctx  context.Context
	src  io.ReadCloser
	in   *bufio.Reader
	dec  *eventstream.Decoder
	step step

	// Only Read touches these.
	raw bytes.Buffer // the message being decoded, byte for byte
	out bytes.Buffer // what the caller reads next
	end error        // once out is drained: io.EOF, errHang or another error
	// opaque: the stream stopped making sense; the rest passes through unread.
	opaque bool

	closed    chan struct{}
	closeOnce sync.Once
	srcOnce   sync.Once
}

func (b *relayBody) Read(p []byte) (int, error) {
	for b.out.Len() == 0 {
		switch {
		case b.opaque:
			return b.in.Read(p)
		case b.end == errHang:
			select {
			case <-b.closed:
				return 0, errReadAfterClose
			case <-b.ctx.Done():
				return 0, b.ctx.Err()
			}
		case b.end != nil:
			return 0, b.end
		}
		b.next()
	}
	return b.out.Read(p)
}

// next decodes the emulator's next message and lets the step decide what the caller gets.
func (b *relayBody) next() {
	b.raw.Reset()
	m, err := b.dec.Decode(io.TeeReader(b.in, &b.raw), nil)
	switch {
	case err != nil && b.raw.Len() == 0:
		// The emulator's stream ended (io.EOF) or broke between messages.
		b.end = err
	case err != nil:
		// Something this relay cannot read: the caller gets it byte for byte, and the rest
		// of the stream as it comes, and its SDK judges it.
		b.out.Write(b.raw.Bytes())
		b.opaque = true
	default:
		if end := b.step.message(m, b.raw.Bytes(), &b.out); end != nil {
			b.end = end
			b.closeSrc() // the emulator's side of the subscription ends here
		}
	}
}

func (b *relayBody) Close() error {
	b.closeOnce.Do(func() { close(b.closed) })
	b.closeSrc()
	return nil
}

func (b *relayBody) closeSrc() { b.srcOnce.Do(func() { b.src.Close() }) }

func eventType(m eventstream.Message) string {
	if v := m.Headers.Get(":message-type"); v == nil || v.String() != "event" {
		return ""
	}
	if v := m.Headers.Get(":event-type"); v != nil {
		return v.String()
	}
	return ""
}

// countingStep passes `after` SubscribeToShardEvent messages, then ends the stream with
// what end writes and returns.
type countingStep struct {
	after, passed int
	end           func(out *bytes.Buffer) error
}

func (s *countingStep) message(m eventstream.Message, raw []byte, out *bytes.Buffer) error {
	switch eventType(m) {
	case "initial-response":
		out.Write(raw)
		if s.after <= 0 {
			return s.end(out)
		}
	case "SubscribeToShardEvent":
		if s.passed >= s.after {
			return s.end(out)
		}
		out.Write(raw)
		s.passed++
		if s.passed == s.after {
			return s.end(out)
		}
	default:
		out.Write(raw)
	}
	return nil
}
