package checkpointer_test

import (
	"context"
	"testing"
	"time"

	"github.com/kclgo/kcl/checkpointer"
)

// The write observer hears of each write sent to the Writer once (retries included), and of
// nothing else: not of records processed below the strategy's count, nor of checkpoints at or
// behind the last one, nor of refusals.
func TestWriteObserverSeesRealWritesOnly(t *testing.T) {
	w := &recordingWriter{fail: func(call int) error {
		if call == 2 {
			return throttle("ThrottlingException") // retried: still one write
		}
		return nil
	}}
	var observed []checkpointer.ExtendedSequenceNumber
	cp := newCP(t, w, checkpointer.TrimHorizon,
		checkpointer.WithStrategy(checkpointer.EveryRecords(10)),
		checkpointer.WithThrottleBackoff(time.Millisecond, time.Millisecond),
		checkpointer.WithWriteObserver(func(p checkpointer.ExtendedSequenceNumber, _ time.Duration, err error) {
			if err != nil {
				t.Errorf("observed a failed write at %v: %v", p, err)
			}
			observed = append(observed, p)
		}))
	ctx := context.Background()
	for i := 1; i <= 31; i++ {
		if err := cp.Delivered(seq(t, i)); err != nil {
			t.Fatal(err)
		}
		if err := cp.Processed(ctx, seq(t, i), 1); err != nil {
			t.Fatalf("Processed %d: %v", i, err)
		}
	}
	_ = cp.CheckpointAt(ctx, seq(t, 5))  // behind: refused
	_ = cp.CheckpointAt(ctx, seq(t, 30)) // the last one again: nothing to write
	_ = cp.CheckpointAt(ctx, seq(t, 99)) // beyond what was delivered: refused
	calls, written := w.snapshot()
	if len(observed) != len(written) || len(written) != 3 {
		t.Errorf("observed %d writes %v; the writer got %d calls and kept %v (want 3 writes)", len(observed), observed, calls, written)
	}
}
