package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kclgo/kcl/internal/efoshim"
)

// Environment variables that scripts/emulators.sh exports.
const (
	EnvKinesisEndpoint    = "KCL_TEST_KINESIS_ENDPOINT"
	EnvKinesisTLSEndpoint = "KCL_TEST_KINESIS_TLS_ENDPOINT"
	EnvDynamoDBEndpoint   = "KCL_TEST_DYNAMODB_ENDPOINT"
)

// Region and AccountID of the emulated world. kinesis-local takes a 12-digit access key id
// as the account id, so ARNs carry AccountID.
const (
	Region    = "us-east-1"
	AccountID = "123456789012"
)

const howToStart = "start the emulators first: `make test` does it for the whole suite; for one package run " +
	"`scripts/emulators.sh run go test ./pkg/...`, or `scripts/emulators.sh start && eval \"$(scripts/emulators.sh env)\"`"

// Env is the emulated AWS world of one test.
type Env struct {
	KinesisEndpoint    string
	KinesisTLSEndpoint string
	DynamoDBEndpoint   string

	// Config carries region and dummy credentials; endpoints are set per client.
	Config aws.Config
	// Kinesis talks to kinesis-local through the initial-response shim, so SubscribeToShard works.
	Kinesis *kinesis.Client
	// DynamoDB talks to dynalite.
	DynamoDB *dynamodb.Client
}

// New returns the emulated world, failing t when the emulators' endpoints are not set.
// Under -short it skips instead, so inner loops stay fast.
func New(t testing.TB) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the local emulators; skipped under -short")
	}
	e, err := FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// FromEnvironment is New for code that has no testing.TB, such as a worker process that a
// test starts.
func FromEnvironment() (*Env, error) {
	e := &Env{
		KinesisEndpoint:    os.Getenv(EnvKinesisEndpoint),
		KinesisTLSEndpoint: os.Getenv(EnvKinesisTLSEndpoint),
		DynamoDBEndpoint:   os.Getenv(EnvDynamoDBEndpoint),
	}
	if e.KinesisEndpoint == "" || e.DynamoDBEndpoint == "" {
		return nil, fmt.Errorf("%s and %s are not set: %s", EnvKinesisEndpoint, EnvDynamoDBEndpoint, howToStart)
	}
	e.Config = aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider(AccountID, "kcl-test-secret", ""),
		// Tests see faults through their own wrappers; SDK retries stay as in production.
		RetryMaxAttempts: 3,
	}
	e.Kinesis = e.NewKinesis(nil)
	e.DynamoDB = e.NewDynamoDB(nil)
	return e, nil
}

// Wrapper wraps the transport under an SDK client, e.g. a fault injector.
type Wrapper func(http.RoundTripper) http.RoundTripper

// NewTransport returns a fresh HTTP/1.1 transport for the emulators on loopback.
func NewTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
}

// NewKinesis returns a Kinesis client for kinesis-local whose transport is
// wrap(shim(fresh transport)): the initial-response shim sits next to the emulator, so a
// fault injector in wrap sees the stream as real Kinesis would send it.
func (e *Env) NewKinesis(wrap Wrapper, optFns ...func(*kinesis.Options)) *kinesis.Client {
	var rt http.RoundTripper = efoshim.Wrap(NewTransport())
	if wrap != nil {
		rt = wrap(rt)
	}
	opts := append([]func(*kinesis.Options){func(o *kinesis.Options) {
		o.BaseEndpoint = aws.String(e.KinesisEndpoint)
		o.HTTPClient = &http.Client{Transport: rt}
	}}, optFns...)
	return kinesis.NewFromConfig(e.Config, opts...)
}

// NewDynamoDB returns a DynamoDB client for dynalite whose transport is wrap(fresh transport).
func (e *Env) NewDynamoDB(wrap Wrapper, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	var rt http.RoundTripper = NewTransport()
	if wrap != nil {
		rt = wrap(rt)
	}
	opts := append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(e.DynamoDBEndpoint)
		o.HTTPClient = &http.Client{Transport: rt}
	}}, optFns...)
	return dynamodb.NewFromConfig(e.Config, opts...)
}

// cleanupContext is for t.Cleanup functions: t.Context is already cancelled when they run.
func cleanupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}
