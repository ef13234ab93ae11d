package checkpointer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kclgo/kcl/checkpointer"
)

// shardEndWriter also records shard ends.
type shardEndWriter struct {
	recordingWriter
	children [][]string
	failEnd  error
}

func (w *shardEndWriter) CheckpointShardEnd(_ context.Context, _ string, children []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failEnd != nil {
		err := w.failEnd
		w.failEnd = nil // once
		return err
	}
	w.children = append(w.children, children)
	return nil
}

func TestFinish(t *testing.T) {
	w := &shardEndWriter{failEnd: throttle("ThrottlingException")}
	cp := newCP(t, w, checkpointer.TrimHorizon, checkpointer.WithThrottleBackoff(time.Millisecond, 10*time.Millisecond))
	if err := cp.Delivered(seq(t, 5)); err != nil {
		t.Fatal(err)
	}
	if err := cp.Finish(t.Context(), []string{"shardId-000000000002"}); err != nil {
		t.Fatalf("Finish after one throttle: %v", err)
	}
	if len(w.children) != 1 || w.children[0][0] != "shardId-000000000002" {
		t.Fatalf("children written: %v", w.children)
	}
	if !cp.LastCheckpoint().IsShardEnd() {
		t.Fatalf("last checkpoint %v, want SHARD_END", cp.LastCheckpoint())
	}
	// Nothing may be written over SHARD_END; finishing again writes nothing.
	if err := cp.CheckpointAt(t.Context(), seq(t, 5)); !errors.Is(err, checkpointer.ErrCheckpointBackwards) {
		t.Fatalf("CheckpointAt after Finish: %v, want ErrCheckpointBackwards", err)
	}
	if err := cp.Finish(t.Context(), nil); err != nil || len(w.children) != 1 {
		t.Fatalf("second Finish: %v, %d writes", err, len(w.children))
	}
	if n, _ := w.snapshot(); n != 0 {
		t.Fatalf("%d plain checkpoint writes, want none", n)
	}
}

func TestFinishNeedsShardEndWriter(t *testing.T) {
	cp := newCP(t, &recordingWriter{}, checkpointer.TrimHorizon)
	if err := cp.Finish(t.Context(), nil); err == nil {
		t.Fatal("Finish through a Writer that cannot record a shard end succeeded")
	}
}

// TestNotAheadIsNoOp: what the application or a strategy asks for that is not past the
// last checkpoint writes nothing and is no error; only an explicit CheckpointAt backwards is.
func TestNotAheadIsNoOp(t *testing.T) {
	w := &recordingWriter{}
	cp := newCP(t, w, checkpointer.TrimHorizon, checkpointer.WithStrategy(checkpointer.EveryRecords(1)))
	ctx := t.Context()
	if err := cp.Checkpoint(ctx); err != nil {
		t.Fatalf("Checkpoint before any delivery: %v", err)
	}
	if err := cp.Delivered(seq(t, 9)); err != nil {
		t.Fatal(err)
	}
	if err := cp.CheckpointAt(ctx, seq(t, 9)); err != nil {
		t.Fatal(err)
	}
	// The strategy catches up with records the application already checkpointed past.
	if err := cp.Processed(ctx, seq(t, 3), 3); err != nil {
		t.Fatalf("Processed behind a manual checkpoint: %v", err)
	}
	if err := cp.Drain(ctx); err != nil {
		t.Fatalf("Drain behind a manual checkpoint: %v", err)
	}
	if n, written := w.snapshot(); n != 1 || written[0] != seq(t, 9) {
		t.Fatalf("writes %v, want only the manual one", written)
	}
	if err := cp.CheckpointAt(ctx, seq(t, 3)); !errors.Is(err, checkpointer.ErrCheckpointBackwards) {
		t.Fatalf("explicit CheckpointAt backwards: %v, want ErrCheckpointBackwards", err)
	}
}
