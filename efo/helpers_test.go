package efo_test

import (
	"encoding/binary"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/internal/testenv"
)

// fast are the options tests use so that registration polls quickly and retries are short.
func fast(opts ...efo.Option) []efo.Option {
	return append([]efo.Option{efo.WithPollInterval(50 * time.Millisecond), efo.WithRetryBackoff(500*time.Millisecond, 2*time.Second)}, opts...)
}

// newConsumer registers a uniquely named consumer on stream through api.
func newConsumer(t *testing.T, api efo.KinesisAPI, stream *testenv.Stream, opts ...efo.Option) *efo.Consumer {
	t.Helper()
	ctx := testenv.WithTimeout(t, 30*time.Second)
	// Watching the guard against repeats first: a test's own WithLogger replaces it.
	opts = append([]efo.Option{efo.WatchRepeats(t)}, opts...)
	c, err := efo.NewConsumer(ctx, api, stream.ARN, "c-"+strings.ReplaceAll(t.Name(), "/", "-"), fast(opts...)...)
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	return c
}

// subscribe starts a subscription that is closed when t ends.
func subscribe(t *testing.T, c *efo.Consumer, shardID string, start efo.StartPosition) *efo.Subscription {
	t.Helper()
	sub, err := c.Subscribe(t.Context(), shardID, start)
	if err != nil {
		t.Fatalf("Subscribe %s at %v: %v", shardID, start, err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// reader takes batches from a subscription and checks what the contract promises of each.
type reader struct {
	t       *testing.T
	sub     *efo.Subscription
	records []types.Record
	batches int
	end     *efo.Batch // the ShardEnd batch, once seen
}

func newReader(t *testing.T, sub *efo.Subscription) *reader { return &reader{t: t, sub: sub} }

// next takes one batch, failing t when none comes within d or the subscription ended.
func (r *reader) next(d time.Duration) efo.Batch {
	r.t.Helper()
	select {
	case b, ok := <-r.sub.Batches():
		if !ok {
			r.t.Fatalf("subscription ended after %d records: %v", len(r.records), r.sub.Err())
		}
		r.take(b)
		return b
	case <-time.After(d):
		r.t.Fatalf("no batch within %v (have %d records)", d, len(r.records))
	}
	return efo.Batch{}
}

func (r *reader) take(b efo.Batch) {
	r.t.Helper()
	if b.ShardID != r.sub.ShardID() {
		r.t.Fatalf("batch of shard %s on the subscription of %s", b.ShardID, r.sub.ShardID())
	}
	if r.end != nil {
		r.t.Fatalf("a batch after the shard-end batch")
	}
	r.batches++
	r.records = append(r.records, b.Records...)
	if b.ShardEnd {
		r.end = &b
	}
}

// until takes batches until it holds n records, failing t after d.
func (r *reader) until(n int, d time.Duration) []types.Record {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for len(r.records) < n {
		left := time.Until(deadline)
		if left <= 0 {
			r.t.Fatalf("got %d of %d records within %v", len(r.records), n, d)
		}
		r.next(left)
	}
	return r.records
}

// quiet takes batches for d and fails t if any of them holds a record.
func (r *reader) quiet(d time.Duration) {
	r.t.Helper()
	have := len(r.records)
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case b, ok := <-r.sub.Batches():
			if !ok {
				return
			}
			r.take(b)
			if len(r.records) > have {
				r.t.Fatalf("unexpected records after the expected ones: %v", seqs(r.records[have:]))
			}
		case <-timer.C:
			return
		}
	}
}

// expectExactly checks that got are exactly the records of want, in want's order.
func expectExactly(t *testing.T, got []types.Record, want []testenv.Put) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if aws.ToString(got[i].SequenceNumber) != want[i].SequenceNumber || string(got[i].Data) != string(want[i].Data) {
			t.Fatalf("record %d: got %s %q, want %s %q", i, aws.ToString(got[i].SequenceNumber), got[i].Data,
				want[i].SequenceNumber, want[i].Data)
		}
	}
}

func seqs(rs []types.Record) []string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = aws.ToString(r.SequenceNumber)
	}
	return s
}

// ownGoroutines counts goroutines running this package's code or the SDK's event stream
// readers.
func ownGoroutines() (int, string) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "kclgo/kcl/efo.") || strings.Contains(g, "EventStreamReader") ||
			strings.Contains(g, "subscribeToShardEventStreamReader") || strings.Contains(g, "waitStreamClose") {
			n++
			found = append(found, g)
		}
	}
	return n, strings.Join(found, "\n\n")
}

// expectNoGoroutines fails t unless the package's and the SDK stream readers' goroutines are
// all gone within a few seconds.
func expectNoGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, stacks := ownGoroutines()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left behind:\n%s", n, stacks)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countingTransport notes the protocol of every response and counts what the SDK reads of
// SubscribeToShard responses: bytes, and event stream messages begun.
type countingTransport struct {
	base      http.RoundTripper
	bodyBytes atomic.Int64
	messages  atomic.Int64
	h2        atomic.Int64 // responses over HTTP/2
	other     atomic.Int64 // responses over anything else
	// messageRead, when set, is called as soon as the last byte of a message has been read.
	messageRead func()
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if resp.ProtoMajor == 2 {
		c.h2.Add(1)
	} else {
		c.other.Add(1)
	}
	if strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".SubscribeToShard") {
		resp.Body = &countingBody{ReadCloser: resp.Body, bytes: &c.bodyBytes, messages: &c.messages, messageRead: c.messageRead}
	}
	return resp, nil
}

// countingBody follows the event stream's framing (each message starts with its total
// length, 4 bytes big-endian) to count the messages the reader begins.
type countingBody struct {
	io.ReadCloser
	bytes, messages *atomic.Int64
	messageRead     func()
	left            int // bytes left of the current message
	prelude         [4]byte
	preludeN        int
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.bytes.Add(int64(n))
	for q := p[:n]; len(q) > 0; {
		if b.left > 0 {
			k := min(b.left, len(q))
			b.left, q = b.left-k, q[k:]
			if b.left == 0 && b.messageRead != nil {
				b.messageRead()
			}
			continue
		}
		if b.preludeN == 0 {
			b.messages.Add(1)
		}
		k := copy(b.prelude[b.preludeN:], q)
		b.preludeN, q = b.preludeN+k, q[k:]
		if b.preludeN == len(b.prelude) {
			b.left, b.preludeN = max(int(binary.BigEndian.Uint32(b.prelude[:]))-len(b.prelude), 0), 0
		}
	}
	return n, err
}
