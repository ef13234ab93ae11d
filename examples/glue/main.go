// Command glue consumes a stream whose records were framed by the AWS Glue Schema Registry
// serializer (Avro, JSON and Protobuf), decoding each record with package glue: one field of
// kcl.Config turns decoding on, and every delivered record carries its schema version id,
// data format, schema name and decoded value, or its own error.
//
// Run it with `scripts/emulators.sh run go run ./examples/glue`. AWS Glue has no local
// emulator, so the example serves GetSchemaVersion itself on loopback (registry.go); against
// AWS, pass gluesdk.NewFromConfig(awsConfig) to glue.NewDecoder instead.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/examples/internal/local"
	"github.com/kclgo/kcl/glue"
)

// Order is the application's type for the Avro records.
type Order struct {
	ID    string `avro:"id"`
	Cents int64  `avro:"cents"`
}

const (
	avroID  = "6a0b1f7e-3c2d-4e5f-8a9b-0c1d2e3f4a5b"
	jsonID  = "7b1c2a8f-4d3e-4f60-9bac-1d2e3f4a5b6c"
	protoID = "8c2d3b9a-5e4f-4071-acbd-2e3f4a5b6c7d"
)

var schemas = map[string]registryEntry{
	avroID: {"AVRO", "orders-avro", `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"cents","type":"long"}]}`},
	jsonID: {"JSON", "orders-json", `{"type":"object","properties":{"id":{"type":"string"},"cents":{"type":"integer","minimum":0}},"required":["id","cents"]}`},
	protoID: {"PROTOBUF", "orders-proto", `syntax = "proto3";
package shop;
message Order { string id = 1; int64 cents = 2; }`},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "glue example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	clients, err := local.NewClients()
	if err != nil {
		return err
	}
	registry, err := startRegistry(schemas)
	if err != nil {
		return err
	}
	defer registry.Close()

	stream := fmt.Sprintf("glue-orders-%d", time.Now().Unix())
	if err := clients.CreateStream(ctx, stream, 1); err != nil {
		return err
	}
	records, err := produce(ctx, clients.Kinesis, stream)
	if err != nil {
		return err
	}

	dec, err := glue.NewDecoder(registry.Client())
	if err != nil {
		return err
	}
	defer dec.Close()
	c, err := kcl.New(kcl.Config{
		App: stream, Stream: stream, Kinesis: clients.Kinesis, DynamoDB: clients.DynamoDB,
		InitialPosition: kcl.TrimHorizon,
		Decoder:         dec, // decode Glue Schema Registry records before delivery
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	seen := 0
	err = c.Process(ctx, func(ctx context.Context, b kcl.Batch) error {
		for _, r := range b.Records {
			seen++
			m, ok := glue.From(r)
			switch {
			case !ok:
				fmt.Printf("%s  plain record %q\n", r.SequenceNumber[len(r.SequenceNumber)-6:], r.Data)
			case m.Err != nil:
				fmt.Printf("%s  did not decode: %v\n", r.SequenceNumber[len(r.SequenceNumber)-6:], errors.Unwrap(m.Err))
			case m.DataFormat == glue.Avro:
				o, err := glue.As[Order](r) // the application's own type
				fmt.Printf("%s  %-8s %-13s %+v %v\n", r.SequenceNumber[len(r.SequenceNumber)-6:], m.DataFormat, m.SchemaName, o, err)
			default:
				fmt.Printf("%s  %-8s %-13s %v\n", r.SequenceNumber[len(r.SequenceNumber)-6:], m.DataFormat, m.SchemaName, m.Value)
			}
		}
		if seen == records {
			cancel()
		}
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	st := dec.Stats()
	fmt.Printf("decoded %d, errors %d, passed through %d; %d registry calls for %d schemas\n",
		st.Decoded, st.DecodeErrors, st.PassedThrough, st.RegistryCalls, len(schemas))
	if seen != records {
		return fmt.Errorf("consumed %d of %d records", seen, records)
	}
	return nil
}

// produce puts a few framed records of each format, a plain one and a corrupt one, and
// returns how many. A real producer uses the registry's serializer (Java, Python, ...);
// here the framing is written by hand: version 3, compression 0, schema version id, payload.
func produce(ctx context.Context, k *kinesis.Client, stream string) (int, error) {
	avroSchema := avro.MustParse(schemas[avroID].definition)
	var datas [][]byte
	for i := range 3 {
		o := Order{ID: fmt.Sprintf("o-%d", i), Cents: int64(100 * (i + 1))}
		a, err := avro.Marshal(avroSchema, o)
		if err != nil {
			return 0, err
		}
		j, _ := json.Marshal(map[string]any{"id": o.ID, "cents": o.Cents})
		p := protowire.AppendVarint(nil, 0) // message index 0: shop.Order
		p = protowire.AppendTag(p, 1, protowire.BytesType)
		p = protowire.AppendString(p, o.ID)
		p = protowire.AppendTag(p, 2, protowire.VarintType)
		p = protowire.AppendVarint(p, uint64(o.Cents))
		datas = append(datas, frame(avroID, a), frame(jsonID, j), frame(protoID, p))
	}
	datas = append(datas, []byte("not a Glue record"), frame(jsonID, []byte(`{"id":"o-9","cents":-5}`)))
	entries := make([]types.PutRecordsRequestEntry, len(datas))
	for i, d := range datas {
		entries[i] = types.PutRecordsRequestEntry{Data: d, PartitionKey: aws.String("orders")}
	}
	out, err := k.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
	if err != nil {
		return 0, err
	}
	if n := aws.ToInt32(out.FailedRecordCount); n > 0 {
		return 0, fmt.Errorf("%d records not put", n)
	}
	return len(datas), nil
}

func frame(id string, payload []byte) []byte {
	sid, err := glue.ParseSchemaVersionID(id)
	if err != nil {
		panic(err) // the ids above are constants
	}
	return append(append([]byte{3, 0}, sid[:]...), payload...)
}
