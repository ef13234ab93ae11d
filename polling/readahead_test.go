package polling

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
)

func TestReadAheadWaitsForRoom(t *testing.T) {
	tests := map[string]struct {
		maxBatches int
		maxBytes   int64
		hold       []int // bytes of the batches held before waiting
		release    int   // bytes of the one released: room again
	}{
		"batches bound":               {3, 1 << 20, []int{10, 10, 10}, 10},
		"bytes bound":                 {100, 100, []int{60, 50}, 60},
		"one response over the bound": {100, 100, []int{500}, 500},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ra := newReadAhead(tc.maxBatches, tc.maxBytes)
				for _, b := range tc.hold {
					if !ra.hasRoom() {
						t.Fatalf("no room before holding %v", tc.hold)
					}
					ra.hold(b)
				}
				done := make(chan error)
				go func() { done <- ra.waitRoom(t.Context()) }()
				synctest.Wait()
				select {
				case err := <-done:
					t.Fatalf("waitRoom returned %v with the read-ahead full", err)
				default:
				}
				ra.release(tc.release)
				if err := <-done; err != nil {
					t.Fatalf("waitRoom after a release: %v", err)
				}
			})
		})
	}
}

func TestReadAheadWaitEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ra := newReadAhead(1, 1<<20)
		ra.hold(1)
		cause := errors.New("stop")
		ctx, cancel := context.WithCancelCause(t.Context())
		done := make(chan error)
		go func() { done <- ra.waitRoom(ctx) }()
		synctest.Wait()
		cancel(cause)
		if err := <-done; !errors.Is(err, cause) {
			t.Fatalf("waitRoom after cancel: %v, want %v", err, cause)
		}
	})
}
