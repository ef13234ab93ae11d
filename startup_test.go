package kcl_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/kcltest"
)

// TestStartFailsFast: a missing stream, a denied call or an unreachable endpoint at start
// ends Run within seconds with a *kcl.StartError that unwraps to the SDK's error, and no
// lease table is left behind.
func TestStartFailsFast(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	for name, tc := range map[string]struct {
		change   func(t *testing.T, cfg *kcl.Config, inj *faults.Injector)
		resource string
		sdkErr   func(error) bool
	}{
		"missing stream": {
			change: func(t *testing.T, cfg *kcl.Config, _ *faults.Injector) {
				cfg.Stream = testenv.UniqueName(t, "nostream")
			},
			resource: "stream",
			sdkErr:   func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) },
		},
		"stream access denied": {
			change: func(t *testing.T, _ *kcl.Config, inj *faults.Injector) {
				inj.Add(faults.Rule{Op: "DescribeStreamSummary", Fault: faults.AccessDenied()})
			},
			resource: "stream",
			sdkErr:   func(err error) bool { var e *types.AccessDeniedException; return errors.As(err, &e) },
		},
		"unreachable endpoint": {
			change: func(t *testing.T, cfg *kcl.Config, _ *faults.Injector) {
				cfg.Kinesis = kcltest.NewKinesisClient(env.Config, "http://"+closedPort(t))
			},
			resource: "stream",
			sdkErr:   func(err error) bool { var e *net.OpError; return errors.As(err, &e) },
		},
		"consumer registration denied": {
			change: func(t *testing.T, _ *kcl.Config, inj *faults.Injector) {
				inj.Add(faults.Rule{Op: "DescribeStreamConsumer", Fault: faults.AccessDenied()})
				inj.Add(faults.Rule{Op: "RegisterStreamConsumer", Fault: faults.AccessDenied()})
			},
			resource: "enhanced fan-out consumer",
			sdkErr:   func(err error) bool { var e *types.AccessDeniedException; return errors.As(err, &e) },
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			stream := env.CreateStream(t, 1)
			inj := faults.New()
			table := env.LeaseTable(t)
			cfg := newConfig(t, env, stream, table)
			cfg.Kinesis = env.NewKinesis(inj.Wrap)
			tc.change(t, &cfg, inj)
			c := mustNew(t, cfg)
			// Generous for a loaded machine; the SDK's own retries of a refused connection
			// take about two seconds.
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			err := c.Run(ctx)
			var se *kcl.StartError
			if !errors.As(err, &se) || se.Resource != tc.resource || !tc.sdkErr(err) {
				t.Fatalf("Run = %v; want a *kcl.StartError for the %s wrapping the SDK's error", err, tc.resource)
			}
			if c.Err() != err {
				t.Fatalf("Err() = %v, Run returned %v", c.Err(), err)
			}
			_, derr := env.DynamoDB.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
			var nf *ddbtypes.ResourceNotFoundException
			if !errors.As(derr, &nf) {
				t.Fatalf("lease table %s: DescribeTable = %v; want it never created", table, derr)
			}
		})
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// subscribeFailures counts SubscribeFailed measurements.
type subscribeFailures struct {
	kcl.NoMetrics
	n atomic.Int64
}

func (m *subscribeFailures) SubscribeFailed(string, string, error) { m.n.Add(1) }

// TestEFOWithoutCompatibilityTransport is what a user gets who points the SDK's own client
// at kinesis-local: every SubscribeToShard fails. The shard must end with the reason and Run
// must fail with it, not return nil after logging at debug level.
func TestEFOWithoutCompatibilityTransport(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	stream.PutN(t, "unread", 5)
	cfg := newConfig(t, env, stream, env.LeaseTable(t))
	cfg.Kinesis = kinesis.NewFromConfig(env.Config, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(env.KinesisEndpoint) })
	metrics := &subscribeFailures{}
	cfg.Metrics = metrics
	const limit = 3
	cfg.EFOOptions = []efo.Option{efo.WithPollInterval(50 * time.Millisecond),
		efo.WithRetryBackoff(10*time.Millisecond, 20*time.Millisecond), efo.WithSubscribeFailureLimit(limit)}
	c := mustNew(t, cfg)
	ctx := testenv.WithTimeout(t, time.Minute)
	errc := runConsumer(t, ctx, c)
	shard, ok := <-c.Shards()
	if !ok {
		t.Fatalf("no shard: the consumer ended with %v", c.Err())
	}
	for b := range shard.Batches() {
		t.Fatalf("got a batch of %d records over a client that cannot read event streams", len(b.Records))
	}
	var shardErr *kcl.ShardError
	if err := shard.Err(); !errors.As(err, &shardErr) || !errors.Is(err, efo.ErrRepeatedFailure) {
		t.Fatalf("shard Err() = %v; want a *kcl.ShardError with efo.ErrRepeatedFailure", err)
	}
	for b, err := range shard.All() {
		if err == nil || !errors.Is(err, efo.ErrRepeatedFailure) {
			t.Fatalf("All yielded %v, %v after the failure; want the failure", b, err)
		}
	}
	if err := <-errc; !errors.Is(err, efo.ErrRepeatedFailure) {
		t.Fatalf("Run = %v; want the shard's failure", err)
	}
	if n := metrics.n.Load(); n != limit {
		t.Fatalf("SubscribeFailed reported %d times, want %d", n, limit)
	}
}

// logRecords keeps the level and message of every log record.
type logRecords struct {
	mu   sync.Mutex
	msgs []string
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.msgs = append(h.msgs, r.Level.String()+" "+r.Message)
	h.mu.Unlock()
	return nil
}
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecords) WithGroup(string) slog.Handler      { return h }

func (h *logRecords) count(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

// TestLeaseAcquisitionLoggedOnce: one info record per lease acquired.
func TestLeaseAcquisitionLoggedOnce(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	cfg := newConfig(t, env, stream, env.LeaseTable(t))
	cfg.Retrieval = kcl.Polling
	logs := &logRecords{}
	cfg.Logger = slog.New(logs)
	c := mustNew(t, cfg)
	runConsumer(t, testenv.WithTimeout(t, time.Minute), c)
	for range 2 {
		if _, ok := <-c.Shards(); !ok {
			t.Fatalf("no shard: the consumer ended with %v", c.Err())
		}
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := logs.count("INFO lease acquired"); n != 2 {
		t.Fatalf("%d info records of a lease acquired for 2 leases", n)
	}
}

// TestStreamAddressedAsGiven: ListShards names the stream as the user did, by name or by
// ARN (kinesalite refuses StreamARN; a cross-account consumer needs it).
func TestStreamAddressedAsGiven(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	for _, byARN := range []bool{false, true} {
		t.Run(map[bool]string{false: "name", true: "ARN"}[byARN], func(t *testing.T) {
			t.Parallel()
			stream := env.CreateStream(t, 1)
			inj := faults.New()
			cfg := newConfig(t, env, stream, env.LeaseTable(t))
			cfg.Retrieval = kcl.Polling
			cfg.Kinesis = env.NewKinesis(inj.Wrap)
			if byARN {
				cfg.Stream = stream.ARN
			}
			c := mustNew(t, cfg)
			runConsumer(t, testenv.WithTimeout(t, time.Minute), c)
			if _, ok := <-c.Shards(); !ok {
				t.Fatalf("no shard: the consumer ended with %v", c.Err())
			}
			calls := inj.Calls("ListShards")
			if len(calls) == 0 {
				t.Fatal("no ListShards call")
			}
			for _, call := range calls {
				var in struct{ StreamName, StreamARN, NextToken string }
				if err := json.Unmarshal(call.Body, &in); err != nil {
					t.Fatal(err)
				}
				if in.NextToken != "" {
					continue
				}
				if byARN && (in.StreamARN != stream.ARN || in.StreamName != "") ||
					!byARN && (in.StreamName != stream.Name || in.StreamARN != "") {
					t.Fatalf("ListShards %s; want the stream addressed by %s only", call.Body, map[bool]string{false: "name", true: "ARN"}[byARN])
				}
			}
		})
	}
}

// TestKinesaliteSmoke consumes a stream on kinesalite, a second Kinesis emulator (polling:
// it has no enhanced fan-out), and checkpoints and drains as on kinesis-local.
func TestKinesaliteSmoke(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	kl := env.Kinesalite(t)
	ctx := testenv.WithTimeout(t, time.Minute)
	name := testenv.UniqueName(t, "kl")
	if err := kcltest.CreateStream(ctx, kl, name, 2); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = kl.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
	})
	const n = 40
	want := map[string]bool{}
	for i := range n {
		data := "kl-" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + "-" + time.Now().Format("150405.000000000")
		if _, err := kl.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String(data), Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
		want[data] = true
	}
	cfg := kcl.Config{
		App: testenv.UniqueName(t, "app"), Stream: name, Kinesis: kl, DynamoDB: env.DynamoDB,
		LeaseTable: env.LeaseTable(t), Retrieval: kcl.Polling, InitialPosition: kcl.TrimHorizon,
		FailoverTime: 5 * time.Second, ShutdownTimeout: 10 * time.Second, Logger: testLogger(t),
	}
	c := mustNew(t, cfg)
	var (
		mu  sync.Mutex
		got = map[string]bool{}
		all = make(chan struct{})
	)
	err := c.Process(ctx, func(_ context.Context, b kcl.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range b.Records {
			if got[string(r.Data)] {
				t.Errorf("record %s delivered twice", r.Data)
			}
			got[string(r.Data)] = true
		}
		if len(got) == n {
			close(all)
			go c.Drain(ctx)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Process on kinesalite: %v", err)
	}
	select {
	case <-all:
	default:
		t.Fatalf("Process ended after %d of %d records", len(got), n)
	}
	for d := range want {
		if !got[d] {
			t.Fatalf("record %s missing", d)
		}
	}
}
