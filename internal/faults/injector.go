package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Fault decides how one call is answered. next carries the request on to the emulator; a
// fault that lets the call through calls next.RoundTrip at most once. A fault that does not
// call next must close req.Body (http.RoundTripper's contract). Faults are used concurrently.
type Fault interface {
	Inject(call Call, req *http.Request, next http.RoundTripper) (*http.Response, error)
}

// FaultFunc adapts a function to Fault, for one-off faults a test writes itself.
type FaultFunc func(call Call, req *http.Request, next http.RoundTripper) (*http.Response, error)

// Inject implements Fault.
func (f FaultFunc) Inject(call Call, req *http.Request, next http.RoundTripper) (*http.Response, error) {
	return f(call, req, next)
}

// Rule says which calls get a fault. All set fields must fit a call.
type Rule struct {
	// Op is the operation: the part of X-Amz-Target after the dot, e.g. "GetRecords" or
	// "UpdateItem". Empty fits every operation.
	Op string
	// Shard is the Kinesis shard id the call is about (see Call.Shard). Empty fits every
	// call; a set Shard never fits a call whose shard is unknown.
	Shard string
	// Match, when set, is asked last, outside the injector's lock, for anything else.
	Match func(Call) bool
	// Skip lets the first Skip fitting calls through unharmed.
	Skip int
	// Times is how many calls get the fault after the skipped ones; 0 means every one until
	// the rule is removed.
	Times int
	// Fault answers the call. Nil makes the rule an observer: it counts (Seen, Hits) but
	// leaves the call alone and leaves it to later rules.
	Fault Fault
}

// Call is one request the injector saw.
type Call struct {
	Seq     int       // 1, 2, ... in the order the injector saw the calls
	Time    time.Time // when the injector saw it
	Service string    // ServiceKinesis, ServiceDynamoDB, or the X-Amz-Target prefix of anything else
	Op      string    // operation name, e.g. "GetRecords"
	// Shard is the request's ShardId (or ShardFilter.ShardId); for GetRecords, the shard its
	// iterator was issued for, learnt from earlier GetShardIterator and GetRecords responses
	// through this injector. Empty when unknown.
	Shard string
	// Stream is the stream name, from StreamName, StreamARN or ConsumerARN, or for GetRecords
	// learnt with the iterator. Empty when unknown.
	Stream string
	// Table is the DynamoDB TableName. Empty for other calls.
	Table string
	// Body is the request's JSON body. Do not modify it.
	Body []byte
	// Injected is true when a rule's fault handled the call; Fault names that fault.
	Injected bool
	Fault    string

	iterator string // the request's ShardIterator (GetRecords)
}

// Services, as Call.Service names them.
const (
	ServiceKinesis  = "Kinesis"
	ServiceDynamoDB = "DynamoDB"
)

// Injector wraps SDK clients' transports and injects faults into the calls its rules fit.
// It is safe for concurrent use and starts no goroutines.
type Injector struct {
	mu    sync.Mutex
	rules []*Handle
	log   []Call
	iters map[string]shardRef // shard iterator -> what it reads
}

type shardRef struct{ stream, shard string }

// New returns an injector with no rules.
func New() *Injector {
	return &Injector{iters: make(map[string]shardRef)}
}

// Wrap returns a transport that sends calls through the injector to base. Its type is
// testenv.Wrapper, so inj.Wrap can be handed to env.NewKinesis and env.NewDynamoDB.
func (inj *Injector) Wrap(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{inj: inj, base: base}
}

// Add installs a rule after the existing ones and returns its handle. A rule with a
// negative Skip or Times is refused in the test's face: every call it would fit fails with
// an error that names the field.
func (inj *Injector) Add(r Rule) *Handle {
	h := &Handle{inj: inj, rule: r, changed: make(chan struct{})}
	switch {
	case r.Skip < 0:
		h.rule.Fault = invalidRule(fmt.Sprintf("Skip %d is negative", r.Skip))
		h.rule.Skip = 0
	case r.Times < 0:
		h.rule.Fault = invalidRule(fmt.Sprintf("Times %d is negative", r.Times))
		h.rule.Times = 0
	}
	inj.mu.Lock()
	inj.rules = append(inj.rules, h)
	inj.mu.Unlock()
	return h
}

// RemoveAll removes every rule; calls already being answered keep their fault.
func (inj *Injector) RemoveAll() {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	for _, h := range inj.rules {
		h.removed = true
	}
	inj.rules = nil
}

// Log returns every call seen so far, in order.
func (inj *Injector) Log() []Call {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	return slices.Clone(inj.log)
}

// Calls returns the calls of operation op seen so far, in order.
func (inj *Injector) Calls(op string) []Call {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	var calls []Call
	for _, c := range inj.log {
		if c.Op == op {
			calls = append(calls, c)
		}
	}
	return calls
}

// Handle is an installed rule.
type Handle struct {
	inj  *Injector
	rule Rule
	// Guarded by inj.mu.
	seen, hits int
	removed    bool
	changed    chan struct{} // closed and replaced on every hit
}

// Hits is how many calls the rule's fault handled (for an observer rule: would have).
func (h *Handle) Hits() int {
	h.inj.mu.Lock()
	defer h.inj.mu.Unlock()
	return h.hits
}

// Seen is how many calls fitted the rule, skipped ones included.
func (h *Handle) Seen() int {
	h.inj.mu.Lock()
	defer h.inj.mu.Unlock()
	return h.seen
}

// Remove uninstalls the rule; a call already being answered keeps its fault.
func (h *Handle) Remove() {
	h.inj.mu.Lock()
	defer h.inj.mu.Unlock()
	h.removed = true
	h.inj.rules = slices.DeleteFunc(h.inj.rules, func(x *Handle) bool { return x == h })
}

// Wait blocks until the rule has at least n hits, or returns ctx's error.
func (h *Handle) Wait(ctx context.Context, n int) error {
	for {
		h.inj.mu.Lock()
		hits, changed := h.hits, h.changed
		h.inj.mu.Unlock()
		if hits >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("faults: %d of %d hits: %w", hits, n, context.Cause(ctx))
		}
	}
}

// fits reports whether the rule's static fields fit c; Match is asked separately.
func (h *Handle) fits(c *Call) bool {
	r := &h.rule
	return (r.Op == "" || r.Op == c.Op) && (r.Shard == "" || r.Shard == c.Shard)
}

// dispatch numbers and logs c and picks the fault that answers it (nil: none).
// Every fitting rule counts the call; the first fitting rule that is due and has a fault
// handles it.
func (inj *Injector) dispatch(c *Call) Fault {
	inj.mu.Lock()
	if c.Op == "GetRecords" && c.Shard == "" {
		if ref, ok := inj.iters[c.iterator]; ok {
			c.Shard, c.Stream = ref.shard, ref.stream
		}
	}
	var candidates []*Handle
	for _, h := range inj.rules {
		if h.fits(c) {
			candidates = append(candidates, h)
		}
	}
	inj.mu.Unlock()

	// Match runs unlocked: it is test code and may be slow or look at the injector.
	fitting := candidates[:0]
	for _, h := range candidates {
		if h.rule.Match == nil || h.rule.Match(*c) {
			fitting = append(fitting, h)
		}
	}

	inj.mu.Lock()
	defer inj.mu.Unlock()
	var chosen Fault
	for _, h := range fitting {
		if h.removed {
			continue
		}
		h.seen++
		due := h.seen > h.rule.Skip && (h.rule.Times == 0 || h.hits < h.rule.Times)
		if !due || (chosen != nil && h.rule.Fault != nil) {
			continue
		}
		h.hits++
		close(h.changed)
		h.changed = make(chan struct{})
		if h.rule.Fault != nil {
			chosen = h.rule.Fault
		}
	}
	c.Seq = len(inj.log) + 1
	if chosen != nil {
		c.Injected = true
		c.Fault = faultName(chosen)
	}
	inj.log = append(inj.log, *c)
	return chosen
}

// learn remembers which shard an iterator reads.
func (inj *Injector) learn(iterator string, ref shardRef) {
	if iterator == "" || ref.shard == "" {
		return
	}
	inj.mu.Lock()
	inj.iters[iterator] = ref
	inj.mu.Unlock()
}

func faultName(f Fault) string {
	if s, ok := f.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", f)
}

// invalidRule is the fault of a rule Add refused.
type invalidRule string

func (r invalidRule) Inject(_ Call, req *http.Request, _ http.RoundTripper) (*http.Response, error) {
	closeBody(req)
	return nil, fmt.Errorf("faults: invalid rule: %s", string(r))
}

func (r invalidRule) String() string { return "invalid rule: " + string(r) }

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// Key returns the string or number value of attribute attr in a DynamoDB request's Key (or,
// for PutItem, Item), e.g. c.Key("leaseKey"); "" when there is none.
func (c Call) Key(attr string) string {
	var in struct {
		Key, Item map[string]struct{ S, N string }
	}
	if json.Unmarshal(c.Body, &in) != nil {
		return ""
	}
	for _, m := range []map[string]struct{ S, N string }{in.Key, in.Item} {
		if v, ok := m[attr]; ok {
			return v.S + v.N
		}
	}
	return ""
}
