package chaos

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// pos is a user record's place in a shard.
type pos struct {
	Shard string `json:"shard"`
	Seq   string `json:"seq"`
	Sub   uint64 `json:"sub"`
}

// cmpSeq compares two decimal sequence numbers (no leading zeros) numerically.
func cmpSeq(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// cmpPos orders positions of one shard.
func cmpPos(a, b pos) int {
	if c := cmpSeq(a.Seq, b.Seq); c != 0 {
		return c
	}
	switch {
	case a.Sub < b.Sub:
		return -1
	case a.Sub > b.Sub:
		return 1
	}
	return 0
}

type delivery struct {
	pos
	T      int64
	Worker string
	Tenure string
	N      int64
	Bad    string
	order  int // in its worker's log
}

type checkpoint struct {
	pos
	T0, T  int64 // the call began, returned
	Worker string
	Tenure string
	End    bool
	OK     bool
	Err    string
}

type tenure struct {
	ID, Worker, Shard string
	Start             int64
	// End is when its channel closed; 0 when the worker died first.
	End     int64
	Parents []string
}

// runData is everything the logs of one mode say.
type runData struct {
	acks       map[pos]int64 // acknowledged user records -> producer counter
	ackOrder   []pos
	putErrors  int
	deliveries []delivery
	delivered  map[pos]bool
	ckpts      []checkpoint
	tenures    map[string]*tenure
	closed     map[string]event // worker -> its closed event
	exits      map[string]event // worker -> its exit event (scheduler)
	faults     []event          // scheduler fault events
	workers    []string
	stderr     map[string][]string // worker -> notable lines of its stderr
}

// loadRun reads the logs in dir.
func loadRun(dir string) (*runData, error) {
	d := &runData{acks: map[pos]int64{}, delivered: map[pos]bool{}, tenures: map[string]*tenure{}, closed: map[string]event{}, exits: map[string]event{}, stderr: map[string][]string{}}
	if err := readLog(filepath.Join(dir, "producer.jsonl"), func(e event) {
		switch e.Ev {
		case evAck:
			p := pos{e.Shard, e.Seq, e.Sub}
			if _, ok := d.acks[p]; !ok {
				d.ackOrder = append(d.ackOrder, p)
			}
			d.acks[p] = e.N
		case evPutFailed:
			d.putErrors++
		}
	}); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	if err := readLog(filepath.Join(dir, "events.jsonl"), func(e event) {
		switch e.Ev {
		case evFault:
			d.faults = append(d.faults, e)
		case "exit":
			d.exits[e.Target] = e
		}
	}); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	logs, err := filepath.Glob(filepath.Join(dir, "worker-*.jsonl"))
	if err != nil {
		return nil, err
	}
	sort.Strings(logs)
	for _, path := range logs {
		order := 0
		if err := readLog(path, func(e event) {
			switch e.Ev {
			case evStart:
				d.workers = append(d.workers, e.Worker)
			case evTenure:
				d.tenures[e.Tenure] = &tenure{ID: e.Tenure, Worker: e.Worker, Shard: e.Shard, Start: e.T, Parents: e.Parents}
			case evTenureEnd:
				if t := d.tenures[e.Tenure]; t != nil {
					t.End = e.T
				}
			case evRecord:
				order++
				p := pos{e.Shard, e.Seq, e.Sub}
				d.deliveries = append(d.deliveries, delivery{pos: p, T: e.T, Worker: e.Worker, Tenure: e.Tenure, N: e.N, Bad: e.Bad, order: order})
				d.delivered[p] = true
			case evCkpt:
				d.ckpts = append(d.ckpts, checkpoint{pos: pos{e.Shard, e.Seq, e.Sub}, T0: e.T0, T: e.T, Worker: e.Worker, Tenure: e.Tenure, End: e.End, OK: e.OK, Err: e.Err})
			case evClosed:
				d.closed[e.Worker] = e
			}
		}); err != nil {
			return nil, err
		}
		id := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "worker-"), ".jsonl")
		d.stderr[id] = notableLines(strings.TrimSuffix(path, ".jsonl") + ".stderr")
	}
	return d, nil
}

// notableLines returns the lines of a worker's stderr that say something went badly wrong.
func notableLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, "WARNING: DATA RACE") || strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "chaos worker") {
			out = append(out, l)
		}
	}
	return out
}

func (d *runData) countUndelivered() int {
	n := 0
	for p := range d.acks {
		if !d.delivered[p] {
			n++
		}
	}
	return n
}

// streamState is the stream as the plain SDK reads it at the end.
type streamState struct {
	shards map[string]*shardState
}

type shardState struct {
	id      string
	parents []string
	closed  bool
	seqs    map[string]bool
	last    string // the last record's sequence number, "" if none
}

// readStream reads every record of every shard from the trim horizon, with GetRecords.
func readStream(ctx context.Context, kc *kinesis.Client, stream string) (*streamState, error) {
	shards, err := listShards(ctx, kc, stream)
	if err != nil {
		return nil, err
	}
	st := &streamState{shards: map[string]*shardState{}}
	for _, sh := range shards {
		s := &shardState{id: aws.ToString(sh.ShardId), seqs: map[string]bool{}}
		for _, p := range []*string{sh.ParentShardId, sh.AdjacentParentShardId} {
			if p != nil {
				s.parents = append(s.parents, *p)
			}
		}
		s.closed = sh.SequenceNumberRange != nil && sh.SequenceNumberRange.EndingSequenceNumber != nil
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			return nil, err
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			if err != nil {
				return nil, err
			}
			for _, r := range out.Records {
				seq := aws.ToString(r.SequenceNumber)
				s.seqs[seq] = true
				s.last = seq
			}
			iter = out.NextShardIterator
			if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 && !s.closed {
				break
			}
		}
		st.shards[s.id] = s
	}
	return st, nil
}
