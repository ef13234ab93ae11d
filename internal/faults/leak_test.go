package faults_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
)

// TestNoGoroutineLeftInFaults runs the faults that block (a hung stream, a stall, a cut
// stream) to their ends and shows no goroutine is left inside this package. It does not
// call t.Parallel, so no other test of the package runs meanwhile.
func TestNoGoroutineLeftInFaults(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	shardID := aws.ToString(stream.Shards(t)[0].ShardId)
	consumer := stream.RegisterConsumer(t)
	inj := faults.New()
	client := env.NewKinesis(inj.Wrap, noRetries)

	// A hung stream, abandoned by closing it.
	inj.Add(faults.Rule{Op: "SubscribeToShard", Times: 1, Fault: faults.HangStream{AfterEvents: 0}})
	ctx := testenv.WithTimeout(t, 20*time.Second)
	es := subscribe(ctx, t, client, consumer, shardID)
	waitInFaults(t, true) // the SDK's reader is blocked in the hung body
	es.Close()

	// A stall given up by its caller.
	inj.Add(faults.Rule{Op: "ListShards", Times: 1, Fault: faults.Stall{For: time.Minute}})
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := client.ListShards(short, &kinesis.ListShardsInput{StreamName: aws.String(stream.Name)}); err == nil {
		t.Fatal("a stalled ListShards succeeded before its deadline")
	}

	waitInFaults(t, false)
}

// waitInFaults waits until some goroutine is (want) or none is (!want) inside package faults.
func waitInFaults(t *testing.T, want bool) {
	t.Helper()
	var stacks string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if strings.Contains(stacks, "kcl/internal/faults.") == want {
			return
		}
	}
	if want {
		t.Fatal("no goroutine ever entered package faults")
	}
	t.Fatalf("goroutines left inside package faults:\n%s", stacks)
}
