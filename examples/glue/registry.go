package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	gluesdk "github.com/aws/aws-sdk-go-v2/service/glue"
)

type registryEntry struct {
	format, name, definition string
}

// registry answers GetSchemaVersion on loopback in AWS Glue's JSON 1.1 protocol, standing
// in for the service, which has no local emulator.
type registry struct {
	srv *http.Server
	url string
}

func startRegistry(schemas map[string]registryEntry) (*registry, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ SchemaVersionId string }
		if r.Header.Get("X-Amz-Target") != "AWSGlue.GetSchemaVersion" || json.NewDecoder(r.Body).Decode(&in) != nil {
			http.Error(w, `{"__type":"InvalidInputException"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		e, ok := schemas[in.SchemaVersionId]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"EntityNotFoundException","Message":"no schema version %s"}`, in.SchemaVersionId)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"SchemaVersionId": in.SchemaVersionId, "DataFormat": e.format, "SchemaDefinition": e.definition,
			"SchemaArn": "arn:aws:glue:us-east-1:123456789012:schema/example/" + e.name,
			"Status":    "AVAILABLE", "VersionNumber": 1,
		})
	})
	reg := &registry{srv: &http.Server{Handler: mux}, url: "http://" + ln.Addr().String()}
	go reg.srv.Serve(ln)
	return reg, nil
}

// Client is a real *glue.Client pointed at the stand-in.
func (r *registry) Client() *gluesdk.Client {
	return gluesdk.New(gluesdk.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(r.url),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

func (r *registry) Close() error { return r.srv.Close() }
