package chaos

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// event is one JSON line of any log of a run. Which fields are set depends on Ev.
type event struct {
	Ev string `json:"ev"`
	// T is when it happened, Unix nanoseconds (every process runs on one machine's clock).
	T int64 `json:"t"`
	// T0 is when a checkpoint call began (T is when it returned): the write took effect
	// somewhere in between.
	T0 int64 `json:"t0,omitempty"`

	Worker string `json:"w,omitempty"`
	Tenure string `json:"ten,omitempty"`
	Shard  string `json:"shard,omitempty"`
	Seq    string `json:"seq,omitempty"`
	Sub    uint64 `json:"sub,omitempty"`
	// N is the producer's counter of the record (from its payload); -1 when unreadable.
	N int64 `json:"n,omitempty"`
	// Bad says what is wrong with a delivered payload.
	Bad string `json:"bad,omitempty"`

	Parents []string `json:"parents,omitempty"`
	End     bool     `json:"end,omitempty"`
	OK      bool     `json:"ok,omitempty"`
	Err     string   `json:"err,omitempty"`
	PID     int      `json:"pid,omitempty"`

	// Fault events (scheduler).
	Kind   string `json:"kind,omitempty"`
	Target string `json:"target,omitempty"`
	Until  int64  `json:"until,omitempty"`

	// Closed events (worker): kcl goroutines left after Stop or Drain and their stacks.
	How        string `json:"how,omitempty"`
	Goroutines int    `json:"goroutines,omitempty"`
	Dump       string `json:"dump,omitempty"`
	// Injected counts the SDK calls the worker's fault injector answered, by fault.
	Injected map[string]int `json:"injected,omitempty"`
}

// Log events.
const (
	evAck       = "ack"     // producer: a user record acknowledged by PutRecords
	evPutFailed = "put-err" // producer: a call or entry failed (retried)
	evStart     = "start"   // worker process started
	evTenure    = "tenure"  // worker: a shard arrived on Shards()
	evRecord    = "rec"     // worker: a record delivered
	evCkpt      = "ckpt"    // worker: a checkpoint call returned
	evTenureEnd = "tenure-end"
	evClosed    = "closed" // worker: Stop or Drain returned
	evFault     = "fault"  // scheduler: a fault applied
	evPhase     = "phase"  // scheduler: a phase of the run began
)

// jsonlWriter appends events to a file. Each Write is one write(2) of whole lines, so a
// process killed with SIGKILL leaves only whole lines behind.
type jsonlWriter struct {
	mu sync.Mutex
	f  *os.File
}

func createLog(path string) (*jsonlWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &jsonlWriter{f: f}, nil
}

func (w *jsonlWriter) write(evs ...event) error {
	var buf []byte
	for _, e := range evs {
		if e.T == 0 {
			e.T = time.Now().UnixNano()
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		buf = append(append(buf, b...), '\n')
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.f.Write(buf)
	return err
}

func (w *jsonlWriter) Close() error { return w.f.Close() }

// readLog calls fn for each event of a log; a torn last line (a process killed mid-write)
// is tolerated, any other unreadable line is an error.
func readLog(path string, fn func(event)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var pending error
	for line := 1; sc.Scan(); line++ {
		if pending != nil {
			return pending
		}
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			pending = fmt.Errorf("%s:%d: %w", path, line, err)
			continue
		}
		fn(e)
	}
	return sc.Err()
}
