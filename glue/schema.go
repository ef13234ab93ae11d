package glue

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/hamba/avro/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// DataFormat is a schema's format as the registry names it.
type DataFormat string

// The formats the registry knows, all of which this package decodes.
const (
	Avro     DataFormat = "AVRO"
	JSON     DataFormat = "JSON"
	Protobuf DataFormat = "PROTOBUF"
)

// Schema is one schema version as the registry returned it, parsed for decoding.
type Schema struct {
	VersionID SchemaVersionID
	Format    DataFormat
	// Name and Registry come from the schema's ARN.
	Name     string
	Registry string
	// ARN is the schema's ARN (not the version's).
	ARN string
	// VersionNumber is the version's number within its schema.
	VersionNumber int64
	// Definition is the schema's text: Avro JSON, a JSON Schema or a .proto file.
	Definition string

	avro     avro.Schema
	json     *jsonschema.Schema
	messages []protoreflect.MessageDescriptor // by message index
}

// parseSchema compiles s.Definition for its format.
func parseSchema(ctx context.Context, s *Schema) error {
	var err error
	switch s.Format {
	case Avro:
		// A cache of its own: hamba's default cache is shared by the whole process, where
		// two versions of one named record would resolve each other's references.
		s.avro, err = avro.ParseWithCache(s.Definition, "", &avro.SchemaCache{})
	case JSON:
		s.json, err = compileJSONSchema(s.VersionID, s.Definition)
	case Protobuf:
		s.messages, err = compileProto(ctx, s.Definition)
	default:
		return fmt.Errorf("%w: data format %q is not AVRO, JSON or PROTOBUF", ErrInvalidSchema, s.Format)
	}
	if err != nil {
		return fmt.Errorf("%w: %s schema version %s: %w", ErrInvalidSchema, s.Format, s.VersionID, err)
	}
	return nil
}

// refusingLoader keeps JSON Schema $refs from reaching files or the network: a schema from
// the registry must be complete in itself.
type refusingLoader struct{}

func (refusingLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("$ref to %s: only references inside the schema are resolved", url)
}

func compileJSONSchema(id SchemaVersionID, def string) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(def))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(refusingLoader{})
	// The registry's JSON Schemas are draft-07 unless they say otherwise.
	c.DefaultDraft(jsonschema.Draft7)
	loc := "urn:glue:schema-version:" + id.String()
	if err := c.AddResource(loc, doc); err != nil {
		return nil, err
	}
	return c.Compile(loc)
}

// protoFile is the name the registry's .proto text compiles under; imports other than
// Google's well-known types cannot be resolved, as in the registry's own serializer.
const protoFile = "glue_schema.proto"

func compileProto(ctx context.Context, def string) ([]protoreflect.MessageDescriptor, error) {
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: protocompile.SourceAccessorFromMap(map[string]string{protoFile: def}),
		}),
	}
	files, err := c.Compile(ctx, protoFile)
	if err != nil {
		return nil, err
	}
	return messageIndex(files[0]), nil
}

// messageIndex lists every message of the file, nested ones included, sorted by fully
// qualified name: a record's message index is a position in this list.
func messageIndex(fd protoreflect.FileDescriptor) []protoreflect.MessageDescriptor {
	var all []protoreflect.MessageDescriptor
	var walk func(ms protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := range ms.Len() {
			m := ms.Get(i)
			// Map entries count: they are nested types of their message in the
			// serializer's (Java) descriptors too.
			all = append(all, m)
			walk(m.Messages())
		}
	}
	walk(fd.Messages())
	slices.SortFunc(all, func(a, b protoreflect.MessageDescriptor) int {
		return strings.Compare(string(a.FullName()), string(b.FullName()))
	})
	return all
}
