package efo_test

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/kcltest"
)

// producer puts numbered records ("%08d" then padding) to a stream until stopped. It keeps
// only counts, so that the test's heap does not grow with what it puts.
type producer struct {
	mu    sync.Mutex
	n     int
	bytes int64
	stop  chan struct{}
	done  chan struct{}
}

func startProducer(t *testing.T, stream *testenv.Stream, size int) *producer {
	p := &producer{stop: make(chan struct{}), done: make(chan struct{})}
	pad := bytes.Repeat([]byte("x"), size)
	go func() {
		defer close(p.done)
		for i := 0; ; i += 100 {
			select {
			case <-p.stop:
				return
			default:
			}
			recs := make([]testenv.Record, 100)
			for j := range recs {
				recs[j] = testenv.Record{PartitionKey: "k", Data: append(fmt.Appendf(nil, "%08d", i+j), pad...)}
			}
			if puts := stream.Put(t, recs...); len(puts) != len(recs) {
				return // Put has failed the test
			}
			p.mu.Lock()
			p.n += len(recs)
			p.bytes += int64(len(recs) * (size + 8))
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *producer) putBytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}

// finish stops the producer and returns how many records it put.
func (p *producer) finish() int {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func heapAlloc() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestBackpressure: a consumer that stops taking makes its subscription stop reading the
// event stream, over HTTP/1.1 (TCP pushes back) and over h2c (HTTP/2 flow control pushes
// back), so that neither what is read nor the heap grows while records keep coming; when
// the consumer comes back, every record put arrives, once, in order.
func TestBackpressure(t *testing.T) {
	env := testenv.New(t)
	const buffer = 1
	tests := []struct {
		name   string
		h2     bool
		record int // bytes: kinesis-local pushes h2c slower than HTTP/1.1
	}{
		{"HTTP/1.1", false, 2048},
		{"h2c", true, 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := efo.NewHTTPClient(func(tr *http.Transport) {
				if tt.h2 {
					tr.Protocols = new(http.Protocols)
					tr.Protocols.SetUnencryptedHTTP2(true)
					// The smallest window, so what the transport itself buffers stays small
					// next to what is put (efo.NewHTTPClient's 1 MiB is for real shards).
					tr.HTTP2.MaxReceiveBufferPerStream = 64 << 10
				}
			}).GetTransport()
			t.Cleanup(tr.CloseIdleConnections)
			counter := &countingTransport{base: tr}
			client := env.NewKinesis(nil, func(o *kinesis.Options) { o.HTTPClient = &http.Client{Transport: kcltest.WithInitialResponse(counter)} })
			stream := env.CreateStream(t, 1)
			c := newConsumer(t, client, stream, efo.WithBufferSize(buffer))
			sub := subscribe(t, c, *stream.Shards(t)[0].ShardId, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon})

			p := startProducer(t, stream, tt.record)
			for deadline := time.Now().Add(30 * time.Second); counter.messages.Load() == 0; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no event within 30 s")
				}
			}
			heap1, put1 := heapAlloc(), p.putBytes()
			// Nobody takes while records keep coming, until the subscription has read all it
			// may and 2 s more have passed (15 s at most, on a slow machine).
			start, full := time.Now(), time.Time{}
			for time.Since(start) < 15*time.Second && (full.IsZero() || time.Since(full) < 2*time.Second) {
				time.Sleep(100 * time.Millisecond)
				if full.IsZero() && counter.messages.Load() >= buffer+3 {
					full = time.Now()
				}
			}
			messages, read, heap2 := counter.messages.Load(), counter.bodyBytes.Load(), heapAlloc()
			n := p.finish()
			put := p.putBytes() - put1
			t.Logf("nobody took for %v: %d KiB more put, %d KiB read in %d events, heap %+d KiB (%d KiB)",
				time.Since(start).Round(time.Millisecond), put>>10, read>>10, messages, (heap2-heap1)>>10, heap2>>10)
			// What a subscription may hold: its buffer, the batch it waits to hand on, and one
			// event in each of the SDK's two reader goroutines. It must not begin another.
			if limit := int64(buffer + 3); messages > limit {
				t.Fatalf("read %d events while nobody took, want at most %d", messages, limit)
			}
			// The heap holds what was read (decoded) and the transport's window; nothing more.
			if growth, limit := heap2-heap1, 2*read+1<<20; growth > limit {
				t.Fatalf("heap grew %d KiB while nobody took, having read %d KiB", growth>>10, read>>10)
			}
			if messages < int64(buffer+3) {
				t.Skipf("the subscription read only %d events in %v: kinesis-local is too slow here to show backpressure", messages, time.Since(start))
			}

			// The consumer comes back: everything put arrives, in order, once.
			r := newReader(t, sub)
			got := r.until(n, 60*time.Second)
			if r.batches <= buffer+3 {
				t.Fatalf("all %d records came in the %d events read before: nothing was held back", n, r.batches)
			}
			if len(got) != n {
				t.Fatalf("got %d records, put %d", len(got), n)
			}
			for i, r := range got {
				if k, err := strconv.Atoi(string(r.Data[:8])); err != nil || k != i {
					t.Fatalf("record %d holds number %q", i, r.Data[:8])
				}
				if i > 0 && testenv.CompareSequenceNumbers(aws.ToString(got[i-1].SequenceNumber), aws.ToString(r.SequenceNumber)) >= 0 {
					t.Fatalf("record %d's sequence number does not follow record %d's", i, i-1)
				}
			}
		})
	}
}
