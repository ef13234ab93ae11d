package faults

import (
	"fmt"
	"net/http"
	"time"

	"github.com/kclgo/kcl/internal/ctxwait"
)

// Stall holds a call for For, or until the request's context is done, which then fails the
// call with the context's error as net/http does. It is how a caller's timeouts are tested.
type Stall struct {
	For time.Duration
	// BeforeRequest holds the request before it reaches the emulator, so a caller that gives
	// up leaves no trace there. False (the default) lets the emulator answer at once and holds
	// the answer: a caller that gives up never learns that the call took effect.
	BeforeRequest bool
}

// Inject implements Fault.
func (s Stall) Inject(_ Call, req *http.Request, next http.RoundTripper) (*http.Response, error) {
	ctx := req.Context()
	if s.BeforeRequest {
		if err := ctxwait.Sleep(ctx, s.For); err != nil {
			closeBody(req)
			return nil, err
		}
		return next.RoundTrip(req)
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if err := ctxwait.Sleep(ctx, s.For); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// String names the fault in Call.Fault.
func (s Stall) String() string {
	if s.BeforeRequest {
		return fmt.Sprintf("stall request %v", s.For)
	}
	return fmt.Sprintf("stall response %v", s.For)
}
