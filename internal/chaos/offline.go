package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// runMeta is what a mode's directory says about its run, next to its logs.
type runMeta struct {
	Mode         string        `json:"mode"`
	Run          string        `json:"run"`
	Stream       string        `json:"stream"`
	FailoverTime time.Duration `json:"failover"`
}

// savedShard is one shard of final-stream.json: the stream's final state as read at the end.
type savedShard struct {
	ID      string   `json:"id"`
	Parents []string `json:"parents,omitempty"`
	Closed  bool     `json:"closed"`
	Seqs    []string `json:"seqs"`
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func (st *streamState) save(path string) error {
	var out []savedShard
	for _, s := range st.shards {
		ss := savedShard{ID: s.id, Parents: s.parents, Closed: s.closed}
		for q := range s.seqs {
			ss.Seqs = append(ss.Seqs, q)
		}
		sort.Slice(ss.Seqs, func(i, j int) bool { return cmpSeq(ss.Seqs[i], ss.Seqs[j]) < 0 })
		out = append(out, ss)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return writeJSON(path, out)
}

func loadStream(path string) (*streamState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var in []savedShard
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	st := &streamState{shards: map[string]*shardState{}}
	for _, s := range in {
		sh := &shardState{id: s.ID, parents: s.Parents, closed: s.Closed, seqs: map[string]bool{}}
		for _, q := range s.Seqs {
			sh.seqs[q] = true
			sh.last = q
		}
		st.shards[s.ID] = sh
	}
	return st, nil
}

// Verify judges a finished run again from its directory alone (each mode's logs, run.json
// and final-stream.json), prints the summary to out and returns the report.
func Verify(dir string, out io.Writer) (*Report, error) {
	metas, err := filepath.Glob(filepath.Join(dir, "*", "run.json"))
	if err != nil || len(metas) == 0 {
		return nil, fmt.Errorf("chaos: no */run.json under %s", dir)
	}
	rep := &Report{OK: true}
	if b, err := os.ReadFile(filepath.Join(dir, "report.json")); err == nil {
		var old Report
		if json.Unmarshal(b, &old) == nil {
			rep.Seed, rep.Duration, rep.Workers, rep.Broken = old.Seed, old.Duration, old.Workers, old.Broken
		}
	}
	for _, mp := range metas {
		var meta runMeta
		b, err := os.ReadFile(mp)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &meta); err != nil {
			return nil, fmt.Errorf("%s: %w", mp, err)
		}
		mdir := filepath.Dir(mp)
		st, err := loadStream(filepath.Join(mdir, "final-stream.json"))
		if err != nil {
			return nil, err
		}
		d, err := loadRun(mdir)
		if err != nil {
			return nil, err
		}
		m := verify(d, st, meta.FailoverTime)
		m.Mode, m.Run, m.Stream, m.Elapsed = meta.Mode, meta.Run, meta.Stream, "(re-verified from its files)"
		m.finish()
		rep.Modes = append(rep.Modes, m)
		rep.OK = rep.OK && m.OK
	}
	rep.Summary(out)
	return rep, nil
}
