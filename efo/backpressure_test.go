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
	"github.com/kclgo/kcl/internal/efoshim"
	"github.com/kclgo/kcl/internal/testenv"
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
			client := env.NewKinesis(nil, func(o *kinesis.Options) { o.HTTPClient = &http.Client{Transport: efoshim.Wrap(counter)} })
			stream := env.CreateStream(t, 1)
			c := newConsumer(t, client, stream, efo.WithBufferSize(1))
			sub := subscribe(t, c, *stream.Shards(t)[0].ShardId, efo.StartPosition{Type: types.ShardIteratorTypeTrimHorizon})

			p := startProducer(t, stream, tt.record)
			// Wait until the subscription holds all it may and has stopped reading: nothing
			// read for 2.5 s while kinesis-local sends an event a second.
			last, since := counter.bodyBytes.Load(), time.Now()
			for deadline := time.Now().Add(30 * time.Second); last == 0 || time.Since(since) < 2500*time.Millisecond; {
				if time.Now().After(deadline) {
					t.Fatalf("the subscription kept reading for 30 s with nobody taking (%d KiB read)", last>>10)
				}
				time.Sleep(100 * time.Millisecond)
				if n := counter.bodyBytes.Load(); n != last {
					last, since = n, time.Now()
				}
			}
			// Records keep coming while nobody takes: at least 1 MiB, or for 15 s on a slow machine.
			read1, heap1, put1 := counter.bodyBytes.Load(), heapAlloc(), p.putBytes()
			start := time.Now()
			for p.putBytes()-put1 < 1<<20 && time.Since(start) < 15*time.Second {
				time.Sleep(100 * time.Millisecond)
			}
			read2, heap2, put2 := counter.bodyBytes.Load(), heapAlloc(), p.putBytes()
			n := p.finish()
			put := put2 - put1
			t.Logf("stalled: %d KiB read before; then in %v %d KiB put, %d KiB read, heap %+d KiB (%d KiB)",
				read1>>10, time.Since(start).Round(time.Millisecond), put>>10, (read2-read1)>>10, (heap2-heap1)>>10, heap2>>10)
			if read2 != read1 {
				t.Fatalf("read %d bytes of the event stream while nobody took", read2-read1)
			}
			// Bounded: what the subscription holds is there already; 256 KiB is room for noise.
			if growth := heap2 - heap1; growth > 256<<10 || growth > put/2 {
				t.Fatalf("heap grew %d KiB while %d KiB were put and nobody took", growth>>10, put>>10)
			}

			// The consumer comes back: everything put arrives, in order, once.
			got := newReader(t, sub).until(n, 60*time.Second)
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
