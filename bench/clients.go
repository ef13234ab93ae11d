package main

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/internal/replay"
	"github.com/kclgo/kcl/kcltest"
)

// callCounter is the HTTP middleware that counts the calls of an SDK client by operation
// (the X-Amz-Target header of the JSON protocols Kinesis and DynamoDB speak).
type callCounter struct {
	base  http.RoundTripper
	calls sync.Map // operation -> *atomic.Int64
}

func (c *callCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	op := req.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	v, ok := c.calls.Load(op)
	if !ok {
		v, _ = c.calls.LoadOrStore(op, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
	return c.base.RoundTrip(req)
}

func (c *callCounter) snapshot() map[string]int64 {
	out := map[string]int64{}
	c.calls.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// clients are the SDK clients of one process, with their call counters.
type clients struct {
	kinesis       *kinesis.Client
	dynamodb      *dynamodb.Client
	kinesisCalls  *callCounter
	dynamodbCalls *callCounter
}

// emulatorAccount is the 12-digit access key id kinesis-local takes as the account id.
const emulatorAccount = "000000000000"

// newClients builds the clients for cfg's source. Only the client configuration differs
// between sources: the same code reads a replayed, emulated or real stream.
func newClients(ctx context.Context, cfg runConfig) (*clients, error) {
	var (
		awsCfg       aws.Config
		kinesisTrans http.RoundTripper
		dynamoTrans  http.RoundTripper
	)
	switch cfg.Source {
	case "aws":
		var err error
		awsCfg, err = config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, err
		}
		// The SDK's transport with efo's HTTP/2 settings, as the README tells users to set up.
		kinesisTrans = efo.NewHTTPClient().GetTransport()
		dynamoTrans = http.DefaultTransport.(*http.Transport).Clone()
	default:
		awsCfg = aws.Config{
			Region:      "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider(emulatorAccount, "kcl-bench", ""),
		}
		if cfg.Source == "replay" {
			kinesisTrans = replay.Transport()
		} else {
			// kinesis-local never sends the initial-response the SDK waits for; the
			// kcltest transport adds it. HTTP/1.1, as the tests talk to it.
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = 256
			kinesisTrans = kcltest.WithInitialResponse(tr)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		dynamoTrans = tr
	}
	c := &clients{
		kinesisCalls:  &callCounter{base: kinesisTrans},
		dynamodbCalls: &callCounter{base: dynamoTrans},
	}
	c.kinesis = kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) {
		if cfg.KinesisEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.KinesisEndpoint)
		}
		o.HTTPClient = &http.Client{Transport: c.kinesisCalls}
	})
	c.dynamodb = dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if cfg.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint)
		}
		o.HTTPClient = &http.Client{Transport: c.dynamodbCalls}
	})
	return c, nil
}
