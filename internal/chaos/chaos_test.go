package chaos_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kclgo/kcl/internal/chaos"
	"github.com/kclgo/kcl/internal/testenv"
)

// TestMain makes the test binary a chaos worker when the scheduler starts it as one.
func TestMain(m *testing.M) {
	if chaos.IsWorker() {
		os.Exit(chaos.WorkerMain())
	}
	os.Exit(m.Run())
}

// TestChaos is the short mode of the chaos suite: both retrieval modes, every kind of fault,
// about a minute of faults each. KCL_CHAOS_SEED replays a run, KCL_CHAOS_DURATION changes the
// time of faults per mode, KCL_CHAOS_DIR keeps the logs somewhere else (they are kept
// whenever the run fails), and KCL_CHAOS_BROKEN runs a deliberately broken worker, which
// must make the run fail.
func TestChaos(t *testing.T) {
	testenv.New(t) // fails loudly without the emulators, skips under -short
	opts := chaos.Options{
		Duration:      60 * time.Second,
		Workers:       3,
		Shards:        4,
		Rate:          40,
		FailoverTime:  3 * time.Second,
		Modes:         []string{"polling", "efo"},
		WorkerCommand: []string{os.Args[0], "-test.run=^$"},
		Broken:        os.Getenv(chaos.EnvBroken),
		Out:           testWriter{t},
	}
	if s := os.Getenv("KCL_CHAOS_SEED"); s != "" {
		if _, err := fmtSscan(s, &opts.Seed); err != nil {
			t.Fatalf("KCL_CHAOS_SEED=%q: %v", s, err)
		}
	}
	if s := os.Getenv("KCL_CHAOS_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("KCL_CHAOS_DURATION=%q: %v", s, err)
		}
		opts.Duration = d
	}
	opts.Dir = os.Getenv("KCL_CHAOS_DIR")
	keep := opts.Dir != ""
	if opts.Dir == "" {
		dir, err := os.MkdirTemp("", "kcl-chaos-")
		if err != nil {
			t.Fatal(err)
		}
		opts.Dir = dir
	}
	rep, err := chaos.Run(t.Context(), opts)
	if err != nil {
		t.Fatalf("chaos run (logs in %s): %v", opts.Dir, err)
	}
	switch {
	case opts.Broken != "" && rep.OK:
		t.Fatalf("the broken worker (%s) passed the verifier: the suite cannot fail (logs in %s)", opts.Broken, opts.Dir)
	case opts.Broken != "":
		t.Logf("the broken worker (%s) failed the verifier, as it must (logs in %s)", opts.Broken, opts.Dir)
		return
	case !rep.OK:
		t.Fatalf("chaos run failed (seed %d); logs and report.json in %s", rep.Seed, opts.Dir)
	}
	if !keep {
		os.RemoveAll(opts.Dir)
	} else {
		t.Logf("report: %s", filepath.Join(opts.Dir, "report.json"))
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
