package efo_test

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/kcltest"
)

// TestHTTPVersions reads two shards at once over each way a client can talk to
// kinesis-local: HTTP/1.1 and h2c on the plain port, h2 and HTTP/1.1 over TLS, on
// transports built by efo.NewHTTPClient, and over TLS with the SDK's default transport
// as it comes (only the emulator's self-signed certificate trusted).
// Every response must come over the expected protocol, every record must arrive, and an
// https subscription over HTTP/1 must be logged as a warning.
func TestHTTPVersions(t *testing.T) {
	env := testenv.New(t)
	tests := []struct {
		name       string
		tls        bool
		protos     func(*http.Protocols)
		sdkDefault bool // the SDK's own default transport, not NewHTTPClient's
		wantH2     bool
		wantWarn   bool
	}{
		{"HTTP/1.1 plain", false, func(p *http.Protocols) { p.SetHTTP1(true) }, false, false, false},
		{"h2c", false, func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }, false, true, false},
		{"h2 over TLS", true, nil, false, true, false},
		{"SDK default over TLS", true, nil, true, true, false},
		{"HTTP/1.1 over TLS", true, func(p *http.Protocols) { p.SetHTTP1(true) }, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			endpoint := env.KinesisEndpoint
			if tt.tls {
				if env.KinesisTLSEndpoint == "" {
					t.Fatalf("%s is not set", testenv.EnvKinesisTLSEndpoint)
				}
				endpoint = env.KinesisTLSEndpoint
			}
			newClient := efo.NewHTTPClient
			if tt.sdkDefault {
				newClient = awshttp.NewBuildableClient().WithTransportOptions
			}
			tr := newClient(func(tr *http.Transport) {
				if tt.protos != nil {
					tr.Protocols = new(http.Protocols)
					tt.protos(tr.Protocols)
				}
				if tt.tls {
					// kinesis-local's certificate is self-signed; only this test's transport trusts it.
					tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
				}
			}).GetTransport()
			t.Cleanup(tr.CloseIdleConnections)
			counter := &countingTransport{base: tr}
			client := env.NewKinesis(nil, func(o *kinesis.Options) {
				o.BaseEndpoint = aws.String(endpoint)
				o.HTTPClient = &http.Client{Transport: kcltest.WithInitialResponse(counter)}
			})
			var logs syncBuffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))

			stream := env.CreateStream(t, 2)
			c := newConsumer(t, client, stream, efo.WithLogger(logger))
			var readers []*reader
			for _, sh := range stream.Shards(t) {
				readers = append(readers, newReader(t, subscribe(t, c, *sh.ShardId, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon})))
			}
			want := testenv.ByShard(stream.PutN(t, "proto", 100))
			for _, r := range readers {
				expectExactly(t, r.until(len(want[r.sub.ShardID()]), 20*time.Second), want[r.sub.ShardID()])
			}
			h2, other := counter.h2.Load(), counter.other.Load()
			if tt.wantH2 && (h2 == 0 || other != 0) || !tt.wantH2 && (h2 != 0 || other == 0) {
				t.Fatalf("%d responses over HTTP/2, %d over others; want HTTP/2 %v", h2, other, tt.wantH2)
			}
			warned := strings.Contains(logs.String(), "Kinesis needs HTTP/2")
			if warned != tt.wantWarn {
				t.Fatalf("warned about HTTP/1 %v, want %v; log:\n%s", warned, tt.wantWarn, logs.String())
			}
		})
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
