package faults_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/kclgo/kcl/internal/faults"
)

// These tests feed the stream faults a scripted event stream instead of the emulator's,
// to reach orders of events kinesis-local does not produce on demand.

func encodeMessage(t testing.TB, eventType string, payload any) []byte {
	t.Helper()
	p, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err = eventstream.NewEncoder().Encode(&buf, eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":message-type", Value: eventstream.StringValue("event")},
			{Name: ":event-type", Value: eventstream.StringValue(eventType)},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
		},
		Payload: p,
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type scriptedRecord struct {
	SequenceNumber, PartitionKey string
	Data                         []byte
	ApproximateArrivalTimestamp  float64
}

type scriptedEvent struct {
	Records                    []scriptedRecord
	ContinuationSequenceNumber string
	MillisBehindLatest         int64
}

// scriptedStream is an initial-response, then an empty caught-up event BEFORE the records
// (possible when a subscription starts before the records are readable), then the records,
// then caught-up events.
func scriptedStream(t testing.TB) []byte {
	rec := func(seq string) scriptedRecord {
		return scriptedRecord{SequenceNumber: seq, PartitionKey: "pk", Data: []byte("d" + seq), ApproximateArrivalTimestamp: 1.7e9}
	}
	return slices.Concat(
		encodeMessage(t, "initial-response", struct{}{}),
		encodeMessage(t, "SubscribeToShardEvent", scriptedEvent{Records: []scriptedRecord{}, ContinuationSequenceNumber: "4"}),
		encodeMessage(t, "SubscribeToShardEvent", scriptedEvent{Records: []scriptedRecord{rec("5"), rec("6")}, ContinuationSequenceNumber: "6", MillisBehindLatest: 100}),
		encodeMessage(t, "SubscribeToShardEvent", scriptedEvent{Records: []scriptedRecord{rec("17")}, ContinuationSequenceNumber: "17"}),
		encodeMessage(t, "SubscribeToShardEvent", scriptedEvent{Records: []scriptedRecord{}, ContinuationSequenceNumber: "17"}),
		encodeMessage(t, "SubscribeToShardEvent", scriptedEvent{Records: []scriptedRecord{rec("18")}, ContinuationSequenceNumber: "18"}),
	)
}

// streamTransport answers every request with body as an event stream.
type streamTransport []byte

func (s streamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/vnd.amazon.eventstream"}},
		Body:          io.NopCloser(bytes.NewReader(s)),
		ContentLength: -1, Request: req,
	}, nil
}

// FuzzRelay feeds arbitrary bytes through a stream fault that never triggers: the caller
// must read exactly the emulator's bytes, whatever they are, and nothing may panic.
// EndShard parses event payloads, so it runs on the same input too.
func FuzzRelay(f *testing.F) {
	f.Add(scriptedStream(f))
	f.Add(scriptedStream(f)[:37])
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 16, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, fault := range []faults.Fault{faults.CutStream{AfterEvents: 1 << 30}, faults.EndShard{}} {
			req, _ := http.NewRequest(http.MethodPost, "http://scripted.invalid/", nil)
			resp, err := fault.Inject(faults.Call{}, req, streamTransport(data))
			if err != nil {
				t.Fatalf("%v: %v", fault, err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if _, cut := fault.(faults.CutStream); !cut {
				continue
			}
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read %x, %v from %x", got, err, data)
			}
		}
	})
}
