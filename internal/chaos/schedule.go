package chaos

import (
	"context"
	"fmt"
	"math/big"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Faults the scheduler applies itself.
const (
	faultKill  = "sigkill" // SIGKILL a worker, start a replacement
	faultStop  = "sigstop" // SIGSTOP a worker past the failover time, then SIGCONT
	faultDrain = "drain"   // SIGTERM: the worker drains; a replacement starts
	faultSplit = "split"
	faultMerge = "merge"
)

type scheduled struct {
	at   time.Duration
	kind string
}

// kinds are the faults of a mode; each is applied at least once if time allows.
func (r *runner) kinds() []string {
	k := []string{faultKill, faultStop, faultDrain, faultSplit, faultMerge, faultDDBThrottle, faultDDBReset, faultKinThrottle, faultStall}
	if r.polling {
		k = append(k, faultExpire)
	} else {
		k = append(k, faultCutEFO)
	}
	return k
}

// schedule draws the faults from the seed: every kind once in a random order, then random
// kinds, one every few seconds after the workers had time to take their leases.
func (r *runner) schedule() []scheduled {
	kinds := r.kinds()
	warmup := 3*r.opts.FailoverTime + 2*time.Second
	spacing := max(r.opts.FailoverTime+time.Second, 4*time.Second)
	var out []scheduled
	order := append([]string(nil), kinds...)
	r.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for at, i := warmup, 0; at < r.opts.Duration-spacing; at, i = at+spacing, i+1 {
		var kind string
		if i < len(order) {
			kind = order[i]
		} else {
			kind = kinds[r.rng.IntN(len(kinds))]
		}
		jitter := time.Duration(r.rng.Int64N(int64(spacing / 4)))
		out = append(out, scheduled{at: at + jitter, kind: kind})
	}
	return out
}

func describeSchedule(s []scheduled) string {
	var b strings.Builder
	for i, f := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s@%.0fs", f.kind, f.at.Seconds())
	}
	return b.String()
}

// apply applies one fault; those that take time finish in the background (r.inflight).
func (r *runner) apply(ctx context.Context, kind string) {
	failover := r.opts.FailoverTime
	switch kind {
	case faultKill, faultStop, faultDrain, faultStall:
		p := r.pickWorker(ctx)
		if p == nil {
			r.logf("%s: no worker to pick", kind)
			return
		}
		switch kind {
		case faultKill:
			r.event(kind, p.cfg.ID, 0)
			p.mu.Lock()
			p.ending = true
			p.mu.Unlock()
			_ = p.signal(syscall.SIGKILL)
			<-p.done
			r.logf("SIGKILL %s", p.cfg.ID)
			if err := r.spawn(p.slot); err != nil {
				r.logf("replacement for %s: %v", p.cfg.ID, err)
			}
		case faultStop:
			until := time.Now().Add(failover*5/2 + time.Second)
			p.mu.Lock()
			p.stopped = true
			p.mu.Unlock()
			r.event(kind, p.cfg.ID, until.UnixNano())
			_ = p.signal(syscall.SIGSTOP)
			r.logf("SIGSTOP %s until %s", p.cfg.ID, until.Format("15:04:05"))
			r.inflight.Go(func() {
				_ = sleepUntil(context.WithoutCancel(ctx), until)
				_ = p.signal(syscall.SIGCONT)
				r.event("sigcont", p.cfg.ID, 0)
				p.mu.Lock()
				p.stopped = false
				p.mu.Unlock()
			})
		case faultDrain:
			r.event(kind, p.cfg.ID, 0)
			p.mu.Lock()
			p.ending = true
			p.mu.Unlock()
			_ = p.signal(syscall.SIGTERM)
			r.logf("SIGTERM (drain) %s", p.cfg.ID)
			r.inflight.Go(func() {
				if !p.wait(60 * time.Second) {
					r.logf("%s did not finish draining in 60 s: SIGKILL", p.cfg.ID)
					r.event("drain-hung", p.cfg.ID, 0)
					_ = p.signal(syscall.SIGKILL)
					<-p.done
				}
				if err := r.spawn(p.slot); err != nil {
					r.logf("replacement for %s: %v", p.cfg.ID, err)
				}
			})
		case faultStall:
			until := time.Now().Add(2 * failover)
			r.event(kind, p.cfg.ID, until.UnixNano())
			r.setControl(p.cfg.ID, kind, until)
			r.logf("stall %s's processing until %s", p.cfg.ID, until.Format("15:04:05"))
		}
	case faultDDBThrottle, faultDDBReset, faultKinThrottle, faultExpire, faultCutEFO:
		until := time.Now().Add(max(2*failover, 3*time.Second))
		r.event(kind, "all", until.UnixNano())
		r.mu.Lock()
		var ids []string
		for _, p := range r.procs {
			ids = append(ids, p.cfg.ID)
		}
		r.mu.Unlock()
		for _, id := range ids {
			r.setControl(id, kind, until)
		}
		r.logf("%s on every worker until %s", kind, until.Format("15:04:05"))
	case faultSplit, faultMerge:
		if err := r.reshard(ctx, kind); err != nil {
			r.logf("%s: %v", kind, err)
			r.event(kind+"-failed", "", 0)
			return
		}
	}
}

func (r *runner) event(kind, target string, until int64) {
	_ = r.events.write(event{Ev: evFault, Kind: kind, Target: target, Until: until})
}

// pickWorker draws a running worker that is neither frozen nor on its way out, one that
// holds leases (as the lease table says) if there is any.
func (r *runner) pickWorker(ctx context.Context) *proc {
	owners := r.leaseOwners(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	var ok, holding []*proc
	for slot := range r.opts.Workers {
		p := r.procs[slot]
		if p == nil || p.exited() {
			continue
		}
		p.mu.Lock()
		usable := !p.stopped && !p.ending
		p.mu.Unlock()
		if usable {
			ok = append(ok, p)
			if owners[p.cfg.ID] > 0 {
				holding = append(holding, p)
			}
		}
	}
	if len(holding) > 0 {
		ok = holding
	}
	if len(ok) == 0 {
		return nil
	}
	return ok[r.rng.IntN(len(ok))]
}

// leaseOwners counts the leases each worker holds, read from the lease table with the
// plain SDK (KCL's schema: leaseOwner); empty when the table cannot be read.
func (r *runner) leaseOwners(ctx context.Context) map[string]int {
	owners := map[string]int{}
	in := &dynamodb.ScanInput{TableName: aws.String(r.table), ConsistentRead: aws.Bool(true)}
	for {
		out, err := r.env.DynamoDB.Scan(ctx, in)
		if err != nil {
			return owners
		}
		for _, item := range out.Items {
			if v, ok := item["leaseOwner"].(*ddbtypes.AttributeValueMemberS); ok {
				owners[v.Value]++
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return owners
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func (r *runner) setControl(id, kind string, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.control[id]
	if f.Until == nil {
		f.Until = map[string]int64{}
	}
	f.Until[kind] = until.UnixNano()
	r.control[id] = f
	if err := writeControl(filepath.Join(r.dir, "control-"+id+".json"), f); err != nil {
		r.logf("control of %s: %v", id, err)
	}
}

func (r *runner) clearControl() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.control {
		r.control[id] = controlFile{}
		_ = writeControl(filepath.Join(r.dir, "control-"+id+".json"), controlFile{})
	}
}

// reshard splits the open shard with the widest hash-key range at its middle, or merges the
// two adjacent open shards with the narrowest combined range.
func (r *runner) reshard(ctx context.Context, kind string) error {
	shards, err := listShards(ctx, r.env.Kinesis, r.stream)
	if err != nil {
		return err
	}
	type open struct {
		id         string
		start, end *big.Int
	}
	var os []open
	for _, s := range shards {
		if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
			continue
		}
		a, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
		b, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
		os = append(os, open{aws.ToString(s.ShardId), a, b})
	}
	sort.Slice(os, func(i, j int) bool { return os[i].start.Cmp(os[j].start) < 0 })
	width := func(a, b *big.Int) *big.Int { return new(big.Int).Sub(b, a) }
	switch {
	case kind == faultSplit || len(os) < 2:
		kind = faultSplit
		best := os[0]
		for _, o := range os[1:] {
			if width(o.start, o.end).Cmp(width(best.start, best.end)) > 0 {
				best = o
			}
		}
		mid := new(big.Int).Add(best.start, best.end)
		mid.Rsh(mid, 1)
		mid.Add(mid, big.NewInt(1))
		r.event(faultSplit, best.id, 0)
		r.logf("split %s", best.id)
		_, err = r.env.Kinesis.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(r.stream), ShardToSplit: aws.String(best.id), NewStartingHashKey: aws.String(mid.String())})
	default:
		bi := 0
		for i := 1; i+1 < len(os); i++ {
			if width(os[i].start, os[i+1].end).Cmp(width(os[bi].start, os[bi+1].end)) < 0 {
				bi = i
			}
		}
		r.event(faultMerge, os[bi].id+"+"+os[bi+1].id, 0)
		r.logf("merge %s and %s", os[bi].id, os[bi+1].id)
		_, err = r.env.Kinesis.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String(r.stream), ShardToMerge: aws.String(os[bi].id), AdjacentShardToMerge: aws.String(os[bi+1].id)})
	}
	if err != nil {
		return err
	}
	return r.waitActive(ctx)
}

// listShards lists every shard of a stream, open and closed.
func listShards(ctx context.Context, kc *kinesis.Client, stream string) ([]types.Shard, error) {
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
	for {
		out, err := kc.ListShards(ctx, in)
		if err != nil {
			return nil, err
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			return shards, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}
