package glue

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/kclgo/kcl/internal/testenv"
)

type vectorFile struct {
	Vectors []vector `json:"vectors"`
}

type vector struct {
	Name             string          `json:"name"`
	SchemaVersionID  string          `json:"schema_version_id"`
	DataFormat       string          `json:"data_format"`
	SchemaDefinition string          `json:"schema_definition"`
	Compression      string          `json:"compression"`
	MessageFullName  string          `json:"message_full_name"`
	RecordBase64     string          `json:"record_base64"`
	Expected         json.RawMessage `json:"expected_value"`
}

func loadVectors(t testing.TB, path string) []vector {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(f.Vectors) == 0 {
		t.Fatalf("%s: no vectors", path)
	}
	return f.Vectors
}

// TestVectors decodes the registry serializer's own samples and the independently
// encoded ones (zlib and Protobuf, glue/testdata/gen/gen.mjs), each through a real
// *glue.Client against a registry on loopback that knows only that vector's schema (two
// vectors share one id with different formats).
func TestVectors(t *testing.T) {
	all := loadVectors(t, testenv.SharedFile(t, "testdata/glue/glue_vectors.json"))
	all = append(all, loadVectors(t, "testdata/independent_vectors.json")...)
	seen := map[string]bool{}
	for _, v := range all {
		seen[v.DataFormat+"/"+v.Compression] = true
		t.Run(v.Name, func(t *testing.T) {
			reg := newRegistry(t)
			reg.add(v.SchemaVersionID, v.DataFormat, v.SchemaDefinition)
			d, err := NewDecoder(reg.client(1))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			data, err := base64.StdEncoding.DecodeString(v.RecordBase64)
			if err != nil {
				t.Fatal(err)
			}
			m, err := d.Decode(t.Context(), data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if m.SchemaVersionID.String() != v.SchemaVersionID || string(m.DataFormat) != v.DataFormat || m.SchemaName != "schema-"+v.SchemaVersionID[:8] {
				t.Errorf("Message names %s %s %q, want %s %s", m.SchemaVersionID, m.DataFormat, m.SchemaName, v.SchemaVersionID, v.DataFormat)
			}
			if want := map[string]Compression{"": CompressionNone, "none": CompressionNone, "zlib": CompressionZlib}[v.Compression]; m.Compression != want {
				t.Errorf("Compression %v, want %v", m.Compression, want)
			}
			switch m.DataFormat {
			case Protobuf:
				got, ok := m.Value.(*dynamicpb.Message)
				if !ok {
					t.Fatalf("Value is a %T", m.Value)
				}
				if string(got.Descriptor().FullName()) != v.MessageFullName {
					t.Fatalf("decoded a %s, want a %s", got.Descriptor().FullName(), v.MessageFullName)
				}
				want := dynamicpb.NewMessage(got.Descriptor())
				if err := protojson.Unmarshal(v.Expected, want); err != nil {
					t.Fatalf("expected value: %v", err)
				}
				if !proto.Equal(got, want) {
					t.Errorf("decoded %v\nwant %v", got, want)
				}
			default:
				// Compare as JSON: the expected values are JSON, and both Avro's
				// generic values and JSON's json.Number render as the same text.
				gotJSON, err := json.Marshal(m.Value)
				if err != nil {
					t.Fatal(err)
				}
				var got, want any
				mustUnmarshal(t, gotJSON, &got)
				mustUnmarshal(t, v.Expected, &want)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("decoded value (-want +got):\n%s", diff)
				}
			}
		})
	}
	for _, k := range []string{"AVRO/", "JSON/", "AVRO/zlib", "JSON/zlib", "PROTOBUF/none", "PROTOBUF/zlib"} {
		if !seen[k] {
			t.Errorf("no vector of %s", k)
		}
	}
}

func mustUnmarshal(t testing.TB, b []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}
