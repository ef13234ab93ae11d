package chaos

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// ModeReport is the verdict on one mode's run.
type ModeReport struct {
	Mode    string `json:"mode"`
	Run     string `json:"run"`
	Stream  string `json:"stream"`
	Elapsed string `json:"elapsed"`
	OK      bool   `json:"ok"`

	FaultsApplied map[string]int `json:"faultsApplied"`
	// FaultsInjected sums what the workers that ended gracefully report their injectors did.
	FaultsInjected map[string]int `json:"faultsInjected"`
	// Handovers counts tenures that took a shard another tenure had delivered from before.
	Handovers int `json:"handovers"`
	Workers   int `json:"workerProcesses"`
	Tenures   int `json:"tenures"`
	Shards    int `json:"shards"`

	Acked            int `json:"acked"`
	PutErrors        int `json:"putErrors"`
	Deliveries       int `json:"deliveries"`
	Checkpoints      int `json:"checkpoints"`
	CheckpointErrors int `json:"checkpointErrors"`

	// Every list below must be empty (Duplicates.Explained aside).
	Lost                  []Finding      `json:"lost"`
	AckedNotInStream      []Finding      `json:"ackedNotInStream"`
	Duplicates            DuplicateCount `json:"duplicates"`
	UnexplainedDuplicates []Finding      `json:"unexplainedDuplicates"`
	OutOfOrder            []Finding      `json:"outOfOrder"`
	ChildBeforeParent     []Finding      `json:"childBeforeParent"`
	ConcurrentDelivery    []Finding      `json:"concurrentDelivery"`
	CheckpointRegressions []Finding      `json:"checkpointRegressions"`
	BadPayloads           []Finding      `json:"badPayloads"`
	GoroutinesLeft        []Finding      `json:"goroutinesLeft"`
	WorkerFailures        []Finding      `json:"workerFailures"`
	Hung                  []string       `json:"hungWorkers"`
}

// DuplicateCount counts deliveries of a record after its first.
type DuplicateCount struct {
	Explained   int `json:"explained"`
	Unexplained int `json:"unexplained"`
}

// Finding is one violation, with enough to find it in the logs.
type Finding struct {
	What string `json:"what"`
	Pos  *pos   `json:"pos,omitempty"`
	N    *int64 `json:"n,omitempty"`
}

func (m *ModeReport) finish() {
	m.OK = len(m.Lost) == 0 && len(m.AckedNotInStream) == 0 && m.Duplicates.Unexplained == 0 &&
		len(m.OutOfOrder) == 0 && len(m.ChildBeforeParent) == 0 && len(m.ConcurrentDelivery) == 0 &&
		len(m.CheckpointRegressions) == 0 && len(m.BadPayloads) == 0 && len(m.GoroutinesLeft) == 0 &&
		len(m.WorkerFailures) == 0 && len(m.Hung) == 0 && m.Acked > 0
}

// verify judges one mode from its logs and the stream's final state.
func verify(d *runData, st *streamState, failover time.Duration) *ModeReport {
	m := &ModeReport{
		Workers: len(d.workers), Tenures: len(d.tenures), Shards: len(st.shards),
		Acked: len(d.acks), PutErrors: d.putErrors, Deliveries: len(d.deliveries), Checkpoints: len(d.ckpts),
	}
	for _, c := range d.ckpts {
		if !c.OK {
			m.CheckpointErrors++
		}
	}

	// Lost: acknowledged and never delivered; and acknowledged but not in the stream.
	for _, p := range d.ackOrder {
		n := d.acks[p]
		if !d.delivered[p] {
			m.Lost = append(m.Lost, Finding{What: "acknowledged, never delivered", Pos: ptr(p), N: &n})
		}
		if s := st.shards[p.Shard]; s == nil || !s.seqs[p.Seq] {
			m.AckedNotInStream = append(m.AckedNotInStream, Finding{What: "acknowledged, not in the stream", Pos: ptr(p), N: &n})
		}
	}

	// Payloads: intact, of this run, and the record the producer acknowledged at that place.
	for _, dl := range d.deliveries {
		if dl.Bad != "" {
			m.BadPayloads = append(m.BadPayloads, Finding{What: fmt.Sprintf("payload by %s: %s", dl.Tenure, dl.Bad), Pos: ptr(dl.pos)})
		} else if n, ok := d.acks[dl.pos]; ok && n != dl.N {
			m.BadPayloads = append(m.BadPayloads, Finding{What: fmt.Sprintf("%s delivered counter %d where the producer's ack says %d", dl.Tenure, dl.N, n), Pos: ptr(dl.pos)})
		}
	}

	m.checkOrder(d)
	m.checkDuplicates(d)
	m.checkParents(d, st)
	m.checkConcurrent(d, failover)
	m.checkCheckpoints(d)
	m.checkWorkers(d)
	m.FaultsApplied = map[string]int{}
	for _, f := range d.faults {
		switch {
		case strings.HasSuffix(f.Kind, "-failed"): // a reshard the stream refused
			m.FaultsApplied[strings.TrimSuffix(f.Kind, "-failed")]--
		case f.Kind != "sigcont" && f.Kind != "drain-hung":
			m.FaultsApplied[f.Kind]++
		}
	}
	m.FaultsInjected = map[string]int{}
	for _, c := range d.closed {
		for k, v := range c.Injected {
			if v > 0 {
				m.FaultsInjected[k] += v
			}
		}
	}
	shardsSeen := map[string]bool{}
	for _, ds := range sortedTenures(d) {
		if shardsSeen[ds.Shard] {
			m.Handovers++
		}
		shardsSeen[ds.Shard] = true
	}
	return m
}

func ptr[T any](v T) *T { return &v }

// byTenure returns each tenure's deliveries in the order its worker logged them.
func byTenure(d *runData) map[string][]delivery {
	m := map[string][]delivery{}
	for _, dl := range d.deliveries {
		m[dl.Tenure] = append(m[dl.Tenure], dl)
	}
	for _, ds := range m {
		sort.SliceStable(ds, func(i, j int) bool { return ds[i].order < ds[j].order })
	}
	return m
}

// checkOrder: within a tenure, positions strictly increase.
func (m *ModeReport) checkOrder(d *runData) {
	for ten, ds := range byTenure(d) {
		for i := 1; i < len(ds); i++ {
			if cmpPos(ds[i].pos, ds[i-1].pos) <= 0 {
				m.OutOfOrder = append(m.OutOfOrder, Finding{What: fmt.Sprintf("%s delivered %s/%d after %s/%d", ten, ds[i].Seq, ds[i].Sub, ds[i-1].Seq, ds[i-1].Sub), Pos: ptr(ds[i].pos)})
			}
		}
	}
}

// checkDuplicates classifies every delivery of a record after its first. It is explained
// when it comes in another tenure than every earlier delivery (the lease changed hands)
// and past every checkpoint that other tenures of the shard wrote successfully before
// this tenure began; anything else is unexplained.
func (m *ModeReport) checkDuplicates(d *runData) {
	ds := append([]delivery(nil), d.deliveries...)
	sort.SliceStable(ds, func(i, j int) bool {
		if ds[i].T != ds[j].T {
			return ds[i].T < ds[j].T
		}
		return ds[i].order < ds[j].order
	})
	ckptsByShard := map[string][]checkpoint{}
	for _, c := range d.ckpts {
		if c.OK {
			ckptsByShard[c.Shard] = append(ckptsByShard[c.Shard], c)
		}
	}
	seen := map[pos][]delivery{}
	for _, dl := range ds {
		earlier := seen[dl.pos]
		seen[dl.pos] = append(earlier, dl)
		if len(earlier) == 0 {
			continue
		}
		why := ""
		for _, e := range earlier {
			if e.Tenure == dl.Tenure {
				why = "delivered twice in tenure " + dl.Tenure
			}
		}
		if why == "" {
			start := int64(0)
			if t := d.tenures[dl.Tenure]; t != nil {
				start = t.Start
			}
			for _, c := range ckptsByShard[dl.Shard] {
				if c.Tenure == dl.Tenure || c.T >= start {
					continue
				}
				if c.End || cmpPos(dl.pos, c.pos) <= 0 {
					what := fmt.Sprintf("%s/%d", c.Seq, c.Sub)
					if c.End {
						what = "SHARD_END"
					}
					why = fmt.Sprintf("%s redelivered it although %s had checkpointed %s before that tenure began", dl.Tenure, c.Tenure, what)
					break
				}
			}
		}
		if why == "" {
			m.Duplicates.Explained++
			continue
		}
		m.Duplicates.Unexplained++
		m.UnexplainedDuplicates = append(m.UnexplainedDuplicates, Finding{What: why, Pos: ptr(dl.pos)})
	}
}

// checkParents: no child record is delivered before its parents' last record was.
func (m *ModeReport) checkParents(d *runData, st *streamState) {
	first := map[string]int64{}                // shard -> first delivery
	lastSeqAt := map[string]map[string]int64{} // shard -> seq -> first delivery time
	for _, dl := range d.deliveries {
		if t, ok := first[dl.Shard]; !ok || dl.T < t {
			first[dl.Shard] = dl.T
		}
		if lastSeqAt[dl.Shard] == nil {
			lastSeqAt[dl.Shard] = map[string]int64{}
		}
		if t, ok := lastSeqAt[dl.Shard][dl.Seq]; !ok || dl.T < t {
			lastSeqAt[dl.Shard][dl.Seq] = dl.T
		}
	}
	ids := make([]string, 0, len(st.shards))
	for id := range st.shards {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		child := st.shards[id]
		cf, ok := first[id]
		if !ok {
			continue
		}
		for _, p := range child.parents {
			parent := st.shards[p]
			if parent == nil || parent.last == "" {
				continue
			}
			pt, delivered := lastSeqAt[p][parent.last]
			switch {
			case !delivered:
				m.ChildBeforeParent = append(m.ChildBeforeParent, Finding{What: fmt.Sprintf("child %s delivered, parent %s's last record %s never was", id, p, parent.last)})
			case pt > cf:
				m.ChildBeforeParent = append(m.ChildBeforeParent, Finding{What: fmt.Sprintf("child %s's first record delivered %v before parent %s's last record %s", id, time.Duration(pt-cf), p, parent.last)})
			}
		}
	}
}

// checkConcurrent: while a newer tenure of a shard holds it (from its first delivery until
// its channel closed), an older tenure delivers for no longer than the failover time, not
// counting time its worker spent frozen by SIGSTOP (a frozen worker cannot notice that it
// lost the lease).
func (m *ModeReport) checkConcurrent(d *runData, failover time.Duration) {
	frozen := map[string][][2]int64{}
	var open = map[string]int64{}
	for _, f := range d.faults {
		switch f.Kind {
		case faultStop:
			open[f.Target] = f.T
		case "sigcont":
			if s, ok := open[f.Target]; ok {
				frozen[f.Target] = append(frozen[f.Target], [2]int64{s, f.T})
				delete(open, f.Target)
			}
		}
	}
	type span struct {
		tenure, worker, shard string
		first, last, end      int64
	}
	spans := map[string][]span{}
	for ten, ds := range byTenure(d) {
		s := span{tenure: ten, worker: ds[0].Worker, shard: ds[0].Shard, first: ds[0].T, last: ds[0].T}
		for _, dl := range ds {
			s.first, s.last = min(s.first, dl.T), max(s.last, dl.T)
		}
		s.end = s.last
		if t := d.tenures[ten]; t != nil && t.End > s.end {
			s.end = t.End
		}
		spans[s.shard] = append(spans[s.shard], s)
	}
	for shard, ss := range spans {
		sort.Slice(ss, func(i, j int) bool { return ss[i].first < ss[j].first })
		for i := range ss {
			for j := i + 1; j < len(ss); j++ {
				old, cur := ss[i], ss[j]
				// The older owner kept delivering while the newer one held the shard.
				from, to := cur.first, min(old.last, cur.end)
				if to <= from {
					continue
				}
				overlap := to - from
				for _, fz := range frozen[old.worker] {
					lo, hi := max(from, fz[0]), min(to, fz[1])
					if hi > lo {
						overlap -= hi - lo
					}
				}
				if time.Duration(overlap) > failover {
					m.ConcurrentDelivery = append(m.ConcurrentDelivery, Finding{What: fmt.Sprintf("%s: %s kept delivering for %v while %s held the shard (failover %v)", shard, old.tenure, time.Duration(overlap).Round(time.Millisecond), cur.tenure, failover)})
				}
			}
		}
	}
}

// checkCheckpoints: a successful checkpoint call that began after another successful one
// had returned never stores a lower position, and none succeeds after SHARD_END returned
// (what the fence guarantees). A call's write takes effect between its start and its
// return, and a frozen worker returns late, so only calls ordered that way are compared.
func (m *ModeReport) checkCheckpoints(d *runData) {
	byShard := map[string][]checkpoint{}
	for _, c := range d.ckpts {
		if c.OK {
			byShard[c.Shard] = append(byShard[c.Shard], c)
		}
	}
	for _, cs := range byShard {
		sort.SliceStable(cs, func(i, j int) bool { return cs[i].T < cs[j].T })
		for i, c := range cs {
			start := c.T0
			if start == 0 {
				start = c.T
			}
			// The highest checkpoint that had returned before c began.
			var best *checkpoint
			for j := range cs[:i] {
				p := &cs[j]
				if p.T >= start {
					continue
				}
				if best == nil || p.End || (!best.End && cmpPos(p.pos, best.pos) > 0) {
					best = p
				}
			}
			switch {
			case best == nil:
			case best.End && !c.End:
				m.CheckpointRegressions = append(m.CheckpointRegressions, Finding{What: fmt.Sprintf("%s checkpointed %s/%d after %s finished the shard", c.Tenure, c.Seq, c.Sub, best.Tenure), Pos: ptr(c.pos)})
			case !best.End && !c.End && cmpPos(c.pos, best.pos) < 0:
				m.CheckpointRegressions = append(m.CheckpointRegressions, Finding{What: fmt.Sprintf("%s checkpointed %s/%d below %s's %s/%d", c.Tenure, c.Seq, c.Sub, best.Tenure, best.Seq, best.Sub), Pos: ptr(c.pos)})
			}
		}
	}
}

// checkWorkers: every worker that was not killed ended through Stop or Drain, exited 0 and
// left no kcl goroutine; no worker raced or panicked.
func (m *ModeReport) checkWorkers(d *runData) {
	killed := map[string]bool{}
	for _, f := range d.faults {
		if f.Kind == faultKill || f.Kind == "drain-hung" {
			killed[f.Target] = true
		}
	}
	ws := append([]string(nil), d.workers...)
	sort.Strings(ws)
	for _, w := range ws {
		for _, l := range d.stderr[w] {
			m.WorkerFailures = append(m.WorkerFailures, Finding{What: w + ": " + l})
		}
		if killed[w] {
			continue
		}
		c, ok := d.closed[w]
		switch {
		case !ok:
			m.WorkerFailures = append(m.WorkerFailures, Finding{What: w + ": ended without reporting Stop or Drain (exit: " + d.exits[w].Err + ")"})
			continue
		case c.Err != "":
			m.WorkerFailures = append(m.WorkerFailures, Finding{What: fmt.Sprintf("%s: %s returned %s", w, c.How, c.Err)})
		}
		if c.Goroutines > 0 {
			m.GoroutinesLeft = append(m.GoroutinesLeft, Finding{What: fmt.Sprintf("%s: %d kcl goroutines left after %s:\n%s", w, c.Goroutines, c.How, firstLines(c.Dump, 40))})
		}
		if e, ok := d.exits[w]; ok && e.Err != "" {
			m.WorkerFailures = append(m.WorkerFailures, Finding{What: w + ": exit " + e.Err})
		}
	}
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, "\n")
}

// sortedTenures returns the tenures in the order they began.
func sortedTenures(d *runData) []*tenure {
	ts := make([]*tenure, 0, len(d.tenures))
	for _, t := range d.tenures {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Start < ts[j].Start })
	return ts
}
