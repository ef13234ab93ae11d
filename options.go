package kcl

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kclgo/kcl/efo"
	"github.com/kclgo/kcl/leases"
	"github.com/kclgo/kcl/polling"
)

// KinesisAPI is what the consumer calls on Kinesis; *kinesis.Client satisfies it.
type KinesisAPI interface {
	efo.KinesisAPI
	polling.GetRecordsAPI
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
}

// Retrieval says how records are read from Kinesis.
type Retrieval int

const (
	// EnhancedFanOut pushes records over SubscribeToShard to a registered consumer, with
	// 2 MiB/s per shard of its own. The default.
	EnhancedFanOut Retrieval = iota
	// Polling reads with GetRecords, sharing the shard's 2 MiB/s with other polling readers.
	Polling
)

func (r Retrieval) String() string {
	switch r {
	case EnhancedFanOut:
		return "enhanced fan-out"
	case Polling:
		return "polling"
	}
	return "Retrieval(" + strconv.Itoa(int(r)) + ")"
}

// InitialPosition is where shards without a checkpoint start. The zero value is Latest.
type InitialPosition struct {
	kind      initialKind
	timestamp time.Time
}

type initialKind int

const (
	initialLatest initialKind = iota
	initialTrimHorizon
	initialAtTimestamp
)

var (
	// Latest starts new shards after the newest record: only records put from now on.
	Latest = InitialPosition{kind: initialLatest}
	// TrimHorizon starts new shards at their oldest record still retained.
	TrimHorizon = InitialPosition{kind: initialTrimHorizon}
)

// AtTimestamp starts new shards at the first record that arrived at or after t.
func AtTimestamp(t time.Time) InitialPosition {
	return InitialPosition{kind: initialAtTimestamp, timestamp: t}
}

func (p InitialPosition) String() string {
	switch p.kind {
	case initialTrimHorizon:
		return "TRIM_HORIZON"
	case initialAtTimestamp:
		return "AT_TIMESTAMP(" + p.timestamp.UTC().Format(time.RFC3339Nano) + ")"
	}
	return "LATEST"
}

// CorruptRecordPolicy says what the consumer does with a Kinesis record that holds a corrupt
// KPL aggregate: its checksum is right (so it is not a record that merely starts with the
// KPL's magic bytes, which is delivered as it is) but its content breaks the schema, so its
// user records cannot be told apart. Whatever the policy, the records before it are
// delivered first, the error is logged and counted (RecordMetrics.CorruptRecord), and the
// shard's lease never goes around the workers of the application.
type CorruptRecordPolicy int

const (
	// HaltShard stops reading the shard at the corrupt record, the default: nothing is lost
	// or handed over unasked. The records before it are delivered and can be checkpointed;
	// then the shard's channel closes with a *ShardError wrapping the
	// *aggregation.CorruptError, and this worker keeps the lease (renewing it, logging at
	// error level) so that no other worker takes the shard and stalls on it too, until the
	// consumer stops. To get past the record, run with DeliverCorrupt or SkipCorrupt.
	HaltShard CorruptRecordPolicy = iota
	// DeliverCorrupt delivers the corrupt Kinesis record whole as one Record with Corrupt
	// set, in its place in the shard, for the application to set aside (a dead-letter
	// queue); it is checkpointed like any other record.
	DeliverCorrupt
	// SkipCorrupt leaves the corrupt record out, logging it at error level with its
	// sequence number; checkpoints move past it.
	SkipCorrupt
)

func (p CorruptRecordPolicy) String() string {
	switch p {
	case HaltShard:
		return "HaltShard"
	case DeliverCorrupt:
		return "DeliverCorrupt"
	case SkipCorrupt:
		return "SkipCorrupt"
	}
	return "CorruptRecordPolicy(" + strconv.Itoa(int(p)) + ")"
}

// Config configures a Consumer. App, Stream, Kinesis and DynamoDB are required; every other
// field has a default (see New), and the zero value of a field means that default.
type Config struct {
	// App names the application: the lease table and the enhanced fan-out consumer are
	// named after it unless LeaseTable or ConsumerName say otherwise. Workers of one
	// application share its leases.
	App string
	// Stream is the stream's name or ARN.
	Stream string
	// Kinesis and DynamoDB are the SDK clients (*kinesis.Client, *dynamodb.Client).
	Kinesis  KinesisAPI
	DynamoDB leases.DynamoDBAPI

	// WorkerID identifies this worker in the lease table; unique per process.
	// Default: hostname, process id and a random suffix.
	WorkerID string
	// LeaseTable is the DynamoDB lease table. Default: App, as KCL names it.
	LeaseTable string
	// Retrieval chooses enhanced fan-out (default) or polling.
	Retrieval Retrieval
	// ConsumerName is the enhanced fan-out consumer's name. Default: App.
	ConsumerName string
	// InitialPosition is where shards without a checkpoint start. Default: Latest.
	InitialPosition InitialPosition

	// FailoverTime is how long a lease may go unrenewed before another worker takes it.
	// Default 10 s.
	FailoverTime time.Duration
	// MaxLeasesForWorker caps the leases this worker holds. Default: no cap.
	MaxLeasesForWorker int
	// ShardSyncInterval is how often the shard list is compared with the lease table, to
	// create leases for new shards. Default 1 min.
	ShardSyncInterval time.Duration
	// HoleAuditThreshold is how many shard syncs in a row must see the same hash-key range
	// uncovered by leases before leases are created for it. Default 3.
	HoleAuditThreshold int
	// ParentPollInterval is how often a child shard whose parents are not finished checks
	// them again. Default 1 s.
	ParentPollInterval time.Duration
	// KeepFinishedLeases keeps the leases of finished shards; by default they are deleted
	// once every child has started.
	KeepFinishedLeases bool
	// AutoShardEnd writes SHARD_END as soon as the reader has taken a closed shard's last
	// batch. By default it is written once the reader has taken it and checkpointed every
	// record of the shard (with any checkpoint call), so records taken but not processed
	// when the process dies are read again.
	AutoShardEnd bool
	// CorruptRecords says what to do with a corrupt KPL aggregate. Default: HaltShard.
	CorruptRecords CorruptRecordPolicy
	// ShardEndWarnAfter is how long a closed shard's last batch may stay taken but not
	// checkpointed before a warning says so (then again each time it passes) and
	// ShardEndMetrics hears of it: meanwhile the shard's children cannot start.
	// Default 1 min.
	ShardEndWarnAfter time.Duration
	// ShutdownTimeout bounds how long Drain waits for readers' final checkpoints when its
	// context has no deadline. Default 30 s.
	ShutdownTimeout time.Duration

	// PollingOptions and EFOOptions tune the readers (pacing, buffers, timeouts).
	PollingOptions []polling.Option
	EFOOptions     []efo.Option

	// Decoder, when set, decodes each batch's records before delivery (see RecordDecoder;
	// glue.NewDecoder makes one for Glue Schema Registry records). Default: none.
	Decoder RecordDecoder

	// Logger receives the consumer's logs. Default: discarded.
	Logger *slog.Logger
	// Metrics receives measurements. Default: none.
	Metrics Metrics
}

// Defaults, in one place.
const (
	DefaultFailoverTime       = 10 * time.Second
	DefaultShardSyncInterval  = time.Minute
	DefaultHoleAuditThreshold = 3
	DefaultParentPollInterval = time.Second
	DefaultShutdownTimeout    = 30 * time.Second
	DefaultCorruptRecords     = HaltShard
	DefaultShardEndWarnAfter  = time.Minute
	// minPollInterval keeps the shard sync and the parent checks from spinning.
	minPollInterval = 10 * time.Millisecond
)

// ConfigError says which field of a Config is wrong.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return "kcl: Config." + e.Field + ": " + e.Reason }

// withDefaults validates c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	required := []struct {
		field string
		empty bool
	}{
		{"App", c.App == ""},
		{"Stream", c.Stream == ""},
		{"Kinesis", c.Kinesis == nil},
		{"DynamoDB", c.DynamoDB == nil},
	}
	for _, r := range required {
		if r.empty {
			return c, &ConfigError{Field: r.field, Reason: "required"}
		}
	}
	if c.Retrieval != EnhancedFanOut && c.Retrieval != Polling {
		return c, &ConfigError{Field: "Retrieval", Reason: fmt.Sprintf("%d is neither EnhancedFanOut nor Polling", int(c.Retrieval))}
	}
	if c.CorruptRecords < HaltShard || c.CorruptRecords > SkipCorrupt {
		return c, &ConfigError{Field: "CorruptRecords", Reason: fmt.Sprintf("%d is none of HaltShard, DeliverCorrupt and SkipCorrupt", int(c.CorruptRecords))}
	}
	if c.InitialPosition.kind == initialAtTimestamp && c.InitialPosition.timestamp.IsZero() {
		return c, &ConfigError{Field: "InitialPosition", Reason: "AtTimestamp needs a non-zero time"}
	}
	durations := []struct {
		field string
		d     *time.Duration
		def   time.Duration
	}{
		{"FailoverTime", &c.FailoverTime, DefaultFailoverTime},
		{"ShardSyncInterval", &c.ShardSyncInterval, DefaultShardSyncInterval},
		{"ParentPollInterval", &c.ParentPollInterval, DefaultParentPollInterval},
		{"ShutdownTimeout", &c.ShutdownTimeout, DefaultShutdownTimeout},
		{"ShardEndWarnAfter", &c.ShardEndWarnAfter, DefaultShardEndWarnAfter},
	}
	for _, d := range durations {
		switch {
		case *d.d < 0:
			return c, &ConfigError{Field: d.field, Reason: fmt.Sprintf("%v is negative", *d.d)}
		case *d.d == 0:
			*d.d = d.def
		}
	}
	for _, d := range []struct {
		field string
		d     time.Duration
	}{{"ShardSyncInterval", c.ShardSyncInterval}, {"ParentPollInterval", c.ParentPollInterval}, {"ShardEndWarnAfter", c.ShardEndWarnAfter}} {
		if d.d < minPollInterval {
			return c, &ConfigError{Field: d.field, Reason: fmt.Sprintf("%v is below %v", d.d, minPollInterval)}
		}
	}
	if c.FailoverTime < 300*time.Millisecond {
		return c, &ConfigError{Field: "FailoverTime", Reason: fmt.Sprintf("%v is below 300ms: renewals every third of it would hammer DynamoDB", c.FailoverTime)}
	}
	if c.MaxLeasesForWorker < 0 {
		return c, &ConfigError{Field: "MaxLeasesForWorker", Reason: fmt.Sprintf("%d is negative", c.MaxLeasesForWorker)}
	}
	switch {
	case c.HoleAuditThreshold < 0:
		return c, &ConfigError{Field: "HoleAuditThreshold", Reason: fmt.Sprintf("%d is negative", c.HoleAuditThreshold)}
	case c.HoleAuditThreshold == 0:
		c.HoleAuditThreshold = DefaultHoleAuditThreshold
	}
	if c.WorkerID == "" {
		c.WorkerID = defaultWorkerID()
	}
	// Name the field the user set: a short App is App's fault, not LeaseTable's.
	tableField, consumerField := "LeaseTable", "ConsumerName"
	if c.LeaseTable == "" {
		c.LeaseTable, tableField = c.App, "App"
	}
	if c.ConsumerName == "" {
		c.ConsumerName, consumerField = c.App, "App"
	}
	if err := validName(c.LeaseTable, 3, 255); err != nil {
		reason := err.Error() + " (DynamoDB table names)"
		if tableField == "App" {
			reason += "; it names the lease table unless LeaseTable is set"
		}
		return c, &ConfigError{Field: tableField, Reason: reason}
	}
	if c.Retrieval == EnhancedFanOut {
		if err := validName(c.ConsumerName, 1, 128); err != nil {
			reason := err.Error() + " (enhanced fan-out consumer names)"
			if consumerField == "App" {
				reason += "; it names the consumer unless ConsumerName is set"
			}
			return c, &ConfigError{Field: consumerField, Reason: reason}
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = NoMetrics{}
	}
	return c, nil
}

func defaultWorkerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + randomSuffix()
}

// validName checks the rule DynamoDB table names and Kinesis consumer names share:
// between min and max characters of a-z, A-Z, 0-9, '_', '-' and '.'.
func validName(name string, min, max int) error {
	if len(name) < min || len(name) > max {
		return fmt.Errorf("%q must be %d to %d characters", name, min, max)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return fmt.Errorf("%q has %q; allowed are a-z, A-Z, 0-9, '_', '-' and '.'", name, r)
		}
	}
	return nil
}
