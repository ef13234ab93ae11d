package testenv

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kclgo/kcl/kcltest"
)

// Environment variables, region and account: kcltest's, which users see too.
const (
	EnvKinesisEndpoint    = kcltest.EnvKinesisEndpoint
	EnvKinesisTLSEndpoint = kcltest.EnvKinesisTLSEndpoint
	EnvDynamoDBEndpoint   = kcltest.EnvDynamoDBEndpoint
	EnvKinesaliteEndpoint = kcltest.EnvKinesaliteEndpoint
	Region                = kcltest.Region
	AccountID             = kcltest.AccountID
)

// Env is the emulated AWS world of one test.
type Env struct {
	KinesisEndpoint    string
	KinesisTLSEndpoint string
	DynamoDBEndpoint   string
	// KinesaliteEndpoint is empty when kinesalite was not started.
	KinesaliteEndpoint string

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
	ep, err := kcltest.EndpointsFromEnv()
	if err != nil {
		return nil, err
	}
	e := &Env{
		KinesisEndpoint:    ep.Kinesis,
		KinesisTLSEndpoint: ep.KinesisTLS,
		DynamoDBEndpoint:   ep.DynamoDB,
		KinesaliteEndpoint: ep.Kinesalite,
		Config:             kcltest.AWSConfig(),
	}
	// Tests see faults through their own wrappers; SDK retries stay as in production.
	e.Config.RetryMaxAttempts = 3
	e.Kinesis = e.NewKinesis(nil)
	e.DynamoDB = e.NewDynamoDB(nil)
	return e, nil
}

// Wrapper wraps the transport under an SDK client, e.g. a fault injector.
type Wrapper func(http.RoundTripper) http.RoundTripper

// NewTransport returns a fresh HTTP/1.1 transport for the emulators on loopback.
func NewTransport() *http.Transport { return kcltest.NewTransport() }

// NewKinesis returns a Kinesis client for kinesis-local whose transport is
// wrap(shim(fresh transport)): the initial-response shim sits next to the emulator, so a
// fault injector in wrap sees the stream as real Kinesis would send it.
func (e *Env) NewKinesis(wrap Wrapper, optFns ...func(*kinesis.Options)) *kinesis.Client {
	var rt http.RoundTripper = kcltest.WithInitialResponse(kcltest.NewTransport())
	if wrap != nil {
		rt = wrap(rt)
	}
	opts := append([]func(*kinesis.Options){func(o *kinesis.Options) {
		o.HTTPClient = &http.Client{Transport: rt}
	}}, optFns...)
	return kcltest.NewKinesisClient(e.Config, e.KinesisEndpoint, opts...)
}

// Kinesalite returns a client of kinesalite, the second Kinesis (no enhanced fan-out),
// failing t when scripts/emulators.sh did not start it.
func (e *Env) Kinesalite(t testing.TB) *kinesis.Client {
	t.Helper()
	if e.KinesaliteEndpoint == "" {
		t.Fatalf("%s is not set: scripts/emulators.sh starts kinesalite", EnvKinesaliteEndpoint)
	}
	return kinesis.NewFromConfig(e.Config, func(o *kinesis.Options) {
		o.BaseEndpoint = aws.String(e.KinesaliteEndpoint)
		o.HTTPClient = &http.Client{Transport: kcltest.NewTransport()}
	})
}

// NewDynamoDB returns a DynamoDB client for dynalite whose transport is wrap(fresh transport).
func (e *Env) NewDynamoDB(wrap Wrapper, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	var rt http.RoundTripper = NewTransport()
	if wrap != nil {
		rt = wrap(rt)
	}
	opts := append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		o.HTTPClient = &http.Client{Transport: rt}
	}}, optFns...)
	return kcltest.NewDynamoDBClient(e.Config, e.DynamoDBEndpoint, opts...)
}

// cleanupContext is for t.Cleanup functions: t.Context is already cancelled when they run.
func cleanupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}
