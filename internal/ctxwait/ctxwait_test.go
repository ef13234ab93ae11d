package ctxwait

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestSleep(t *testing.T) {
	cause := errors.New("stopped")
	for name, tc := range map[string]struct {
		d      time.Duration
		cancel time.Duration // cancel the context after this; 0: never
		want   error
		took   time.Duration
	}{
		"whole duration":  {d: time.Second, want: nil, took: time.Second},
		"cancelled first": {d: time.Hour, cancel: time.Second, want: cause, took: time.Second},
		"zero, live":      {d: 0, want: nil, took: 0},
		"negative, live":  {d: -time.Second, want: nil, took: 0},
		"zero, ended":     {d: 0, cancel: -1, want: cause, took: 0},
		"duration, ended": {d: time.Minute, cancel: -1, want: cause, took: 0},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancelCause(t.Context())
				switch {
				case tc.cancel < 0:
					cancel(cause)
				case tc.cancel > 0:
					time.AfterFunc(tc.cancel, func() { cancel(cause) })
				}
				start := time.Now()
				err := Sleep(ctx, tc.d)
				if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
					t.Fatalf("Sleep: %v, want %v", err, tc.want)
				}
				if took := time.Since(start); took != tc.took {
					t.Fatalf("Sleep took %v, want %v", took, tc.took)
				}
				cancel(nil)
			})
		})
	}
}
