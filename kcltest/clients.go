package kcltest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Environment variables that scripts/emulators.sh exports.
const (
	// EnvKinesisEndpoint is kinesis-local's plain endpoint (HTTP/1.1 and h2c).
	EnvKinesisEndpoint = "KCL_TEST_KINESIS_ENDPOINT"
	// EnvKinesisTLSEndpoint is kinesis-local's TLS endpoint (HTTP/2, self-signed certificate).
	EnvKinesisTLSEndpoint = "KCL_TEST_KINESIS_TLS_ENDPOINT"
	// EnvDynamoDBEndpoint is dynalite's endpoint.
	EnvDynamoDBEndpoint = "KCL_TEST_DYNAMODB_ENDPOINT"
	// EnvKinesaliteEndpoint is kinesalite's endpoint: a second Kinesis, without enhanced fan-out.
	EnvKinesaliteEndpoint = "KCL_TEST_KINESALITE_ENDPOINT"
)

// Region and AccountID of the emulated world: kinesis-local takes a 12-digit access key id as
// the account id, so the ARNs it returns carry AccountID.
const (
	Region    = "us-east-1"
	AccountID = "123456789012"
)

// ErrNoEmulators is returned when the emulators' endpoints are not in the environment.
var ErrNoEmulators = errors.New("kcltest: " + EnvKinesisEndpoint + " and " + EnvDynamoDBEndpoint +
	" are not set: start the emulators with `scripts/emulators.sh run CMD` (it exports them to CMD), " +
	"or `scripts/emulators.sh start && eval \"$(scripts/emulators.sh env)\"`")

// Endpoints are the emulators' base URLs.
type Endpoints struct {
	Kinesis    string // kinesis-local, plain
	KinesisTLS string // kinesis-local, TLS; empty when not set
	DynamoDB   string // dynalite
	Kinesalite string // kinesalite; empty when not set
}

// EndpointsFromEnv reads the endpoints from the environment. Kinesis and DynamoDB are
// required (ErrNoEmulators otherwise); the others may be empty.
func EndpointsFromEnv() (Endpoints, error) {
	e := Endpoints{
		Kinesis:    os.Getenv(EnvKinesisEndpoint),
		KinesisTLS: os.Getenv(EnvKinesisTLSEndpoint),
		DynamoDB:   os.Getenv(EnvDynamoDBEndpoint),
		Kinesalite: os.Getenv(EnvKinesaliteEndpoint),
	}
	if e.Kinesis == "" || e.DynamoDB == "" {
		return Endpoints{}, ErrNoEmulators
	}
	return e, nil
}

// AWSConfig is an aws.Config for the emulators: Region and static dummy credentials with
// AccountID as the access key id. It sets no endpoint: the clients do.
func AWSConfig() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider(AccountID, "kcltest-secret", ""),
	}
}

// NewTransport returns a fresh HTTP/1.1 transport for emulators on loopback.
func NewTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
}

// NewKinesisClient returns a Kinesis client for kinesis-local at endpoint whose HTTP
// transport is WithInitialResponse(NewTransport()), so that enhanced fan-out works. optFns
// run after these settings (a test may wrap o.HTTPClient further, e.g. to inject faults).
func NewKinesisClient(cfg aws.Config, endpoint string, optFns ...func(*kinesis.Options)) *kinesis.Client {
	opts := append([]func(*kinesis.Options){func(o *kinesis.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.HTTPClient = &http.Client{Transport: WithInitialResponse(NewTransport())}
	}}, optFns...)
	return kinesis.NewFromConfig(cfg, opts...)
}

// NewDynamoDBClient returns a DynamoDB client for dynalite at endpoint.
func NewDynamoDBClient(cfg aws.Config, endpoint string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	opts := append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.HTTPClient = &http.Client{Transport: NewTransport()}
	}}, optFns...)
	return dynamodb.NewFromConfig(cfg, opts...)
}

// Clients are SDK clients for the emulators, ready for kcl.Config's Kinesis and DynamoDB.
type Clients struct {
	Endpoints Endpoints
	Config    aws.Config
	// Kinesis talks to kinesis-local through InitialResponseTransport.
	Kinesis *kinesis.Client
	// DynamoDB talks to dynalite.
	DynamoDB *dynamodb.Client
}

// NewClients builds Clients from the endpoints in the environment (ErrNoEmulators when
// they are missing).
func NewClients() (*Clients, error) {
	e, err := EndpointsFromEnv()
	if err != nil {
		return nil, err
	}
	cfg := AWSConfig()
	return &Clients{
		Endpoints: e,
		Config:    cfg,
		Kinesis:   NewKinesisClient(cfg, e.Kinesis),
		DynamoDB:  NewDynamoDBClient(cfg, e.DynamoDB),
	}, nil
}

// KinesaliteClient returns a Kinesis client for kinesalite (EnvKinesaliteEndpoint), which
// serves everything but enhanced fan-out; an error when the variable is not set.
func (c *Clients) KinesaliteClient(optFns ...func(*kinesis.Options)) (*kinesis.Client, error) {
	if c.Endpoints.Kinesalite == "" {
		return nil, fmt.Errorf("kcltest: %s is not set: scripts/emulators.sh starts kinesalite too", EnvKinesaliteEndpoint)
	}
	opts := append([]func(*kinesis.Options){func(o *kinesis.Options) {
		o.BaseEndpoint = aws.String(c.Endpoints.Kinesalite)
		o.HTTPClient = &http.Client{Transport: NewTransport()}
	}}, optFns...)
	return kinesis.NewFromConfig(c.Config, opts...), nil
}

// CreateStream creates a provisioned stream with the given number of shards on kinesis-local
// and waits until it is ACTIVE, polling every 50 ms. A stream that exists already is fine.
func (c *Clients) CreateStream(ctx context.Context, name string, shards int) error {
	return CreateStream(ctx, c.Kinesis, name, shards)
}

// CreateStream is Clients.CreateStream for any Kinesis client (kinesalite's, say).
func CreateStream(ctx context.Context, api *kinesis.Client, name string, shards int) error {
	_, err := api.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards))})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("kcltest: create stream %s: %w", name, err)
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		out, err := api.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("kcltest: describe stream %s: %w", name, err)
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}
