package multilang

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"time"
)

// child is one record-processor process: its stdin for messages, a reader goroutine for its
// stdout and one for its stderr. Every goroutine it starts ends in kill.
type child struct {
	cmd    *exec.Cmd
	stdin  *os.File // our end
	stdout *os.File // our end
	stderr *os.File // our end
	log    *slog.Logger

	msgs chan readResult
	// exited is closed when the process has been waited for; exitErr is then set.
	exited  chan struct{}
	exitErr error
	readers sync.WaitGroup
}

type readResult struct {
	msg Message
	err error
}

// stderrLinesPerSecond bounds how many of a child's stderr lines reach the log.
const stderrLinesPerSecond = 50

// startChild starts argv with its own pipes; dir and env are the daemon's.
func startChild(argv []string, log *slog.Logger) (*child, error) {
	if len(argv) == 0 {
		return nil, errors.New("no executable")
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW)
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW, outR, outW)
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	cmd.SysProcAttr = childSysProcAttr()
	if err := cmd.Start(); err != nil {
		closeAll(inR, inW, outR, outW, errR, errW)
		return nil, fmt.Errorf("start %q: %w", argv[0], err)
	}
	closeAll(inR, outW, errW) // the child's ends
	c := &child{
		cmd: cmd, stdin: inW, stdout: outR, stderr: errR,
		log:    log.With(slog.Int("pid", cmd.Process.Pid)),
		msgs:   make(chan readResult, 1),
		exited: make(chan struct{}),
	}
	c.readers.Go(c.readStdout)
	c.readers.Go(c.readStderr)
	go func() {
		// Wait returns once the process exited; the pipes are ours, so it does not wait
		// for their readers.
		c.exitErr = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// readStdout turns the child's stdout into messages until it ends; the last result on msgs
// is the read error. It stops when the channel is no longer read (kill closes stdout).
func (c *child) readStdout() {
	defer close(c.msgs)
	r := NewMessageReader(c.stdout)
	skipped := 0
	r.Skipped = func(line []byte, err error) {
		skipped++
		if skipped <= 100 || skipped%1000 == 0 {
			c.log.Info("skipping a line on the child's stdout that is not a protocol message", slog.String("line", string(line)), slog.String("why", err.Error()), slog.Int("skipped", skipped))
		}
	}
	for {
		m, err := r.Next()
		c.msgs <- readResult{msg: m, err: err}
		if err != nil {
			return
		}
	}
}

// readStderr logs the child's stderr line by line, at most stderrLinesPerSecond a second,
// and always drains it so the child never blocks on a full pipe.
func (c *child) readStderr() {
	sc := bufio.NewReader(c.stderr)
	window := time.Now()
	logged, dropped := 0, 0
	for {
		line, err := sc.ReadSlice('\n')
		if len(line) > 0 {
			if now := time.Now(); now.Sub(window) >= time.Second {
				if dropped > 0 {
					c.log.Warn("child stderr: lines not logged (more than 50 a second)", slog.Int("dropped", dropped))
				}
				window, logged, dropped = now, 0, 0
			}
			if logged < stderrLinesPerSecond {
				logged++
				c.log.Info("child stderr", slog.String("line", string(trimEOL(line))))
			} else {
				dropped++
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if dropped > 0 {
				c.log.Warn("child stderr: lines not logged (more than 50 a second)", slog.Int("dropped", dropped))
			}
			return
		}
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// send writes one message line, giving up after timeout (a child that does not read).
func (c *child) send(line []byte, timeout time.Duration) error {
	if err := c.stdin.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	_, err := c.stdin.Write(line)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("child did not read its stdin for %v", timeout)
	}
	return err
}

// end closes the child's stdin (the clients exit at end of input) and waits up to grace for
// it to exit; then it kills it. It returns how the process ended.
func (c *child) end(grace time.Duration) error {
	_ = c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(grace):
		c.log.Warn("child did not exit after its stdin closed; killing it", slog.Duration("waited", grace))
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	c.closeReaders()
	return c.exitErr
}

// kill ends the child now.
func (c *child) kill() error {
	_ = c.stdin.Close()
	_ = c.cmd.Process.Kill()
	<-c.exited
	c.closeReaders()
	return c.exitErr
}

// closeReaders stops the stdout and stderr goroutines (a grandchild may hold the pipes
// open) and waits for them.
func (c *child) closeReaders() {
	_ = c.stdout.Close()
	_ = c.stderr.Close()
	for range c.msgs { // let readStdout finish; it closes msgs
	}
	c.readers.Wait()
}

// exitDescription says how a process ended, for log lines.
func exitDescription(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.String()
	}
	return err.Error()
}
