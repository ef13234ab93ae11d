package glue_test

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	gluesdk "github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/kclgo/kcl/aggregation"
	"github.com/kclgo/kcl/glue"
)

// oneSchema stands in for the registry in these examples; a program passes a *glue.Client
// of github.com/aws/aws-sdk-go-v2/service/glue (glue.NewFromConfig(awsConfig)).
type oneSchema struct{ format, definition string }

func (s oneSchema) GetSchemaVersion(_ context.Context, in *gluesdk.GetSchemaVersionInput, _ ...func(*gluesdk.Options)) (*gluesdk.GetSchemaVersionOutput, error) {
	return &gluesdk.GetSchemaVersionOutput{
		SchemaVersionId:  in.SchemaVersionId,
		DataFormat:       types.DataFormat(s.format),
		SchemaDefinition: aws.String(s.definition),
		SchemaArn:        aws.String("arn:aws:glue:us-east-1:123456789012:schema/default-registry/users"),
		Status:           types.SchemaVersionStatusAvailable,
	}, nil
}

// An Avro record as the registry's Java serializer wrote it.
const avroRecord = "AwC3tKfwnJZOSqaH+13p7wxjCnNhbnNhAMYBAAZyZWQ="

const userSchema = `{"namespace": "example.avro", "type": "record", "name": "User", "fields": [
 {"name": "name", "type": "string"},
 {"name": "favorite_number", "type": ["int", "null"]},
 {"name": "favorite_color", "type": ["string", "null"]}]}`

func ExampleDecoder_Decode() {
	d, err := glue.NewDecoder(oneSchema{"AVRO", userSchema})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	data, _ := base64.StdEncoding.DecodeString(avroRecord)
	m, err := d.Decode(context.Background(), data)
	if err != nil {
		panic(err)
	}
	fmt.Println(m.SchemaVersionID, m.DataFormat, m.SchemaName)
	fmt.Println(m.Value)
	// Output:
	// b7b4a7f0-9c96-4e4a-a687-fb5de9ef0c63 AVRO users
	// map[favorite_color:red favorite_number:99 name:sansa]
}

// User is the application's own type for the records.
type User struct {
	Name  string  `avro:"name"`
	Num   *int    `avro:"favorite_number"`
	Color *string `avro:"favorite_color"`
}

// As gives a record's value as the application's type. The consumer's Decoder
// (kcl.Config.Decoder) has set the record's Decoded; here DecodeRecords does it.
func ExampleAs() {
	d, err := glue.NewDecoder(oneSchema{"AVRO", userSchema})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	data, _ := base64.StdEncoding.DecodeString(avroRecord)
	records := []aggregation.UserRecord{{SequenceNumber: "1", Data: data}, {SequenceNumber: "2", Data: []byte("not framed")}}
	d.DecodeRecords(context.Background(), "users", "shardId-000000000000", records)
	for _, r := range records {
		u, err := glue.As[User](r)
		if err != nil {
			fmt.Println(r.SequenceNumber, "error:", err)
			continue
		}
		fmt.Println(r.SequenceNumber, u.Name, *u.Num, *u.Color)
	}
	// Output:
	// 1 sansa 99 red
	// 2 error: record 2: not Glue-framed: no decoded value (the record has no registry header, or no Decoder ran)
}

func ExampleParseFrame() {
	data, _ := base64.StdEncoding.DecodeString(avroRecord)
	f, err := glue.ParseFrame(data)
	if err != nil {
		panic(err)
	}
	fmt.Println(f.SchemaVersionID, f.Compression, len(f.Payload))
	_, err = glue.ParseFrame([]byte("plain"))
	fmt.Println(err)
	// Output:
	// b7b4a7f0-9c96-4e4a-a687-fb5de9ef0c63 none 14
	// glue: not Glue-framed: 5 bytes, shorter than the 18-byte header
}
