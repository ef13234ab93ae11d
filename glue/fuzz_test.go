package glue

import (
	"bytes"
	"compress/zlib"
	"errors"
	"testing"
)

func FuzzParseFrame(f *testing.F) {
	f.Add([]byte{})
	f.Add(append([]byte{3, 0}, make([]byte, 16)...))
	f.Add(append([]byte{3, 5}, make([]byte, 20)...))
	f.Add(append([]byte{3, 9}, make([]byte, 20)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ParseFrame(data)
		if err != nil {
			if !errors.Is(err, ErrNotFramed) && !errors.Is(err, ErrUnknownCompression) {
				t.Fatalf("untyped error %v", err)
			}
			if framed(data) && errors.Is(err, ErrNotFramed) {
				t.Fatalf("framed() and ParseFrame disagree on %x", data)
			}
			return
		}
		if len(fr.Payload) != len(data)-HeaderSize || !bytes.Equal(fr.SchemaVersionID[:], data[2:18]) {
			t.Fatalf("frame %+v of %x", fr, data)
		}
	})
}

// FuzzDecompress feeds zlib streams, whole, cut and corrupted, through the bounded inflater.
func FuzzDecompress(f *testing.F) {
	for _, s := range [][]byte{[]byte("hello"), make([]byte, 5000), nil} {
		var b bytes.Buffer
		w := zlib.NewWriter(&b)
		w.Write(s)
		w.Close()
		f.Add(b.Bytes(), 1024)
	}
	f.Add([]byte{0x78, 0x9c, 0xff}, 10)
	f.Fuzz(func(t *testing.T, payload []byte, limit int) {
		if limit <= 0 || limit > 1<<20 {
			limit = 4096
		}
		out, err := Frame{Compression: CompressionZlib, Payload: payload}.decompress(limit, nil)
		if err != nil {
			if !errors.Is(err, ErrCorruptPayload) && !errors.Is(err, ErrPayloadTooLarge) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(out) > limit {
			t.Fatalf("%d bytes past the limit %d", len(out), limit)
		}
	})
}

// fuzzPayload decodes payload with a schema parsed in-process, the decoder's entry point
// behind the registry.
func fuzzPayload(f *testing.F, format DataFormat, def string, seeds ...[]byte) {
	s := &Schema{VersionID: mustID(f, idA), Format: format, Definition: def}
	if err := parseSchema(f.Context(), s); err != nil {
		f.Fatal(err)
	}
	d, err := NewDecoder(noRegistry{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { d.Close() })
	for _, seed := range seeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var m Message
		if err := d.decodePayload(s, payload, &m); err != nil {
			if !errors.Is(err, ErrCorruptPayload) && !errors.Is(err, ErrValidation) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if m.Value == nil && format != JSON {
			t.Fatalf("no value and no error")
		}
	})
}

const fuzzAvroSchema = `{"type":"record","name":"R","fields":[
 {"name":"s","type":"string"},{"name":"n","type":["null","long"]},{"name":"b","type":"bytes"},
 {"name":"a","type":{"type":"array","items":"double"}},{"name":"m","type":{"type":"map","values":"int"}},
 {"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"]}},{"name":"f","type":{"type":"fixed","name":"F","size":4}}]}`

func FuzzDecodeAvro(f *testing.F) {
	fuzzPayload(f, Avro, fuzzAvroSchema, []byte{2, 'a', 2, 4, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'x', 'y', 'z', 'w'}, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, []byte{0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x04})
}

func FuzzDecodeJSON(f *testing.F) {
	fuzzPayload(f, JSON, jsonSchema, []byte(`{"name":"a","age":1}`), []byte(`[1,2`), []byte(`{"age":-1}`))
}

const fuzzProto = `syntax = "proto3";
package f;
import "google/protobuf/timestamp.proto";
message A { string s = 1; repeated int64 r = 2; map<string, B> m = 3; google.protobuf.Timestamp t = 4; oneof o { bytes b = 5; B nested = 6; } }
message B { message C { double d = 1; } C c = 1; sint32 z = 2; fixed64 x = 3; }
`

func FuzzDecodeProtobuf(f *testing.F) {
	fuzzPayload(f, Protobuf, fuzzProto, []byte{0, 0x0a, 1, 'x', 0x10, 5}, []byte{3, 0x09, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
}

// FuzzParseSchema compiles schema definitions as the registry might return them: a broken
// one must give ErrInvalidSchema, never a panic.
func FuzzParseSchema(f *testing.F) {
	f.Add(byte(0), fuzzAvroSchema)
	f.Add(byte(1), jsonSchema)
	f.Add(byte(2), fuzzProto)
	f.Add(byte(1), `{"$ref":"file:///etc/passwd"}`)
	f.Fuzz(func(t *testing.T, format byte, def string) {
		s := &Schema{VersionID: mustID(t, idA), Format: []DataFormat{Avro, JSON, Protobuf}[format%3], Definition: def}
		if err := parseSchema(t.Context(), s); err != nil && !errors.Is(err, ErrInvalidSchema) {
			t.Fatalf("untyped error %v", err)
		}
	})
}
