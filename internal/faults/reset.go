package faults

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"syscall"
)

// ResetPoint is where a Reset cuts the connection.
type ResetPoint int

const (
	// BeforeRequest: the request never reaches the emulator.
	BeforeRequest ResetPoint = iota
	// AfterResponse: the emulator handled the request, its response is lost on the way back.
	// This is the case that makes retries of non-idempotent calls interesting.
	AfterResponse
	// MidBody: the response's status and headers arrive, its body breaks off after AfterBytes bytes.
	MidBody
)

// Reset imitates a TCP reset. The caller gets the error net/http gives for one: a
// *net.OpError wrapping syscall.ECONNRESET ("connection reset by peer"), so
// errors.Is(err, syscall.ECONNRESET) holds and the SDK's retryer treats it as it treats a
// real reset.
type Reset struct {
	At ResetPoint
	// AfterBytes is how much of the body arrives before a MidBody reset. A body shorter than
	// that arrives whole, and the reset takes the place of its end.
	AfterBytes int
}

// ResetBefore resets the connection before the request reaches the emulator.
func ResetBefore() Reset { return Reset{At: BeforeRequest} }

// ResetAfter lets the emulator handle the request and resets the connection before the
// response reaches the caller.
func ResetAfter() Reset { return Reset{At: AfterResponse} }

// ResetMidBody resets the connection after n bytes of the response body.
func ResetMidBody(n int) Reset { return Reset{At: MidBody, AfterBytes: n} }

// ConnReset returns the error a read from a connection the peer reset gives, for req's host
// when req is not nil.
func ConnReset(req *http.Request) error {
	var addr net.Addr
	if req != nil && req.URL != nil {
		if ap, err := netip.ParseAddrPort(req.URL.Host); err == nil {
			addr = net.TCPAddrFromAddrPort(ap)
		}
	}
	return &net.OpError{Op: "read", Net: "tcp", Addr: addr, Err: os.NewSyscallError("read", syscall.ECONNRESET)}
}

// Inject implements Fault.
func (r Reset) Inject(_ Call, req *http.Request, next http.RoundTripper) (*http.Response, error) {
	if r.At == BeforeRequest {
		closeBody(req)
		return nil, ConnReset(req)
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if r.At == AfterResponse {
		resp.Body.Close()
		return nil, ConnReset(req)
	}
	resp.Body = &cutBody{src: resp.Body, left: int64(max(r.AfterBytes, 0)), err: ConnReset(req)}
	return resp, nil
}

// String names the fault in Call.Fault.
func (r Reset) String() string {
	switch r.At {
	case BeforeRequest:
		return "reset before request"
	case AfterResponse:
		return "reset after response"
	default:
		return fmt.Sprintf("reset after %d body bytes", r.AfterBytes)
	}
}

// cutBody passes the first left bytes of src, then fails every read with err.
type cutBody struct {
	src  io.ReadCloser
	left int64
	err  error
	once sync.Once
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		b.cut()
		return 0, b.err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.src.Read(p)
	b.left -= int64(n)
	if err == io.EOF {
		// The body ended before the cut: the reset takes the place of the clean end.
		b.left = 0
		err = nil
	}
	return n, err
}

func (b *cutBody) cut() { b.once.Do(func() { b.src.Close() }) }

func (b *cutBody) Close() error {
	b.cut()
	return nil
}
