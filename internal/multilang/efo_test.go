package multilang

import (
	"testing"
	"time"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/internal/testenv"
)

// TestFanOut: the default retrieval, enhanced fan-out, delivers and checkpoints too.
func TestFanOut(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 1)
	table := env.LeaseTable(t)
	argv, dir := fakeChildCommand(t, "checkpoint")
	cfg := testConfig(t, stream, table, argv)
	cfg.Retrieval = kcl.EnhancedFanOut
	cfg.ConsumerName = testenv.UniqueName(t, "efo")
	puts := stream.PutN(t, "efo", 20)
	shard := puts[0].ShardID
	r := startDaemon(t, env, cfg)
	waitFor(t, 60*time.Second, "the checkpoint at the last record", func() bool {
		return checkpointOf(t, env, table, shard) == puts[len(puts)-1].SequenceNumber
	})
	got := view(t, dir).records(shard)
	if len(got) != len(puts) {
		t.Errorf("the child got %d records; want %d", len(got), len(puts))
	}
	for i := range min(len(got), len(puts)) {
		if string(got[i].Data) != string(puts[i].Data) {
			t.Fatalf("record %d: %q; want %q", i, got[i].Data, puts[i].Data)
		}
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
