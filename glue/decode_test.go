package glue

import (
	"bytes"
	"compress/zlib"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kclgo/kcl/aggregation"
)

func mustID(t testing.TB, s string) SchemaVersionID {
	t.Helper()
	id, err := ParseSchemaVersionID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// frameOf frames payload the way the serializer does (zlib through Go's compress/zlib:
// for error cases and round trips only; the vectors use an independent encoder).
func frameOf(t testing.TB, id string, c Compression, payload []byte) []byte {
	t.Helper()
	sid := mustID(t, id)
	out := append([]byte{headerVersion, byte(c)}, sid[:]...)
	if c == CompressionZlib {
		var b bytes.Buffer
		w := zlib.NewWriter(&b)
		w.Write(payload)
		w.Close()
		payload = b.Bytes()
	}
	return append(out, payload...)
}

func TestSchemaVersionIDRoundTrip(t *testing.T) {
	for _, s := range []string{idA, "b7b4a7f0-9c96-4e4a-a687-fb5de9ef0c63"} {
		if got := mustID(t, s).String(); got != s {
			t.Errorf("%s round-trips to %s", s, got)
		}
	}
	for _, bad := range []string{"", "b7b4a7f09c964e4aa687fb5de9ef0c63", "b7b4a7f0-9c96-4e4a-a687-fb5de9ef0c6g", "b7b4a7f0-9c96-4e4a-a687_fb5de9ef0c63"} {
		if _, err := ParseSchemaVersionID(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParseFrame(t *testing.T) {
	id := mustID(t, idA)
	ok := frameOf(t, idA, CompressionNone, []byte("xyz"))
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrNotFramed},
		{"header only minus one", ok[:17], ErrNotFramed},
		{"other version byte", append([]byte{2}, ok[1:]...), ErrNotFramed},
		{"unknown compression", append([]byte{3, 1}, ok[2:]...), ErrUnknownCompression},
		{"header only", ok[:18], nil},
		{"framed", ok, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFrame(tt.data)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			var fe *FrameError
			if err != nil && !errors.As(err, &fe) {
				t.Errorf("%T is not a *FrameError", err)
			}
			if err == nil && (f.SchemaVersionID != id || !bytes.Equal(f.Payload, tt.data[18:])) {
				t.Errorf("frame %+v", f)
			}
		})
	}
}

const (
	userSchema = `{"type":"record","name":"User","fields":[{"name":"name","type":"string"},{"name":"age","type":"int"}]}`
	jsonSchema = `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}},"required":["name"]}`
	tsProto    = "syntax = \"proto3\";\npackage google.protobuf;\nmessage Timestamp { int64 seconds = 1; int32 nanos = 2; }\n"
)

// avroUser is an Avro datum of userSchema: name as a length-prefixed string (zig-zag),
// age as a zig-zag int.
func avroUser(name string, age int) []byte {
	b := protowire.AppendVarint(nil, uint64(len(name))<<1)
	b = append(b, name...)
	return protowire.AppendVarint(b, uint64(age)<<1)
}

func TestDecodeErrors(t *testing.T) {
	reg := newRegistry(t)
	reg.add(idA, "AVRO", userSchema)
	reg.add(idB, "JSON", jsonSchema)
	reg.add(idC, "PROTOBUF", tsProto)
	reg.add(idD, "AVRO", `{"type":"array","items":"long"}`)
	d, err := NewDecoder(reg.client(1), WithMaxPayloadSize(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	bomb := make([]byte, 4<<20)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"avro truncated", frameOf(t, idA, CompressionNone, avroUser("ada", 36)[:3]), ErrCorruptPayload},
		{"zlib corrupt", append(frameOf(t, idA, CompressionNone, nil), 0x78, 0x9c, 0xff, 0xff), ErrCorruptPayload},
		{"zlib truncated", frameOf(t, idA, CompressionZlib, avroUser("ada", 36))[:22], ErrCorruptPayload},
		{"zlib bomb", frameOf(t, idA, CompressionZlib, bomb), ErrPayloadTooLarge},
		{"uncompressed too large", frameOf(t, idA, CompressionNone, bomb), ErrPayloadTooLarge},
		{"json invalid", frameOf(t, idB, CompressionNone, []byte(`{"name":`)), ErrCorruptPayload},
		{"json trailing", frameOf(t, idB, CompressionNone, []byte(`{"name":"a"} x`)), ErrCorruptPayload},
		{"json fails schema", frameOf(t, idB, CompressionNone, []byte(`{"age":-1}`)), ErrValidation},
		{"protobuf no index", frameOf(t, idC, CompressionNone, nil), ErrCorruptPayload},
		{"protobuf index out of range", frameOf(t, idC, CompressionNone, []byte{1}), ErrCorruptPayload},
		{"protobuf bad message", frameOf(t, idC, CompressionNone, []byte{0, 0x0a, 0x05}), ErrCorruptPayload},
		{"avro array count past the payload", frameOf(t, idD, CompressionNone, protowire.AppendVarint(nil, uint64(1<<40)<<1)), ErrCorruptPayload},
		{"unknown schema", frameOf(t, "44444444-4444-4444-8444-444444444444", CompressionNone, []byte("{}")), ErrSchemaNotFound},
		{"not framed", []byte("plain text record"), ErrNotFramed},
		{"unknown compression", append([]byte{3, 7}, frameOf(t, idA, CompressionNone, nil)[2:]...), ErrUnknownCompression},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := d.Decode(t.Context(), tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if m != nil && !errors.Is(m.Err, tt.want) {
				t.Errorf("Message.Err %v", m.Err)
			}
		})
	}
	// Validation off: the same payload decodes.
	d2, _ := NewDecoder(reg.client(1), WithoutJSONValidation())
	defer d2.Close()
	if _, err := d2.Decode(t.Context(), frameOf(t, idB, CompressionNone, []byte(`{"age":-1}`))); err != nil {
		t.Errorf("WithoutJSONValidation: %v", err)
	}
}

type user struct {
	Name string `avro:"name" json:"name"`
	Age  int    `avro:"age" json:"age"`
}

func TestDecodeRecordsAndAs(t *testing.T) {
	reg := newRegistry(t)
	reg.add(idA, "AVRO", userSchema)
	reg.add(idB, "JSON", jsonSchema)
	reg.add(idC, "PROTOBUF", tsProto)
	d, err := NewDecoder(reg.client(1))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ts := protowire.AppendTag(nil, 1, protowire.VarintType)
	ts = protowire.AppendVarint(ts, 1700000000)
	recs := []aggregation.UserRecord{
		{SequenceNumber: "1", Data: frameOf(t, idA, CompressionZlib, avroUser("ada", 36))},
		{SequenceNumber: "2", Data: []byte("not framed")},
		{SequenceNumber: "3", Data: frameOf(t, idA, CompressionNone, []byte{0x09})}, // truncated
		{SequenceNumber: "4", Data: frameOf(t, idB, CompressionNone, []byte(`{"name":"bob","age":7}`))},
		{SequenceNumber: "5", Data: frameOf(t, idC, CompressionNone, append([]byte{0}, ts...))},
	}
	orig := make([][]byte, len(recs))
	for i := range recs {
		orig[i] = bytes.Clone(recs[i].Data)
	}
	d.DecodeRecords(t.Context(), "s", "shardId-0", recs)
	for i := range recs {
		if !bytes.Equal(recs[i].Data, orig[i]) {
			t.Errorf("record %d: data changed", i)
		}
	}
	if u, err := As[user](recs[0]); err != nil || u != (user{"ada", 36}) {
		t.Errorf("As[user] avro: %+v, %v", u, err)
	}
	if m, ok := From(recs[0]); !ok || m.SchemaName != "schema-11111111" || m.DataFormat != Avro || m.Compression != CompressionZlib {
		t.Errorf("From: %+v", m)
	}
	if recs[1].Decoded != nil {
		t.Errorf("a record without the header got %v", recs[1].Decoded)
	}
	if _, err := As[user](recs[1]); !errors.Is(err, ErrNotFramed) {
		t.Errorf("As on a passed-through record: %v", err)
	}
	_, err = As[user](recs[2])
	var re *RecordError
	if !errors.As(err, &re) || re.SequenceNumber != "3" || re.ShardID != "shardId-0" || !errors.Is(err, ErrCorruptPayload) {
		t.Errorf("bad record: %v", err)
	}
	if u, err := As[user](recs[3]); err != nil || u != (user{"bob", 7}) {
		t.Errorf("As[user] json: %+v, %v", u, err)
	}
	if v, err := As[map[string]any](recs[3]); err != nil || v["name"] != "bob" {
		t.Errorf("As[map] json: %v, %v", v, err)
	}
	if got, err := As[*timestamppb.Timestamp](recs[4]); err != nil || got.AsTime() != time.Unix(1700000000, 0).UTC() {
		t.Errorf("As[*timestamppb.Timestamp]: %v, %v", got, err)
	}
	if _, err := As[*durationpb.Duration](recs[4]); !errors.Is(err, ErrTypeMismatch) {
		t.Errorf("As with another message type: %v", err)
	}
	if _, err := As[chan int](recs[0]); !errors.Is(err, ErrTypeMismatch) {
		t.Errorf("As[chan int]: %v", err)
	}
	st := d.Stats()
	if st.Decoded != 3 || st.DecodeErrors != 1 || st.PassedThrough != 1 {
		t.Errorf("stats %+v", st)
	}

	strict, _ := NewDecoder(reg.client(1), Strict())
	defer strict.Close()
	recs = []aggregation.UserRecord{{SequenceNumber: "9", Data: []byte("not framed")}, {SequenceNumber: "10", Data: []byte{0xf3, 0x89, 0x9a, 0xc2}, Corrupt: true}}
	strict.DecodeRecords(t.Context(), "s", "shardId-0", recs)
	if m, ok := From(recs[0]); !ok || !errors.Is(m.Err, ErrNotFramed) || !errors.As(m.Err, &re) {
		t.Errorf("strict: %v", m)
	}
	if recs[1].Decoded != nil {
		t.Errorf("a corrupt aggregate got %v", recs[1].Decoded)
	}
}
