package faults_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
)

// TestStall shows a stall holds a call for its duration, gives up with the caller's
// deadline, and (BeforeRequest) keeps a given-up request from the emulator or (default) not.
func TestStall(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)

	t.Run("HoldsTheAnswer", func(t *testing.T) {
		inj := faults.New()
		client := env.NewKinesis(inj.Wrap, noRetries)
		inj.Add(faults.Rule{Op: "ListShards", Fault: faults.Stall{For: 300 * time.Millisecond}})
		start := time.Now()
		if _, err := client.ListShards(t.Context(), &kinesis.ListShardsInput{StreamName: aws.String(stream.Name)}); err != nil {
			t.Fatalf("ListShards: %v", err)
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("answered after %v, want at least the 300ms stall", d)
		}
	})

	tests := map[string]struct {
		stall  faults.Stall
		stored int
	}{
		"ResponseHeld": {faults.Stall{For: time.Minute}, 1},
		"RequestHeld":  {faults.Stall{For: time.Minute, BeforeRequest: true}, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			inj := faults.New()
			client := env.NewKinesis(inj.Wrap, noRetries)
			inj.Add(faults.Rule{Op: "PutRecord", Fault: tc.stall})
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := putRecord(ctx, client, stream.Name, name)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("PutRecord: got %v, want context.DeadlineExceeded", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("gave up after %v, long after the 200ms deadline", d)
			}
			if n := countData(t, env, stream, name); n != tc.stored {
				t.Errorf("record stored %d times, want %d", n, tc.stored)
			}
		})
	}
}
