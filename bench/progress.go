package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress shows how far a run is: a redrawn bar on a terminal, a plain line every few
// seconds otherwise (logs, CI).
type progress struct {
	w        io.Writer
	terminal bool
	label    string
	start    time.Time
	last     time.Time
	drawn    bool
}

// progressOut is where progress and stage lines go: stderr, keeping stdout for the table.
func progressOut() io.Writer { return os.Stderr }

func newProgress(label string) *progress {
	terminal := false
	if fi, err := os.Stderr.Stat(); err == nil {
		terminal = fi.Mode()&os.ModeCharDevice != 0
	}
	return &progress{w: os.Stderr, terminal: terminal, label: label, start: time.Now()}
}

// update shows done of total (total <= 0: unknown) and, for a timed run, the time left.
func (p *progress) update(done, total int64, deadline time.Time, extra string) {
	now := time.Now()
	frac := 0.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	if tf := float64(now.Sub(p.start)) / float64(deadline.Sub(p.start)); total <= 0 || tf > frac {
		frac = max(frac, min(tf, 1))
	}
	frac = min(frac, 1)
	elapsed := now.Sub(p.start).Truncate(100 * time.Millisecond)
	if p.terminal {
		const width = 30
		n := int(frac * width)
		fmt.Fprintf(p.w, "\r\033[K%s [%s%s] %3.0f%% %d records %v %s", p.label, strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100, done, elapsed, extra)
		p.drawn = true
		return
	}
	if now.Sub(p.last) >= 5*time.Second {
		fmt.Fprintf(p.w, "%s: %3.0f%% %d records %v %s\n", p.label, frac*100, done, elapsed, extra)
		p.last = now
	}
}

func (p *progress) done() {
	if p.terminal && p.drawn {
		fmt.Fprint(p.w, "\n")
	}
}
