package kcl_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/kclgo/kcl"
)

// recordCounter is a kcl.Metrics that counts what kcl.RecordMetrics reports.
type recordCounter struct {
	kcl.NoMetrics
	mu      sync.Mutex
	corrupt []error
	dropped int
}

func (m *recordCounter) CorruptRecord(_, _ string, err error) {
	m.mu.Lock()
	m.corrupt = append(m.corrupt, err)
	m.mu.Unlock()
}

func (m *recordCounter) UserRecordsDropped(_, _ string, n int) {
	m.mu.Lock()
	m.dropped += n
	m.mu.Unlock()
}

func (m *recordCounter) counts() (corrupt, dropped int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.corrupt), m.dropped
}

// logCapture is a slog handler that keeps every record (and passes it on to the test's
// log when KCL_TEST_LOG is set).
type logCapture struct {
	t       *testing.T
	mu      *sync.Mutex
	records *[]capturedLog
	attrs   []slog.Attr
}

type capturedLog struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func newLogCapture(t *testing.T) (*slog.Logger, *logCapture) {
	h := &logCapture{t: t, mu: &sync.Mutex{}, records: new([]capturedLog)}
	return slog.New(h), h
}

func (h *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (h *logCapture) Handle(ctx context.Context, r slog.Record) error {
	c := capturedLog{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		c.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		c.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	*h.records = append(*h.records, c)
	h.mu.Unlock()
	if l := testLogger(h.t); l != nil {
		_ = l.Handler().Handle(ctx, r)
	}
	return nil
}

func (h *logCapture) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &c
}

func (h *logCapture) WithGroup(string) slog.Handler { return h }

// find returns the records at level or above whose message contains msg.
func (h *logCapture) find(level slog.Level, msg string) []capturedLog {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []capturedLog
	for _, r := range *h.records {
		if r.level >= level && strings.Contains(r.msg, msg) {
			out = append(out, r)
		}
	}
	return out
}
