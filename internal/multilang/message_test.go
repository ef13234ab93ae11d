package multilang

import (
	"encoding/json"
	"errors"
	"github.com/kclgo/kcl"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

// TestEncode: the daemon's messages, field for field as the Java daemon writes them.
func TestEncode(t *testing.T) {
	arrival := time.UnixMilli(1700000000123)
	cases := []struct {
		name string
		line []byte
		want string
	}{
		{"initialize", EncodeInitialize("shardId-000000000001", ptr("49590338271490256608559692538361571095921575989136588898"), ptr(int64(3))),
			`{"action":"initialize","shardId":"shardId-000000000001","sequenceNumber":"49590338271490256608559692538361571095921575989136588898","subSequenceNumber":3}`},
		{"initialize without checkpoint", EncodeInitialize("s", nil, nil), `{"action":"initialize","shardId":"s","sequenceNumber":null,"subSequenceNumber":null}`},
		{"processRecords", EncodeProcessRecords([]Record{NewRecord([]byte("hi"), "pk", "123", 2, arrival), NewRecord(nil, "k", "124", 0, time.Time{})}, 42),
			`{"action":"processRecords","records":[{"data":"aGk=","partitionKey":"pk","sequenceNumber":"123","approximateArrivalTimestamp":1700000000123,"subSequenceNumber":2,"action":"record"},{"data":null,"partitionKey":"k","sequenceNumber":"124","approximateArrivalTimestamp":null,"subSequenceNumber":0,"action":"record"}],"millisBehindLatest":42}`},
		{"processRecords empty", EncodeProcessRecords(nil, 0), `{"action":"processRecords","records":[],"millisBehindLatest":0}`},
		{"leaseLost", EncodeBare(ActionLeaseLost), `{"action":"leaseLost"}`},
		{"shardEnded", EncodeBare(ActionShardEnded), `{"action":"shardEnded"}`},
		{"shutdownRequested", EncodeBare(ActionShutdownRequested), `{"action":"shutdownRequested"}`},
		{"shutdown v1", EncodeShutdown(ReasonTerminate), `{"action":"shutdown","reason":"TERMINATE"}`},
		{"checkpoint ok", EncodeCheckpointReply(ptr("5"), ptr(int64(1)), ""), `{"action":"checkpoint","sequenceNumber":"5","subSequenceNumber":1,"error":null}`},
		{"checkpoint error", EncodeCheckpointReply(nil, nil, ErrNameShutdown), `{"action":"checkpoint","sequenceNumber":null,"subSequenceNumber":null,"error":"ShutdownException"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(tc.line); got != tc.want+"\n" {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestParseMessage: what the clients send (Python sends numbers for sub-sequence numbers,
// Node.js null sequence numbers), and what is not a message.
func TestParseMessage(t *testing.T) {
	cases := []struct {
		line string
		want Message
		err  bool
	}{
		{line: `{"action":"status","responseFor":"processRecords"}`, want: Message{Action: ActionStatus, ResponseFor: ActionProcessRecords}},
		{line: `{"action": "checkpoint", "sequenceNumber": null}`, want: Message{Action: ActionCheckpoint}},
		{line: `{"action":"checkpoint","sequenceNumber":"123","subSequenceNumber":4}`, want: Message{Action: ActionCheckpoint, SequenceNumber: ptr("123"), SubSequenceNumber: ptr(int64(4))}},
		{line: `{"action":"checkpoint","sequenceNumber":123,"subSequenceNumber":"4"}`, want: Message{Action: ActionCheckpoint, SequenceNumber: ptr("123"), SubSequenceNumber: ptr(int64(4))}},
		{line: `{"action":"checkpoint","sequenceNumber":"1","subSequenceNumber":null}`, want: Message{Action: ActionCheckpoint, SequenceNumber: ptr("1")}},
		{line: `{"action":"checkpoint","sequenceNumber":{}}`, err: true},
		{line: `{"action":"checkpoint","subSequenceNumber":"x"}`, err: true},
		{line: `{"action":"initialize"}`, err: true},
		{line: `{"responseFor":"x"}`, err: true},
		{line: `[1]`, err: true},
		{line: `print output`, err: true},
		{line: `{"action":`, err: true},
	}
	for _, tc := range cases {
		got, err := ParseMessage([]byte(tc.line))
		if tc.err {
			if !errors.Is(err, ErrNotAMessage) {
				t.Errorf("%s: error %v; want ErrNotAMessage", tc.line, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tc.line, diff)
		}
	}
}

// TestMessageReader: stray lines are skipped and reported, over-long lines too, and a last
// line without a newline still counts.
func TestMessageReader(t *testing.T) {
	long := strings.Repeat("x", MaxLineBytes+10)
	input := "\nhello from a library\n" + long + "\n" + `{"action":"status","responseFor":"initialize"}` + "\r\n" +
		`{"foo":1}` + "\n" + `{"action":"checkpoint","sequenceNumber":null}`
	r := NewMessageReader(strings.NewReader(input))
	var skipped []string
	r.Skipped = func(line []byte, err error) { skipped = append(skipped, string(line[:min(len(line), 5)])) }
	var got []string
	for {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Action)
	}
	if diff := cmp.Diff([]string{ActionStatus, ActionCheckpoint}, got); diff != "" {
		t.Errorf("messages (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]string{"hello", "xxxxx", `{"foo`}, skipped); diff != "" {
		t.Errorf("skipped (-want +got)\n%s", diff)
	}
}

// FuzzMessageReader: any bytes on a child's stdout give messages or skipped lines and end
// with the reader's error, never a panic; every message re-encodes to JSON.
func FuzzMessageReader(f *testing.F) {
	f.Add([]byte(`{"action":"status","responseFor":"processRecords"}` + "\n"))
	f.Add([]byte("junk\n{\"action\":\"checkpoint\",\"sequenceNumber\":123,\"subSequenceNumber\":\"7\"}"))
	f.Add([]byte(`{"action":"checkpoint","sequenceNumber":1e999}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewMessageReader(strings.NewReader(string(data)))
		for range len(data) + 1 {
			m, err := r.Next()
			if err != nil {
				if err != io.EOF {
					t.Fatalf("error %v", err)
				}
				return
			}
			if m.Action != ActionStatus && m.Action != ActionCheckpoint {
				t.Fatalf("message %+v", m)
			}
			if _, err := json.Marshal(m); err != nil {
				t.Fatal(err)
			}
		}
		t.Fatal("more messages than lines")
	})
}

// BenchmarkEncodeProcessRecords is the daemon's cost per record for the message it writes
// most: a 500-record batch of 100-byte records.
func BenchmarkEncodeProcessRecords(b *testing.B) {
	records := make([]kclRecord, 500)
	for i := range records {
		records[i] = kclRecord{Data: make([]byte, 100), PartitionKey: "pk-" + strings.Repeat("x", 10), SequenceNumber: "49590338271490256608559692538361571095921575989136588898", ApproximateArrivalTimestamp: time.Now()}
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = processRecordsLine(records, 0)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(records)), "ns/record")
}

// BenchmarkParseMessage is the cost of reading one checkpoint request.
func BenchmarkParseMessage(b *testing.B) {
	line := []byte(`{"action":"checkpoint","sequenceNumber":"49590338271490256608559692538361571095921575989136588898","subSequenceNumber":0}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMessage(line); err != nil {
			b.Fatal(err)
		}
	}
}

type kclRecord = kcl.Record

// FuzzEncodeProcessRecords: the allocation-free encoder writes exactly what encoding/json
// writes for the same records.
func FuzzEncodeProcessRecords(f *testing.F) {
	f.Add([]byte("data"), "pk", "123", uint64(0), int64(1700000000123), int64(5))
	f.Add([]byte(nil), "<&>\"\\\n\x01\u2028\xff", "", uint64(1<<63), int64(0), int64(-1))
	f.Fuzz(func(t *testing.T, data []byte, pk, seq string, sub uint64, arrivalMs, behind int64) {
		var arrival time.Time
		if arrivalMs != 0 {
			arrival = time.UnixMilli(arrivalMs)
		}
		records := []kclRecord{{Data: data, PartitionKey: pk, SequenceNumber: seq, SubSequenceNumber: sub, ApproximateArrivalTimestamp: arrival}, {Data: []byte{}, PartitionKey: seq, SequenceNumber: pk}}
		want := EncodeProcessRecords([]Record{
			NewRecord(data, pk, seq, sub, arrival), NewRecord([]byte{}, seq, pk, 0, time.Time{}),
		}, behind)
		got := appendProcessRecords(nil, records, behind)
		if string(got) != string(want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

// BenchmarkEncodeProcessRecordsJSON is the same batch through encoding/json, for comparison.
func BenchmarkEncodeProcessRecordsJSON(b *testing.B) {
	records := make([]Record, 500)
	for i := range records {
		records[i] = NewRecord(make([]byte, 100), "pk-"+strings.Repeat("x", 10), "49590338271490256608559692538361571095921575989136588898", 0, time.Now())
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = EncodeProcessRecords(records, 0)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(records)), "ns/record")
}
