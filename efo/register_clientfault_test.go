package efo_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/kcltest"
)

// A registration the service refuses as the caller's fault fails at once with the SDK's
// error, instead of being retried for a minute at debug level. kinesalite has no enhanced
// fan-out: it answers RegisterStreamConsumer and DescribeStreamConsumer with HTTP 400
// UnknownOperationException, an error code the SDK has no type for.
func TestRegistrationRefusedByTheServiceFailsAtOnce(t *testing.T) {
	env := testenv.New(t)
	kl := env.Kinesalite(t)
	ctx := testenv.WithTimeout(t, time.Minute)
	name := testenv.UniqueName(t, "kl")
	if err := kcltest.CreateStream(ctx, kl, name, 1); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := efo.NewConsumer(ctx, kl, name, "refused")
	took := time.Since(start)
	var cerr *efo.ConsumerError
	var apiErr smithy.APIError
	if !errors.As(err, &cerr) || !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnknownOperationException" {
		t.Fatalf("NewConsumer: %v; want a *efo.ConsumerError wrapping UnknownOperationException", err)
	}
	// One describe, one register: the default backoff would take about a minute in all.
	if took > 15*time.Second {
		t.Errorf("NewConsumer took %v to fail; the refusal is not transient", took)
	}
}
