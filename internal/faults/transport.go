package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// transport is what Injector.Wrap returns.
type transport struct {
	inj  *Injector
	base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	call, out, err := readCall(req)
	if err != nil {
		return nil, err
	}
	fault := t.inj.dispatch(&call)
	next := &learner{inj: t.inj, base: t.base, call: call}
	if fault == nil {
		return next.RoundTrip(out)
	}
	return fault.Inject(call, out, next)
}

// CloseIdleConnections passes http.Client.CloseIdleConnections on to the base transport.
func (t *transport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// readCall describes req and returns a copy of it whose body can be read again: reading
// the body consumes it, and the SDK has already signed it, so it must go on byte for byte.
func readCall(req *http.Request) (Call, *http.Request, error) {
	c := Call{Time: time.Now()}
	target := req.Header.Get("X-Amz-Target")
	prefix := ""
	if i := strings.LastIndexByte(target, '.'); i >= 0 {
		prefix, c.Op = target[:i], target[i+1:]
	}
	switch {
	case strings.HasPrefix(prefix, "Kinesis_"):
		c.Service = ServiceKinesis
	case strings.HasPrefix(prefix, "DynamoDB_"):
		c.Service = ServiceDynamoDB
	default:
		c.Service = prefix
	}
	if req.Body == nil || req.Body == http.NoBody {
		return c, req, nil
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return c, nil, fmt.Errorf("faults: read the request body of %s: %w", target, err)
	}
	c.Body = body
	describe(&c)

	out := req.WithContext(req.Context()) // a shallow copy: RoundTrip must not modify req
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return c, out, nil
}

// describe fills the fields of c that come from its JSON body. A body that is not JSON
// leaves them empty: the injector describes calls, it does not validate them.
func describe(c *Call) {
	var in struct {
		ShardId, StreamName, StreamARN, ConsumerARN, TableName, ShardIterator string
		ShardFilter                                                           *struct{ ShardId string }
	}
	if json.Unmarshal(c.Body, &in) != nil {
		return
	}
	c.Shard = in.ShardId
	if c.Shard == "" && in.ShardFilter != nil {
		c.Shard = in.ShardFilter.ShardId
	}
	c.Stream = in.StreamName
	for _, arn := range []string{in.StreamARN, in.ConsumerARN} {
		if c.Stream == "" {
			c.Stream = streamOfARN(arn)
		}
	}
	c.Table = in.TableName
	c.iterator = in.ShardIterator
}

// streamOfARN returns NAME from arn:aws:kinesis:REGION:ACCOUNT:stream/NAME[/consumer/...].
func streamOfARN(arn string) string {
	_, rest, ok := strings.Cut(arn, ":stream/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// learner sends a call to the emulator and, for GetShardIterator and GetRecords, learns
// which shard the returned iterator reads, so GetRecords calls can be matched by shard.
// It sits below the fault, so it sees the emulator's answer even when a fault loses it.
type learner struct {
	inj  *Injector
	base http.RoundTripper
	call Call
}

func (l *learner) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || l.call.Service != ServiceKinesis ||
		(l.call.Op != "GetShardIterator" && l.call.Op != "GetRecords") ||
		l.call.Shard == "" || resp.Header.Get("Content-Encoding") != "" {
		return resp, err
	}
	// Reading the whole body here is harmless: these answers are small JSON documents that
	// the SDK reads whole anyway. The client gets the same bytes, and the same read error.
	body, readErr := io.ReadAll(resp.Body)
	resp.Body.Close()
	var out struct{ ShardIterator, NextShardIterator string }
	if readErr == nil && json.Unmarshal(body, &out) == nil {
		ref := shardRef{stream: l.call.Stream, shard: l.call.Shard}
		l.inj.learn(out.ShardIterator, ref)
		l.inj.learn(out.NextShardIterator, ref)
	}
	resp.Body = &replayBody{r: bytes.NewReader(body), err: readErr}
	return resp, nil
}

// replayBody gives back bytes already read, then the error that ended the read.
type replayBody struct {
	r   *bytes.Reader
	err error
}

func (b *replayBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF && b.err != nil {
		err = b.err
	}
	return n, err
}

func (b *replayBody) Close() error { return nil }
