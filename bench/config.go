package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// runConfig is one measured run: the source, the reader, and what to read. The parent
// passes it to its worker processes as JSON.
type runConfig struct {
	// Source is "replay", "emulators" or "aws".
	Source string `json:"source"`
	// KinesisEndpoint and DynamoDBEndpoint are empty for real AWS.
	KinesisEndpoint  string `json:"kinesis_endpoint,omitempty"`
	DynamoDBEndpoint string `json:"dynamodb_endpoint,omitempty"`
	Stream           string `json:"stream"`
	App              string `json:"app"`
	// ConsumerName is the fan-out consumer; empty: App.
	ConsumerName string `json:"consumer_name,omitempty"`

	// Reader is "kcl" or "bare" (the AWS SDK loop that is the floor).
	Reader string `json:"reader"`
	// Retrieval is "efo" or "polling".
	Retrieval string `json:"retrieval"`
	// Checkpoint is "batch", "records:N" or "every:DURATION" (kcl only).
	Checkpoint string `json:"checkpoint"`
	// Buffer is EFO batches read ahead, or polling responses read ahead; 0: default.
	Buffer int `json:"buffer"`
	// PollingMaxBytes is the polling reader's per-shard pace; 0: the library's 2 MiB/s.
	PollingMaxBytes int64 `json:"polling_max_bytes"`
	// Workers is the number of worker processes.
	Workers int `json:"workers"`

	Shards          int   `json:"shards"`
	RecordSize      int   `json:"record_size"`
	Aggregate       int   `json:"aggregate"`
	RecordsPerShard int64 `json:"records_per_shard"`
	// Rate is the replay source's pace per shard in bytes/s; 0: as fast as read.
	Rate int64 `json:"rate"`
	// EventInterval is the replay source's least gap between two SubscribeToShard events.
	EventInterval time.Duration `json:"event_interval"`
	// Idle serves no records: the run measures what idle shards cost.
	Idle bool `json:"idle"`
	// ProbeGap, when set, makes records arrive one by one at random gaps in [min, max].
	ProbeGapMin time.Duration `json:"probe_gap_min,omitempty"`
	ProbeGapMax time.Duration `json:"probe_gap_max,omitempty"`
	// ProfileDir, when set, gets a CPU profile of every worker process.
	ProfileDir string `json:"profile_dir,omitempty"`
	// Duration bounds the run; with an end to the records it ends earlier.
	Duration time.Duration `json:"duration"`
}

// userRecordsPerShard is how many user records a replayed shard holds; 0 when unbounded.
func (c runConfig) userRecordsPerShard() int64 {
	return c.RecordsPerShard * int64(max(c.Aggregate, 1))
}

// label names the run in tables and charts.
func (c runConfig) label() string {
	agg := ""
	if c.Aggregate > 1 {
		agg = fmt.Sprintf(" kpl×%d", c.Aggregate)
	}
	return fmt.Sprintf("%s %s %dsh %dB%s", c.Reader, c.Retrieval, c.Shards, c.RecordSize, agg)
}

// checkpointStrategy parses Checkpoint.
func parseCheckpoint(s string) (kind string, n int, every time.Duration, err error) {
	switch {
	case s == "" || s == "batch":
		return "batch", 0, 0, nil
	case strings.HasPrefix(s, "records:"):
		n, err = strconv.Atoi(strings.TrimPrefix(s, "records:"))
		if err != nil || n < 1 {
			return "", 0, 0, fmt.Errorf("-checkpoint %q: records:N needs N >= 1", s)
		}
		return "records", n, 0, nil
	case strings.HasPrefix(s, "every:"):
		every, err = time.ParseDuration(strings.TrimPrefix(s, "every:"))
		if err != nil || every <= 0 {
			return "", 0, 0, fmt.Errorf("-checkpoint %q: every:DURATION needs a positive duration", s)
		}
		return "every", 0, every, nil
	}
	return "", 0, 0, fmt.Errorf("-checkpoint %q: want batch, records:N or every:DURATION", s)
}

func (c runConfig) validate() error {
	if _, _, _, err := parseCheckpoint(c.Checkpoint); err != nil {
		return err
	}
	switch {
	case c.Reader != "kcl" && c.Reader != "bare":
		return fmt.Errorf("reader %q: want kcl or bare", c.Reader)
	case c.Retrieval != "efo" && c.Retrieval != "polling":
		return fmt.Errorf("-retrieval %q: want efo or polling", c.Retrieval)
	case c.Source != "replay" && c.Source != "emulators" && c.Source != "aws":
		return fmt.Errorf("-source %q: want replay, emulators or aws", c.Source)
	case c.Shards < 1:
		return fmt.Errorf("-shards %d: want at least 1", c.Shards)
	case c.Workers < 1:
		return fmt.Errorf("-workers %d: want at least 1", c.Workers)
	case c.Reader == "bare" && c.Workers != 1:
		return fmt.Errorf("the bare loop runs as one process")
	case c.Duration <= 0:
		return fmt.Errorf("-duration %v: want a positive duration", c.Duration)
	}
	return nil
}
