package chaos

import (
	"strings"
	"testing"
	"time"
)

// fixture builds the logs of a run by hand, for the verifier's own tests.
type fixture struct {
	d  *runData
	st *streamState
}

func newFixture() *fixture {
	return &fixture{
		d:  &runData{acks: map[pos]int64{}, delivered: map[pos]bool{}, tenures: map[string]*tenure{}, closed: map[string]event{}, exits: map[string]event{}, stderr: map[string][]string{}},
		st: &streamState{shards: map[string]*shardState{}},
	}
}

const sec = int64(time.Second)

func (f *fixture) shard(id string, closed bool, parents []string, seqs ...string) {
	s := &shardState{id: id, parents: parents, closed: closed, seqs: map[string]bool{}}
	for _, q := range seqs {
		s.seqs[q] = true
		s.last = q
	}
	f.st.shards[id] = s
}

func (f *fixture) ack(shard, seq string, n int64) {
	p := pos{shard, seq, 0}
	f.d.acks[p] = n
	f.d.ackOrder = append(f.d.ackOrder, p)
}

func (f *fixture) worker(w string) {
	f.d.workers = append(f.d.workers, w)
	f.d.closed[w] = event{Ev: evClosed, Worker: w, How: "drain"}
}

func (f *fixture) tenure(id, w, shard string, start int64) {
	f.d.tenures[id] = &tenure{ID: id, Worker: w, Shard: shard, Start: start}
}

func (f *fixture) deliver(ten, shard, seq string, n int64, t int64) {
	w := f.d.tenures[ten].Worker
	f.d.deliveries = append(f.d.deliveries, delivery{pos: pos{shard, seq, 0}, T: t, Worker: w, Tenure: ten, N: n, order: len(f.d.deliveries)})
	f.d.delivered[pos{shard, seq, 0}] = true
}

func (f *fixture) ckpt(ten, shard, seq string, t int64, end bool) {
	f.d.ckpts = append(f.d.ckpts, checkpoint{pos: pos{shard, seq, 0}, T: t, Worker: f.d.tenures[ten].Worker, Tenure: ten, End: end, OK: true})
}

// base is a healthy run: shard 0 read by A, checkpointed at 2, taken over by B after A
// died, which reads 3 (again) and 4.
func base() *fixture {
	f := newFixture()
	f.shard("s0", false, nil, "1", "2", "3", "4")
	for i, q := range []string{"1", "2", "3", "4"} {
		f.ack("s0", q, int64(i))
	}
	f.worker("A")
	f.worker("B")
	f.tenure("A/s0", "A", "s0", 1*sec)
	f.deliver("A/s0", "s0", "1", 0, 2*sec)
	f.deliver("A/s0", "s0", "2", 1, 2*sec)
	f.ckpt("A/s0", "s0", "2", 3*sec, false)
	f.deliver("A/s0", "s0", "3", 2, 4*sec)
	f.tenure("B/s0", "B", "s0", 10*sec)
	f.deliver("B/s0", "s0", "3", 2, 11*sec)
	f.deliver("B/s0", "s0", "4", 3, 11*sec)
	f.d.tenures["B/s0"].End = 30 * sec
	return f
}

func TestVerify(t *testing.T) {
	failover := 3 * time.Second
	tests := map[string]struct {
		change func(f *fixture)
		check  func(m *ModeReport) bool
	}{
		"healthy run passes, its duplicate explained": {
			func(*fixture) {},
			func(m *ModeReport) bool { return m.OK && m.Duplicates.Explained == 1 },
		},
		"lost record": {
			func(f *fixture) { f.ack("s0", "5", 4); f.shard("s0", false, nil, "1", "2", "3", "4", "5") },
			func(m *ModeReport) bool { return !m.OK && len(m.Lost) == 1 && *m.Lost[0].N == 4 },
		},
		"redelivery below the previous owner's checkpoint": {
			func(f *fixture) { f.deliver("B/s0", "s0", "2", 1, 12*sec) },
			func(m *ModeReport) bool { return !m.OK && m.Duplicates.Unexplained == 1 },
		},
		"redelivery within one tenure": {
			func(f *fixture) { f.deliver("A/s0", "s0", "3", 2, 5*sec) },
			func(m *ModeReport) bool { return !m.OK && m.Duplicates.Unexplained == 1 && len(m.OutOfOrder) == 1 },
		},
		"two owners at once past the failover time": {
			func(f *fixture) { f.deliver("A/s0", "s0", "4", 3, 16*sec) },
			func(m *ModeReport) bool { return !m.OK && len(m.ConcurrentDelivery) == 1 },
		},
		"an old owner delivering long after a brief interloper lost the lease": {
			func(f *fixture) {
				// C took the lease at the start and lost it to A at once, after one
				// delivery; A then delivers for 2 s, past this case's 1 s failover.
				f.worker("C")
				f.tenure("C/s0", "C", "s0", 1*sec)
				f.deliver("C/s0", "s0", "1", 0, 2*sec+1)
				f.d.tenures["C/s0"].End = 2*sec + 2
			},
			func(m *ModeReport) bool { return m.OK && len(m.ConcurrentDelivery) == 0 },
		},
		"two owners at once, one of them frozen by SIGSTOP": {
			func(f *fixture) {
				f.deliver("A/s0", "s0", "4", 3, 16*sec)
				f.d.faults = append(f.d.faults, event{Ev: evFault, Kind: faultStop, Target: "A", T: 5 * sec}, event{Ev: evFault, Kind: "sigcont", Target: "A", T: 15 * sec})
			},
			func(m *ModeReport) bool { return m.OK && len(m.ConcurrentDelivery) == 0 },
		},
		"child before its parent's last record": {
			func(f *fixture) {
				f.shard("s1", false, []string{"s0"}, "9")
				f.ack("s1", "9", 9)
				f.tenure("A/s1", "A", "s1", 1*sec)
				f.deliver("A/s1", "s1", "9", 9, 5*sec)
			},
			func(m *ModeReport) bool { return !m.OK && len(m.ChildBeforeParent) == 1 },
		},
		"a frozen worker's checkpoint that returns late, below a newer one": {
			func(f *fixture) {
				f.ckpt("B/s0", "s0", "4", 12*sec, false)
				f.ckpt("A/s0", "s0", "3", 13*sec, false)
				f.d.ckpts[len(f.d.ckpts)-1].T0 = 4 * sec // sent before B's began
			},
			func(m *ModeReport) bool { return m.OK },
		},
		"checkpoint below an earlier one (a broken fence)": {
			func(f *fixture) { f.ckpt("B/s0", "s0", "4", 12*sec, false); f.ckpt("A/s0", "s0", "3", 13*sec, false) },
			func(m *ModeReport) bool { return !m.OK && len(m.CheckpointRegressions) == 1 },
		},
		"goroutines left after Drain": {
			func(f *fixture) { f.d.closed["B"] = event{Ev: evClosed, Worker: "B", How: "drain", Goroutines: 2} },
			func(m *ModeReport) bool { return !m.OK && len(m.GoroutinesLeft) == 1 },
		},
		"a worker that ended without reporting": {
			func(f *fixture) { delete(f.d.closed, "B") },
			func(m *ModeReport) bool { return !m.OK && len(m.WorkerFailures) == 1 },
		},
		"a killed worker need not report": {
			func(f *fixture) {
				delete(f.d.closed, "A")
				f.d.faults = append(f.d.faults, event{Ev: evFault, Kind: faultKill, Target: "A"})
			},
			func(m *ModeReport) bool { return m.OK },
		},
		"a data race in a worker": {
			func(f *fixture) { f.d.stderr["A"] = []string{"WARNING: DATA RACE"} },
			func(m *ModeReport) bool { return !m.OK && len(m.WorkerFailures) == 1 },
		},
		"a payload that is not the acknowledged one": {
			func(f *fixture) { f.d.deliveries[1].N = 7 },
			func(m *ModeReport) bool { return !m.OK && len(m.BadPayloads) == 1 },
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := base()
			tc.change(f)
			fo := failover
			if strings.Contains(name, "interloper") {
				fo = time.Second
			}
			m := verify(f.d, f.st, fo)
			m.finish()
			if !tc.check(m) {
				t.Errorf("report: ok=%v lost=%v dup=%+v unexplained=%v order=%v parents=%v concurrent=%v regress=%v goroutines=%v workers=%v payloads=%v",
					m.OK, m.Lost, m.Duplicates, m.UnexplainedDuplicates, m.OutOfOrder, m.ChildBeforeParent, m.ConcurrentDelivery, m.CheckpointRegressions, m.GoroutinesLeft, m.WorkerFailures, m.BadPayloads)
			}
		})
	}
}
