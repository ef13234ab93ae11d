package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// proc is one worker process.
type proc struct {
	slot, gen int
	cfg       workerConfig
	cmd       *exec.Cmd
	done      chan struct{} // closed when the process has exited and been waited for
	exitErr   error

	mu      sync.Mutex
	stopped bool // SIGSTOPped and not yet continued
	ending  bool // a signal that ends it was sent
}

// startWorker starts a worker process for slot.
func (r *runner) startWorker(slot, gen int) (*proc, error) {
	id := fmt.Sprintf("w%d.%d", slot, gen)
	cfg := workerConfig{
		ID:              id,
		App:             r.app,
		Stream:          r.stream,
		Table:           r.table,
		Polling:         r.polling,
		FailoverTime:    r.opts.FailoverTime,
		LogPath:         filepath.Join(r.dir, "worker-"+id+".jsonl"),
		ControlPath:     filepath.Join(r.dir, "control-"+id+".json"),
		Seed:            r.rng.Uint64(),
		Broken:          r.opts.Broken,
		Debug:           r.opts.WorkerDebug,
		CheckpointEvery: 0,
	}
	if slot%2 == 1 {
		cfg.CheckpointEvery = 7
	}
	env, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	stderr, err := os.Create(filepath.Join(r.dir, "worker-"+id+".stderr"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(r.opts.WorkerCommand[0], r.opts.WorkerCommand[1:]...)
	cmd.Env = append(os.Environ(), EnvWorker+"="+string(env))
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		stderr.Close()
		return nil, fmt.Errorf("start worker %s: %w", id, err)
	}
	p := &proc{slot: slot, gen: gen, cfg: cfg, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.exitErr = cmd.Wait()
		stderr.Close()
		e := event{Ev: "exit", Target: id, PID: cmd.Process.Pid}
		if p.exitErr != nil {
			e.Err = p.exitErr.Error()
		}
		_ = r.events.write(e)
		close(p.done)
	}()
	_ = r.events.write(event{Ev: "spawn", Target: id, PID: cmd.Process.Pid})
	return p, nil
}

func (p *proc) signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// wait waits up to d for the process to exit.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
