package efo_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/internal/faults"
	"github.com/kclgo/kcl/internal/testenv"
)

// opCounter counts successful (HTTP 200) calls per operation.
type opCounter struct {
	mu sync.Mutex
	ok map[string]int
}

func (c *opCounter) wrap(base http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		op := req.Header.Get("X-Amz-Target")
		op = op[strings.LastIndexByte(op, '.')+1:]
		resp, err := base.RoundTrip(req)
		if err == nil && resp.StatusCode == http.StatusOK {
			c.mu.Lock()
			if c.ok == nil {
				c.ok = make(map[string]int)
			}
			c.ok[op]++
			c.mu.Unlock()
		}
		return resp, err
	})
}

func (c *opCounter) get(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok[op]
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestNewConsumerConcurrentWorkers starts many workers, each with its own client, that all
// find-or-register the same consumer at once: they must all end with the same ARN of an
// ACTIVE consumer that was registered exactly once.
func TestNewConsumerConcurrentWorkers(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	const workers = 8
	var counter opCounter
	ctx := testenv.WithTimeout(t, 60*time.Second)
	arns := make([]string, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		client := env.NewKinesis(counter.wrap)
		name := stream.Name
		if i%2 == 1 {
			name = stream.ARN // half by name, half by ARN
		}
		wg.Go(func() {
			c, err := efo.NewConsumer(ctx, client, name, "shared", fast()...)
			errs[i] = err
			if err == nil {
				arns[i] = c.ARN()
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
		if arns[i] != arns[0] {
			t.Fatalf("worker %d got consumer %s, worker 0 got %s", i, arns[i], arns[0])
		}
	}
	if n := counter.get("RegisterStreamConsumer"); n != 1 {
		t.Fatalf("%d successful RegisterStreamConsumer calls, want 1", n)
	}
	out, err := env.Kinesis.ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: aws.String(stream.ARN)})
	if err != nil {
		t.Fatalf("ListStreamConsumers: %v", err)
	}
	if len(out.Consumers) != 1 || aws.ToString(out.Consumers[0].ConsumerARN) != arns[0] ||
		out.Consumers[0].ConsumerStatus != types.ConsumerStatusActive {
		t.Fatalf("stream's consumers: %+v, want one ACTIVE %s", out.Consumers, arns[0])
	}
}

// TestNewConsumerFindsExistingAndDeregister: a second NewConsumer finds the consumer without
// registering; only DeregisterConsumer removes it, and deregistering a missing one is fine.
func TestNewConsumerFindsExistingAndDeregister(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	ctx := testenv.WithTimeout(t, 60*time.Second)
	first, err := efo.NewConsumer(ctx, env.Kinesis, stream.Name, "app", fast()...)
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	if first.Name() != "app" || first.StreamARN() != stream.ARN || !strings.HasPrefix(first.ARN(), stream.ARN+"/consumer/app:") {
		t.Fatalf("consumer %s (%s of %s) does not match stream %s", first.ARN(), first.Name(), first.StreamARN(), stream.ARN)
	}
	var counter opCounter
	again, err := efo.NewConsumer(ctx, env.NewKinesis(counter.wrap), stream.ARN, "app", fast()...)
	if err != nil {
		t.Fatalf("NewConsumer again: %v", err)
	}
	if again.ARN() != first.ARN() {
		t.Fatalf("found %s, registered %s", again.ARN(), first.ARN())
	}
	if n := counter.get("RegisterStreamConsumer"); n != 0 {
		t.Fatalf("found an ACTIVE consumer with %d RegisterStreamConsumer calls, want 0", n)
	}
	fromARN, err := efo.NewConsumerFromARN(env.Kinesis, first.ARN())
	if err != nil || fromARN.StreamARN() != stream.ARN || fromARN.Name() != "app" {
		t.Fatalf("NewConsumerFromARN(%s) = %v, %v", first.ARN(), fromARN, err)
	}

	if err := efo.DeregisterConsumer(ctx, env.Kinesis, stream.Name, "app"); err != nil {
		t.Fatalf("DeregisterConsumer: %v", err)
	}
	for {
		_, err := env.Kinesis.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(first.ARN())})
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("consumer still there after DeregisterConsumer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := efo.DeregisterConsumer(ctx, env.Kinesis, stream.ARN, "app"); err != nil {
		t.Fatalf("DeregisterConsumer of a missing consumer: %v", err)
	}
}

// TestNewConsumerMissingStream fails with ErrNotFound, unwrapping to the SDK's error.
func TestNewConsumerMissingStream(t *testing.T) {
	env := testenv.New(t)
	ctx := testenv.WithTimeout(t, 30*time.Second)
	for _, stream := range []string{"no-such-stream", "arn:aws:kinesis:us-east-1:123456789012:stream/no-such-stream"} {
		_, err := efo.NewConsumer(ctx, env.Kinesis, stream, "app", fast()...)
		var ce *efo.ConsumerError
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &ce) || !errors.Is(err, efo.ErrNotFound) || !errors.As(err, &nf) {
			t.Fatalf("NewConsumer on %s: %v (%T), want a ConsumerError with ErrNotFound and ResourceNotFoundException", stream, err, err)
		}
	}
}

// TestNewConsumerThrottled: LimitExceededException from DescribeStreamConsumer (20 TPS) and
// RegisterStreamConsumer (5 TPS) is retried with jitter; a register that is refused every
// time (as with 20 consumers on the stream) ends in ErrLimitExceeded after
// WithRegisterAttempts tries. SDK retries are off so that only the package's count.
func TestNewConsumerThrottled(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	ctx := testenv.WithTimeout(t, 60*time.Second)
	noSDKRetries := func(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} }
	opts := []efo.Option{efo.WithPollInterval(50 * time.Millisecond), efo.WithRetryBackoff(100*time.Millisecond, 400*time.Millisecond), efo.WithRegisterAttempts(3)}

	inj := faults.New()
	describe := inj.Add(faults.Rule{Op: "DescribeStreamConsumer", Times: 2, Fault: faults.LimitExceeded()})
	register := inj.Add(faults.Rule{Op: "RegisterStreamConsumer", Times: 2, Fault: faults.LimitExceeded()})
	c, err := efo.NewConsumer(ctx, env.NewKinesis(inj.Wrap, noSDKRetries), stream.ARN, "throttled", opts...)
	if err != nil {
		t.Fatalf("NewConsumer through throttling: %v", err)
	}
	if describe.Hits() != 2 || register.Hits() != 2 || len(inj.Calls("RegisterStreamConsumer")) != 3 {
		t.Fatalf("throttled %d describes and %d registers, %d register calls; want 2, 2, 3",
			describe.Hits(), register.Hits(), len(inj.Calls("RegisterStreamConsumer")))
	}
	if !strings.Contains(c.ARN(), "/consumer/throttled:") {
		t.Fatalf("consumer ARN %s", c.ARN())
	}

	inj = faults.New()
	inj.Add(faults.Rule{Op: "RegisterStreamConsumer", Fault: faults.LimitExceeded()})
	_, err = efo.NewConsumer(ctx, env.NewKinesis(inj.Wrap, noSDKRetries), stream.ARN, "refused", opts...)
	var limit *types.LimitExceededException
	if !errors.Is(err, efo.ErrLimitExceeded) || !errors.As(err, &limit) {
		t.Fatalf("NewConsumer refused every time: %v, want ErrLimitExceeded wrapping LimitExceededException", err)
	}
	if n := len(inj.Calls("RegisterStreamConsumer")); n != 3 {
		t.Fatalf("%d RegisterStreamConsumer calls, want 3 (WithRegisterAttempts)", n)
	}
}
