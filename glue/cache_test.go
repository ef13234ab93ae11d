package glue

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	gluesdk "github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
)

const (
	idA = "11111111-1111-4111-8111-111111111111"
	idB = "22222222-2222-4222-8222-222222222222"
	idC = "33333333-3333-4333-8333-333333333333"
	idD = "55555555-5555-4555-8555-555555555555"
)

const avroV1 = `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`
const avroV2 = `{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`

// fakeClock is the cache's clock in these tests: time moves only when the test says.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// cacheHarness is a Decoder against a loopback registry, with a fake clock and a channel
// that reports every finished fetch.
type cacheHarness struct {
	reg     *registry
	d       *Decoder
	clock   *fakeClock
	fetched chan error
}

func newCacheHarness(t *testing.T, maxAttempts int, opts ...Option) *cacheHarness {
	t.Helper()
	h := &cacheHarness{reg: newRegistry(t), clock: &fakeClock{t: time.Unix(1_700_000_000, 0)}, fetched: make(chan error, 100)}
	d, err := NewDecoder(h.reg.client(maxAttempts), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	d.cache.now = h.clock.Now
	d.cache.onFetched = func(_ SchemaVersionID, err error) { h.fetched <- err }
	h.d = d
	return h
}

func (h *cacheHarness) schema(t *testing.T, id string) (*Schema, error) {
	t.Helper()
	sid, err := ParseSchemaVersionID(id)
	if err != nil {
		t.Fatal(err)
	}
	return h.d.Schema(t.Context(), sid)
}

// waitFetch waits for the next background fetch to finish and returns its error.
func (h *cacheHarness) waitFetch(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.fetched:
		return err
	case <-t.Context().Done():
		t.Fatal("no fetch finished")
		return nil
	}
}

func TestCacheSingleFlight(t *testing.T) {
	h := newCacheHarness(t, 1)
	h.reg.add(idA, "AVRO", avroV1)
	gate := h.reg.hold()
	const shards = 16
	var wg sync.WaitGroup
	errs := make([]error, shards)
	for i := range shards {
		wg.Go(func() { _, errs[i] = h.schema(t, idA) })
	}
	// Every shard is asking before the registry answers the one call.
	for h.d.Stats().Coalesced < shards-1 {
		select {
		case <-t.Context().Done():
			t.Fatalf("only %d look-ups waiting", h.d.Stats().Coalesced)
		case <-time.After(time.Millisecond):
		}
	}
	close(gate)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := h.reg.callsFor(idA); n != 1 {
		t.Errorf("%d registry calls for %d concurrent look-ups, want 1", n, shards)
	}
}

func TestCacheNegative(t *testing.T) {
	h := newCacheHarness(t, 1, WithNegativeTTL(time.Minute))
	for range 50 {
		_, err := h.schema(t, idA)
		var re *RegistryError
		var nf *types.EntityNotFoundException
		if !errors.Is(err, ErrSchemaNotFound) || !errors.As(err, &re) || !errors.As(err, &nf) {
			t.Fatalf("unknown id: %v, want ErrSchemaNotFound from an EntityNotFoundException", err)
		}
	}
	if n := h.reg.callsFor(idA); n != 1 {
		t.Fatalf("%d calls for an unknown id looked up 50 times, want 1", n)
	}
	h.reg.add(idA, "AVRO", avroV1) // registered since
	h.clock.Advance(59 * time.Second)
	if _, err := h.schema(t, idA); !errors.Is(err, ErrSchemaNotFound) {
		t.Fatalf("within the negative TTL: %v", err)
	}
	h.clock.Advance(time.Second)
	if _, err := h.schema(t, idA); err != nil {
		t.Fatalf("after the negative TTL: %v", err)
	}
	if n := h.reg.callsFor(idA); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

func TestCacheNotAvailable(t *testing.T) {
	for _, status := range []string{"PENDING", "FAILURE", "DELETING"} {
		t.Run(status, func(t *testing.T) {
			h := newCacheHarness(t, 1)
			h.reg.set(idA, registryVersion{format: "AVRO", definition: avroV1, status: status, schemaName: "s"})
			for range 3 {
				if _, err := h.schema(t, idA); !errors.Is(err, ErrSchemaNotAvailable) {
					t.Fatalf("status %s: %v, want ErrSchemaNotAvailable", status, err)
				}
			}
			if n := h.reg.callsFor(idA); n != 1 {
				t.Errorf("%d calls, want 1 (cached negatively)", n)
			}
		})
	}
}

func TestCacheInvalidSchema(t *testing.T) {
	h := newCacheHarness(t, 1)
	h.reg.add(idA, "AVRO", `{"type":"record"`)
	h.reg.add(idB, "XML", `<x/>`)
	h.reg.add(idC, "PROTOBUF", `message { broken`)
	for _, id := range []string{idA, idB, idC} {
		if _, err := h.schema(t, id); !errors.Is(err, ErrInvalidSchema) {
			t.Errorf("%s: %v, want ErrInvalidSchema", id, err)
		}
	}
}

// A schema past its refresh age keeps serving at once while the registry is asked again in
// the background; the new definition serves once that fetch is back.
func TestCacheRefreshInBackground(t *testing.T) {
	h := newCacheHarness(t, 1, WithRefreshAge(time.Hour))
	h.reg.add(idA, "AVRO", avroV1)
	if _, err := h.schema(t, idA); err != nil {
		t.Fatal(err)
	}
	if err := h.waitFetch(t); err != nil {
		t.Fatal(err)
	}
	h.reg.add(idA, "AVRO", avroV2)
	gate := h.reg.hold()
	h.clock.Advance(time.Hour)
	// The registry holds its answer: a look-up that waited for it would never return.
	for range 5 {
		s, err := h.schema(t, idA)
		if err != nil || s.Definition != avroV1 {
			t.Fatalf("during the refresh: %v, %v", s, err)
		}
	}
	close(gate)
	if err := h.waitFetch(t); err != nil {
		t.Fatal(err)
	}
	s, err := h.schema(t, idA)
	if err != nil || s.Definition != avroV2 {
		t.Fatalf("after the refresh: %+v, %v", s, err)
	}
	if n := h.reg.callsFor(idA); n != 2 {
		t.Errorf("%d calls, want 2 (one refresh for all look-ups)", n)
	}
}

// When the refresh fails, the old schema goes on serving, the failure is counted, and the
// refresh is tried again after the back-off, not on every look-up.
func TestCacheStaleOnRefreshFailure(t *testing.T) {
	h := newCacheHarness(t, 1, WithRefreshAge(time.Hour), WithFailureBackoff(10*time.Second))
	h.reg.add(idA, "AVRO", avroV1)
	if _, err := h.schema(t, idA); err != nil {
		t.Fatal(err)
	}
	h.waitFetch(t)
	h.reg.inject(idA, registryFault{status: http.StatusBadRequest, errType: "ThrottlingException", times: -1})
	h.clock.Advance(time.Hour)
	if s, err := h.schema(t, idA); err != nil || s.Definition != avroV1 {
		t.Fatalf("stale: %v, %v", s, err)
	}
	var te *types.ThrottlingException
	if err := h.waitFetch(t); !errors.As(err, &te) {
		t.Fatalf("refresh error %v, want the ThrottlingException", err)
	}
	for range 10 {
		if s, err := h.schema(t, idA); err != nil || s.Definition != avroV1 {
			t.Fatalf("after the failed refresh: %v, %v", s, err)
		}
	}
	if n := h.reg.callsFor(idA); n != 2 {
		t.Errorf("%d calls within the back-off, want 2", n)
	}
	if st := h.d.Stats(); st.RefreshFailures != 1 {
		t.Errorf("RefreshFailures %d, want 1", st.RefreshFailures)
	}
	h.reg.inject(idA, registryFault{})
	h.reg.add(idA, "AVRO", avroV2)
	h.clock.Advance(10 * time.Second)
	h.schema(t, idA)
	if err := h.waitFetch(t); err != nil {
		t.Fatal(err)
	}
	if s, _ := h.schema(t, idA); s.Definition != avroV2 {
		t.Errorf("after the back-off the refresh did not take")
	}
}

// A failed first fetch (after the SDK's retries) is remembered for the failure back-off,
// so records of that schema cost no call each, and then asked again.
func TestCacheFailureBackoff(t *testing.T) {
	h := newCacheHarness(t, 1, WithFailureBackoff(5*time.Second))
	h.reg.add(idA, "AVRO", avroV1)
	h.reg.inject(idA, registryFault{status: http.StatusInternalServerError, errType: "InternalServiceException", times: 1})
	for range 20 {
		_, err := h.schema(t, idA)
		var ise *types.InternalServiceException
		if !errors.As(err, &ise) || errors.Is(err, ErrSchemaNotFound) {
			t.Fatalf("%v, want the InternalServiceException", err)
		}
	}
	h.clock.Advance(5 * time.Second)
	if _, err := h.schema(t, idA); err != nil {
		t.Fatal(err)
	}
	if n := h.reg.callsFor(idA); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

// The SDK's own retries ride out throttling: the first fetch succeeds on the third try.
func TestCacheThrottledFirstFetchRetried(t *testing.T) {
	h := newCacheHarness(t, 3)
	h.reg.add(idA, "AVRO", avroV1)
	h.reg.inject(idA, registryFault{status: http.StatusBadRequest, errType: "ThrottlingException", times: 2})
	if _, err := h.schema(t, idA); err != nil {
		t.Fatal(err)
	}
	if n := h.reg.callsFor(idA); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
}

func TestCacheSizeBound(t *testing.T) {
	h := newCacheHarness(t, 1, WithCacheSize(2))
	for _, id := range []string{idA, idB, idC} {
		h.reg.add(id, "AVRO", avroV1)
	}
	for _, id := range []string{idA, idB, idA, idC, idA, idB} {
		if _, err := h.schema(t, id); err != nil {
			t.Fatal(err)
		}
	}
	// A stays (used most recently when C came in), B was dropped for C and fetched again.
	got := []int{h.reg.callsFor(idA), h.reg.callsFor(idB), h.reg.callsFor(idC)}
	if got[0] != 1 || got[1] != 2 || got[2] != 1 {
		t.Errorf("calls A, B, C = %v, want [1 2 1]", got)
	}
}

// A caller that gives up does not spoil the fetch for the others.
func TestCacheCallerCancel(t *testing.T) {
	h := newCacheHarness(t, 1)
	h.reg.add(idA, "AVRO", avroV1)
	gate := h.reg.hold()
	ctx, cancel := contextWithCancel(t)
	sid, _ := ParseSchemaVersionID(idA)
	done := make(chan error)
	go func() {
		_, err := h.d.Schema(ctx, sid)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, errCanceled) {
		t.Fatalf("canceled look-up: %v", err)
	}
	close(gate)
	if _, err := h.schema(t, idA); err != nil {
		t.Fatal(err)
	}
	if n := h.reg.callsFor(idA); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

func TestDecoderClose(t *testing.T) {
	h := newCacheHarness(t, 1)
	h.reg.add(idA, "AVRO", avroV1)
	h.d.Close()
	if _, err := h.schema(t, idA); !errors.Is(err, errClosed) {
		t.Errorf("after Close: %v", err)
	}
}

var errCanceled = context.Canceled

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}

// noRegistry is a registry that knows nothing, for tests that never reach it.
type noRegistry struct{}

func (noRegistry) GetSchemaVersion(context.Context, *gluesdk.GetSchemaVersionInput, ...func(*gluesdk.Options)) (*gluesdk.GetSchemaVersionOutput, error) {
	return nil, &types.EntityNotFoundException{Message: aws.String("no registry in this test")}
}
