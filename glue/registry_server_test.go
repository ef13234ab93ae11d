package glue

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	gluesdk "github.com/aws/aws-sdk-go-v2/service/glue"
)

// registry serves GetSchemaVersion on loopback the way AWS Glue does: the JSON 1.1
// protocol (POST /, X-Amz-Target AWSGlue.GetSchemaVersion), errors as __type plus
// Message. No emulator of Glue exists; faults are injected per schema version id.
type registry struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	versions map[string]registryVersion
	calls    map[string]int
	// fail, when set for an id, answers its next calls with that error instead.
	fail map[string]registryFault
	// gate, when set, holds every answer until it is closed.
	gate chan struct{}
}

type registryVersion struct {
	format, definition, status, schemaName string
}

type registryFault struct {
	status  int
	errType string
	times   int // how many calls fail; -1 for all
}

func newRegistry(t testing.TB) *registry {
	r := &registry{t: t, versions: map[string]registryVersion{}, calls: map[string]int{}, fail: map[string]registryFault{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *registry) add(id, format, definition string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.versions[id] = registryVersion{format: format, definition: definition, status: "AVAILABLE", schemaName: "schema-" + id[:8]}
}

func (r *registry) set(id string, v registryVersion) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.versions[id] = v
}

func (r *registry) inject(id string, f registryFault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail[id] = f
}

func (r *registry) callsFor(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[id]
}

func (r *registry) hold() chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gate = make(chan struct{})
	return r.gate
}

func (r *registry) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.Header.Get("X-Amz-Target") != "AWSGlue.GetSchemaVersion" ||
		req.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		r.t.Errorf("registry: unexpected request %s %s target %q content type %q", req.Method, req.URL, req.Header.Get("X-Amz-Target"), req.Header.Get("Content-Type"))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var in struct {
		SchemaVersionId string
	}
	if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
		r.t.Errorf("registry: body: %v", err)
		return
	}
	r.mu.Lock()
	r.calls[in.SchemaVersionId]++
	gate := r.gate
	f, faulty := r.fail[in.SchemaVersionId]
	if faulty && f.times != 0 {
		if f.times > 0 {
			f.times--
			r.fail[in.SchemaVersionId] = f
		}
	} else {
		faulty = false
	}
	v, known := r.versions[in.SchemaVersionId]
	r.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-req.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch {
	case faulty:
		writeGlueError(w, f.status, f.errType, "injected fault")
	case !known:
		writeGlueError(w, http.StatusBadRequest, "EntityNotFoundException", "Schema version is not found.")
	default:
		json.NewEncoder(w).Encode(map[string]any{
			"SchemaVersionId":  in.SchemaVersionId,
			"SchemaDefinition": v.definition,
			"DataFormat":       v.format,
			"SchemaArn":        "arn:aws:glue:us-east-1:123456789012:schema/test-registry/" + v.schemaName,
			"VersionNumber":    1,
			"Status":           v.status,
			"CreatedTime":      "2024-01-01T00:00:00.000Z",
		})
	}
}

func writeGlueError(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("X-Amzn-ErrorType", errType)
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"__type":%q,"Message":%q}`, errType, msg)
}

// client is a real *glue.Client pointed at the server. maxAttempts 1 makes every SDK
// attempt visible as one call; 0 keeps the SDK's standard retries.
func (r *registry) client(maxAttempts int) *gluesdk.Client {
	return gluesdk.New(gluesdk.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(r.srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		RetryMaxAttempts: maxAttempts,
	})
}
