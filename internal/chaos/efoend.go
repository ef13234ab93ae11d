package chaos

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kclgo/kcl/internal/faults"
)

// shardEnds makes enhanced fan-out end closed shards as Kinesis does, which kinesis-local
// does not: it never ends a subscription to a closed shard. The worker watches the shard
// list (with a client of its own, outside the consumer's); when a shard closes, the
// subscriptions to it that are open are cut (the consumer resubscribes), and every
// subscription to a closed shard ends, once caught up, with the final event that carries
// the children (faults.EndShard). Test scaffolding for the emulator, not part of the chaos.
type shardEnds struct {
	client *kinesis.Client
	stream string

	mu       sync.Mutex
	children map[string][]types.ChildShard // closed shard -> its children
	live     map[string]map[*cuttableBody]struct{}
	nEnded   int
}

// ended is how many subscriptions to closed shards were ended with their children.
func (s *shardEnds) ended() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nEnded
}

func newShardEnds(client *kinesis.Client, stream string) *shardEnds {
	return &shardEnds{client: client, stream: stream, children: map[string][]types.ChildShard{}, live: map[string]map[*cuttableBody]struct{}{}}
}

// install adds the injector rules: closed shards end, open ones are tracked.
func (s *shardEnds) install(inj *faults.Injector) {
	inj.Add(faults.Rule{Op: "SubscribeToShard", Match: func(c faults.Call) bool { return s.closed(c.Shard) },
		Fault: faults.FaultFunc(func(c faults.Call, req *http.Request, next http.RoundTripper) (*http.Response, error) {
			s.mu.Lock()
			children := s.children[c.Shard]
			s.nEnded++
			s.mu.Unlock()
			return faults.EndShard{Children: children}.Inject(c, req, next)
		})})
	inj.Add(faults.Rule{Op: "SubscribeToShard", Fault: faults.FaultFunc(s.track)})
}

func (s *shardEnds) closed(shard string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.children[shard]
	return ok
}

// track passes a subscription through and keeps its body, to cut it when the shard closes.
func (s *shardEnds) track(c faults.Call, req *http.Request, next http.RoundTripper) (*http.Response, error) {
	resp, err := next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	b := &cuttableBody{src: resp.Body, cut: make(chan struct{}), owner: s, shard: c.Shard}
	s.mu.Lock()
	if s.live[c.Shard] == nil {
		s.live[c.Shard] = map[*cuttableBody]struct{}{}
	}
	s.live[c.Shard][b] = struct{}{}
	_, closed := s.children[c.Shard]
	s.mu.Unlock()
	if closed {
		b.doCut()
	}
	resp.Body = b
	return resp, nil
}

// cutAll cuts every open subscription with a connection reset, so that the consumer
// resubscribes into whatever faults are on (a subscription lives for minutes otherwise).
func (s *shardEnds) cutAll() {
	s.mu.Lock()
	var cut []*cuttableBody
	for _, bs := range s.live {
		for b := range bs {
			cut = append(cut, b)
		}
	}
	s.mu.Unlock()
	for _, b := range cut {
		b.doCut()
	}
}

// poll lists the shards every second until ctx ends.
func (s *shardEnds) poll(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		s.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *shardEnds) refresh(ctx context.Context) {
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(s.stream)}
	for {
		out, err := s.client.ListShards(ctx, in)
		if err != nil {
			return // next time
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	for _, sh := range shards {
		id := aws.ToString(sh.ShardId)
		if sh.SequenceNumberRange == nil || sh.SequenceNumberRange.EndingSequenceNumber == nil || s.closed(id) {
			continue
		}
		var children []types.ChildShard
		for _, c := range shards {
			if aws.ToString(c.ParentShardId) == id || aws.ToString(c.AdjacentParentShardId) == id {
				cs := types.ChildShard{ShardId: c.ShardId, HashKeyRange: c.HashKeyRange}
				for _, p := range []*string{c.ParentShardId, c.AdjacentParentShardId} {
					if p != nil {
						cs.ParentShards = append(cs.ParentShards, *p)
					}
				}
				children = append(children, cs)
			}
		}
		if len(children) == 0 {
			continue // the children are not listed yet
		}
		s.mu.Lock()
		s.children[id] = children
		var cut []*cuttableBody
		for b := range s.live[id] {
			cut = append(cut, b)
		}
		s.mu.Unlock()
		for _, b := range cut {
			b.doCut()
		}
	}
}

// cuttableBody is a subscription's body that doCut breaks off with a connection reset.
type cuttableBody struct {
	src   io.ReadCloser
	cut   chan struct{}
	once  sync.Once
	owner *shardEnds
	shard string
}

func (b *cuttableBody) doCut() {
	b.once.Do(func() {
		close(b.cut)
		b.src.Close() // unblocks a pending Read
	})
}

func (b *cuttableBody) Read(p []byte) (int, error) {
	select {
	case <-b.cut:
		return 0, faults.ConnReset(nil)
	default:
	}
	n, err := b.src.Read(p)
	select {
	case <-b.cut:
		return 0, faults.ConnReset(nil)
	default:
	}
	return n, err
}

func (b *cuttableBody) Close() error {
	b.doCut()
	b.owner.mu.Lock()
	delete(b.owner.live[b.shard], b)
	b.owner.mu.Unlock()
	return nil
}
