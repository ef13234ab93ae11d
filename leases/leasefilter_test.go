package leases

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kclgo/kcl/internal/testenv"
)

// statsLog keeps the stats of every taker cycle.
type statsLog struct {
	NoMetrics
	mu    sync.Mutex
	stats []TakerStats
}

func (m *statsLog) TakerCycle(s TakerStats, _ time.Duration) {
	m.mu.Lock()
	m.stats = append(m.stats, s)
	m.mu.Unlock()
}

func (m *statsLog) snapshot() []TakerStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]TakerStats(nil), m.stats...)
}

// multiStreamItems are the multi-stream rows of the shared KCL samples, as found (owned by
// a worker that is not renewing) and as a free lease.
func multiStreamItems(t *testing.T) []map[string]types.AttributeValue {
	t.Helper()
	var out []map[string]types.AttributeValue
	for _, it := range loadSharedItems(t) {
		item := attributeValues(t, it.Item)
		if _, ok := item[attrStreamName]; !ok {
			continue
		}
		out = append(out, item)
		free := maps.Clone(item)
		delete(free, attrLeaseOwner)
		key := free[attrLeaseKey].(*types.AttributeValueMemberS).Value
		shard := key[strings.LastIndexByte(key, ':')+1:]
		free[attrLeaseKey] = str(strings.TrimSuffix(key, shard) + "shardId-000000000099")
		free[attrShardID] = str("shardId-000000000099")
		out = append(out, free)
	}
	if len(out) == 0 {
		t.Fatal("no multi-stream item in the shared samples")
	}
	return out
}

// A coordinator that keeps single-stream leases only leaves the multi-stream rows of the
// table byte for byte as they were, free or expired, over several taker cycles, and
// balances on its own rows alone.
func TestLeaseFilterLeavesOtherRowsUntouched(t *testing.T) {
	env := testenv.New(t)
	tbl := newTestTable(t, env)
	own := createLeases(t, tbl, 2)
	foreign := multiStreamItems(t)
	for _, item := range foreign {
		putRaw(t, env.DynamoDB, tbl.Name(), item)
	}
	const failover = time.Second // the owned foreign row expires after it: nobody renews it
	stats := &statsLog{}
	r := startRun(t, tbl, "A", WithFailoverTime(failover), WithTakerInterval(200*time.Millisecond), WithMetrics(stats),
		WithLeaseFilter(func(l Lease) bool { return l.Stream.IsZero() }))
	defer r.stop()
	waitFor(t, 30*time.Second, "held its 2 leases and ran taker cycles for 3 failover times", func() bool {
		return len(r.c.Held()) == len(own) && len(stats.snapshot()) >= int(3*failover/(200*time.Millisecond))
	})
	for _, s := range stats.snapshot() {
		if s.Leases != len(own) || s.Workers != 1 {
			t.Fatalf("taker cycle counted %d leases of %d workers, want only the %d own leases of 1: %+v", s.Leases, s.Workers, len(own), s)
		}
	}
	for _, want := range foreign {
		key := want[attrLeaseKey].(*types.AttributeValueMemberS).Value
		if got := rawItem(t, env.DynamoDB, tbl.Name(), key); !reflect.DeepEqual(got, want) {
			t.Errorf("row %s changed:\n got %s\nwant %s", key, itemText(got), itemText(want))
		}
	}
	for _, l := range r.c.Held() {
		if !l.Stream.IsZero() {
			t.Errorf("holds multi-stream lease %s", l.Key)
		}
	}
}

func TestWithLeaseFilterNil(t *testing.T) {
	if _, err := newCoordinator(newMemStore(), "A", WithLeaseFilter(nil)); err == nil || !strings.Contains(err.Error(), "WithLeaseFilter") {
		t.Fatalf("nil filter: %v, want an error naming WithLeaseFilter", err)
	}
}

// itemText shows an item's attributes and values, sorted by name.
func itemText(item map[string]types.AttributeValue) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(item)) {
		parts = append(parts, fmt.Sprintf("%s=%#v", k, item[k]))
	}
	return strings.Join(parts, " ")
}
