package chaos

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/kclgo/kcl/internal/faults"
)

// Faults the scheduler switches on in a worker's SDK clients through its control file.
const (
	faultDDBThrottle = "ddb-throttle"     // lease table calls throttled
	faultDDBReset    = "ddb-reset"        // lease table connections reset, before or after the call
	faultKinThrottle = "kinesis-throttle" // GetRecords / SubscribeToShard throttled
	faultExpire      = "expire-iterator"  // GetRecords iterators expire
	faultCutEFO      = "cut-efo"          // SubscribeToShard streams cut by resets
	faultStall       = "stall"            // processing stalls (the reader sleeps) until the window ends
)

// controlFile is what the scheduler writes for one worker: each fault and until when it is on.
type controlFile struct {
	Until map[string]int64 `json:"until"`
}

// control is a worker's view of its control file, and the injector whose rules it gates.
type control struct {
	path string
	inj  *faults.Injector

	mu    sync.Mutex
	until map[string]int64
	rng   *rand.Rand
	ncut  int
	// onStart is called (outside the lock) when a fault's window opens.
	onStart func(kind string)
}

// cuts is how many subscriptions the cut-efo fault cut.
func (c *control) cuts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ncut
}

func newControl(path string, rng *rand.Rand) *control {
	c := &control{path: path, inj: faults.New(), until: map[string]int64{}, rng: rng}
	on := func(kind string, p float64) func(faults.Call) bool {
		return func(faults.Call) bool { return c.on(kind, p) }
	}
	ddb := func(kind string, p float64) func(faults.Call) bool {
		return func(call faults.Call) bool { return call.Service == faults.ServiceDynamoDB && c.on(kind, p) }
	}
	c.inj.Add(faults.Rule{Match: ddb(faultDDBThrottle, 0.4), Fault: faults.Throttle()})
	c.inj.Add(faults.Rule{Match: ddb(faultDDBReset, 0.15), Fault: faults.ResetBefore()})
	c.inj.Add(faults.Rule{Match: ddb(faultDDBReset, 0.15), Fault: faults.ResetAfter()})
	c.inj.Add(faults.Rule{Op: "GetRecords", Match: on(faultKinThrottle, 0.5), Fault: faults.Throttle()})
	c.inj.Add(faults.Rule{Op: "SubscribeToShard", Match: on(faultKinThrottle, 0.5), Fault: faults.LimitExceeded()})
	c.inj.Add(faults.Rule{Op: "GetRecords", Match: on(faultExpire, 0.3), Fault: faults.ExpireIterator()})
	c.inj.Add(faults.Rule{Op: "SubscribeToShard", Match: on(faultCutEFO, 1), Fault: faults.FaultFunc(c.cutStream)})
	return c
}

// cutStream cuts a subscription after a few events with a connection reset.
func (c *control) cutStream(call faults.Call, req *http.Request, next http.RoundTripper) (*http.Response, error) {
	c.mu.Lock()
	n := c.rng.IntN(4)
	c.ncut++
	c.mu.Unlock()
	return faults.CutStream{AfterEvents: n, Err: faults.ConnReset(nil)}.Inject(call, req, next)
}

// on reports whether fault kind is switched on now, and then draws whether this call gets it.
func (c *control) on(kind string, p float64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Now().UnixNano() >= c.until[kind] {
		return false
	}
	return c.rng.Float64() < p
}

// stallIfAsked blocks while the stall fault is on: processing that takes longer than the
// failover time.
func (c *control) stallIfAsked() {
	for {
		c.mu.Lock()
		until := c.until[faultStall]
		c.mu.Unlock()
		d := time.Until(time.Unix(0, until))
		if d <= 0 {
			return
		}
		time.Sleep(d)
	}
}

// poll rereads the control file until ctx ends.
func (c *control) poll(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		c.load()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *control) load() {
	b, err := os.ReadFile(c.path)
	if err != nil {
		return // not written yet
	}
	var f controlFile
	if json.Unmarshal(b, &f) != nil {
		return // the scheduler writes by rename, so this is not a half-written file
	}
	if f.Until == nil {
		f.Until = map[string]int64{}
	}
	now := time.Now().UnixNano()
	var opened []string
	c.mu.Lock()
	for kind, until := range f.Until {
		if until > now && until != c.until[kind] {
			opened = append(opened, kind)
		}
	}
	c.until = f.Until
	onStart := c.onStart
	c.mu.Unlock()
	for _, kind := range opened {
		if onStart != nil {
			onStart(kind)
		}
	}
}

// writeControl replaces a worker's control file atomically.
func writeControl(path string, f controlFile) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
