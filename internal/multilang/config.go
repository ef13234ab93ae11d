package multilang

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kclgo/kcl"
)

// Config is what the daemon runs: the properties file's settings, after flags.
type Config struct {
	// Executable is the child's command line (executableName split at white space, as the
	// Java daemon splits it).
	Executable []string
	App        string
	// Stream is the stream's name, or its ARN when streamArn was given.
	Stream   string
	Region   string
	WorkerID string
	// LeaseTable is tableName; empty means App, as KCL names it.
	LeaseTable      string
	InitialPosition kcl.InitialPosition
	Retrieval       kcl.Retrieval
	ConsumerName    string
	// MaxRecords and IdleTimeBetweenReads tune polling; zero means kcl's default.
	MaxRecords           int
	IdleTimeBetweenReads time.Duration
	FailoverTime         time.Duration
	ShardSyncInterval    time.Duration
	ParentPollInterval   time.Duration
	MaxLeasesForWorker   int
	// KeepFinishedLeases is cleanupLeasesUponShardCompletion=false.
	KeepFinishedLeases bool
	// CallProcessRecordsEvenForEmptyRecordList sends processRecords for empty reads too.
	CallProcessRecordsEvenForEmptyRecordList bool
	KinesisEndpoint                          string
	DynamoDBEndpoint                         string
	// ResponseTimeout is how long a child may take to answer a message before it is
	// restarted (timeoutInSeconds). Default 5 minutes.
	ResponseTimeout time.Duration
	// ShutdownGrace is the final checkpoint window on SIGTERM (shutdownGraceMillis).
	// Default 30 s.
	ShutdownGrace time.Duration
	// ProtocolVersion 1 sends shutdown with TERMINATE/ZOMBIE instead of shardEnded and
	// leaseLost, for clients written for KCL 1.x daemons. Default 2.
	ProtocolVersion int
	// MaxChildRestarts is how many times in a row a shard's child may fail before the
	// daemon gives up and stops (releasing its leases to other workers). Default 10.
	MaxChildRestarts int
}

// Defaults, in one place.
const (
	DefaultResponseTimeout  = 5 * time.Minute
	DefaultShutdownGrace    = 30 * time.Second
	DefaultProtocolVersion  = 2
	DefaultMaxChildRestarts = 10
)

// PropertyError is a property whose value cannot be used, or a required one that is missing.
type PropertyError struct {
	Key    string
	Value  string
	Reason string
}

func (e *PropertyError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("multilang: property %s: %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("multilang: property %s=%q: %s", e.Key, e.Value, e.Reason)
}

// Warning is a property that was read but has no effect, or that nobody knows.
type Warning struct {
	Key    string
	Line   int
	Reason string
}

func (w Warning) String() string {
	if w.Line == 0 {
		return fmt.Sprintf("property %s (from a flag): %s", w.Key, w.Reason)
	}
	return fmt.Sprintf("property %s (line %d): %s", w.Key, w.Line, w.Reason)
}

// ignoredKeys are KCL properties that kcl reads but that do not apply to it, with why.
var ignoredKeys = map[string]string{
	"processingLanguage":                               "informational only",
	"maxActiveThreads":                                 "kcl runs one goroutine per shard, not a thread pool",
	"metricsLevel":                                     "kcl publishes no CloudWatch metrics",
	"metricsBufferTimeMillis":                          "kcl publishes no CloudWatch metrics",
	"metricsMaxQueueSize":                              "kcl publishes no CloudWatch metrics",
	"metricsEnabledDimensions":                         "kcl publishes no CloudWatch metrics",
	"AWSCredentialsProviderCloudWatch":                 "kcl publishes no CloudWatch metrics",
	"taskBackoffTimeMillis":                            "kcl's readers have their own backoff",
	"validateSequenceNumberBeforeCheckpointing":        "checkpoints are always checked against the records delivered",
	"maxLeasesToStealAtOneTime":                        "not configurable in kcl",
	"maxLeaseRenewalThreads":                           "kcl renews leases without a thread pool",
	"initialLeaseTableReadCapacity":                    "kcl creates the lease table on demand (pay per request)",
	"initialLeaseTableWriteCapacity":                   "kcl creates the lease table on demand (pay per request)",
	"billingMode":                                      "kcl creates the lease table on demand (pay per request)",
	"skipShardSyncAtWorkerInitializationIfLeasesExist": "kcl always syncs shards at start",
	"logWarningForTaskAfterMillis":                     "no counterpart in kcl",
	"listShardsBackoffTimeInMillis":                    "kcl's shard sync has its own backoff",
	"maxListShardsRetryAttempts":                       "kcl's shard sync retries until stopped",
	"ignoreUnexpectedChildShards":                      "kcl creates leases for every child shard",
	"shardPrioritization":                              "no counterpart in kcl",
	"schedulerInitializationBackoffTimeMillis":         "no counterpart in kcl",
	"retryGetRecordsInSeconds":                         "no counterpart in kcl",
	"maxGetRecordsThreadPool":                          "no counterpart in kcl",
	"millisBehindLatestThresholdForReducedTps":         "no counterpart in kcl",
	"leaseAssignmentIntervalMillis":                    "KCL 3.x lease assignment is not implemented by kcl",
	"enablePriorityLeaseAssignment":                    "KCL 3.x lease assignment is not implemented by kcl",
	"clientVersionConfig":                              "kcl reads and writes the KCL 2.x lease schema",
	"leaseTableDeletionProtectionEnabled":              "kcl creates the lease table without it",
	"leaseTablePitrEnabled":                            "kcl creates the lease table without it",
}

// credentialKeys name the SDK's default credential chain, which kcl always uses.
var defaultCredentialProviders = map[string]bool{
	"DefaultAWSCredentialsProviderChain": true,
	"DefaultCredentialsProvider":         true,
}

// NewConfig applies properties (later ones override earlier ones, so flags go last) and
// validates the result. Warnings list the properties that were not applied.
func NewConfig(props []Property) (Config, []Warning, error) {
	c := Config{
		ResponseTimeout:  DefaultResponseTimeout,
		ShutdownGrace:    DefaultShutdownGrace,
		ProtocolVersion:  DefaultProtocolVersion,
		MaxChildRestarts: DefaultMaxChildRestarts,
	}
	var (
		warnings        []Warning
		streamName      string
		streamARN       string
		retrievalMode   = "DEFAULT"
		pollingSet      bool
		initialPosition string
		atTimestamp     *time.Time
		seen            = map[string]int{}
	)
	for _, p := range props {
		key := p.Key
		// KCL reads the credentials keys whatever their case.
		if strings.HasPrefix(strings.ToLower(key), "awscredentialsprovider") {
			key = "AWSCredentialsProvider" + key[len("awscredentialsprovider"):]
		}
		if line, dup := seen[key]; dup && line > 0 && p.Line > 0 {
			warnings = append(warnings, Warning{Key: key, Line: p.Line, Reason: fmt.Sprintf("overrides line %d", line)})
		}
		seen[key] = p.Line
		v := strings.TrimSpace(p.Value)
		var err error
		switch key {
		case "executableName":
			c.Executable = strings.Fields(v)
		case "applicationName":
			c.App = v
		case "streamName":
			streamName = v
		case "streamArn":
			streamARN = v
		case "regionName":
			c.Region = v
		case "workerId", "workerIdentifier":
			c.WorkerID = v
		case "tableName":
			c.LeaseTable = v
		case "consumerName":
			c.ConsumerName = v
		case "initialPositionInStream":
			initialPosition = strings.ToUpper(v)
		case "initialPositionInStreamExtended":
			var secs int64
			secs, err = strconv.ParseInt(v, 10, 64)
			if err == nil && secs > maxEpochSeconds {
				err = fmt.Errorf("%d seconds since the epoch is after the year 5000; give seconds, not milliseconds", secs)
			}
			if err == nil {
				t := time.Unix(secs, 0)
				atTimestamp = &t
			}
		case "retrievalMode":
			retrievalMode = strings.ToUpper(v)
		case "maxRecords":
			c.MaxRecords, err = positiveInt(v)
			pollingSet = true
		case "idleTimeBetweenReadsInMillis":
			c.IdleTimeBetweenReads, err = millis(v, 0)
			pollingSet = true
		case "failoverTimeMillis":
			c.FailoverTime, err = millis(v, 1)
		case "shardSyncIntervalMillis":
			c.ShardSyncInterval, err = millis(v, 1)
		case "parentShardPollIntervalMillis":
			c.ParentPollInterval, err = millis(v, 1)
		case "maxLeasesForWorker":
			c.MaxLeasesForWorker, err = positiveInt(v)
		case "cleanupLeasesUponShardCompletion":
			var b bool
			b, err = javaBool(v)
			c.KeepFinishedLeases = !b
		case "callProcessRecordsEvenForEmptyRecordList":
			c.CallProcessRecordsEvenForEmptyRecordList, err = javaBool(v)
		case "kinesisEndpoint":
			c.KinesisEndpoint, err = endpointURL(v)
		case "dynamoDBEndpoint":
			c.DynamoDBEndpoint, err = endpointURL(v)
		case "timeoutInSeconds":
			var n int
			n, err = positiveInt(v)
			c.ResponseTimeout = time.Duration(n) * time.Second
		case "shutdownGraceMillis":
			c.ShutdownGrace, err = millis(v, 1)
		case "kclgo.protocolVersion":
			c.ProtocolVersion, err = strconv.Atoi(v)
			if err == nil && c.ProtocolVersion != 1 && c.ProtocolVersion != 2 {
				err = fmt.Errorf("must be 1 or 2")
			}
		case "kclgo.maxChildRestarts":
			c.MaxChildRestarts, err = strconv.Atoi(v)
			if err == nil && c.MaxChildRestarts < 0 {
				err = fmt.Errorf("must not be negative")
			}
		case "AWSCredentialsProvider", "AWSCredentialsProviderDynamoDB":
			if !defaultCredentialProviders[v] {
				warnings = append(warnings, Warning{Key: key, Line: p.Line, Reason: fmt.Sprintf("%q is not applied: kcl-multilang uses the AWS SDK's default credential chain (environment, shared config and credentials files, web identity, container and instance roles)", v)})
			}
		default:
			if why, ok := ignoredKeys[key]; ok {
				warnings = append(warnings, Warning{Key: key, Line: p.Line, Reason: "has no effect: " + why})
			} else {
				warnings = append(warnings, Warning{Key: key, Line: p.Line, Reason: "unknown property, ignored"})
			}
		}
		if err != nil {
			return Config{}, warnings, &PropertyError{Key: key, Value: p.Value, Reason: err.Error()}
		}
	}

	if len(c.Executable) == 0 {
		return Config{}, warnings, &PropertyError{Key: "executableName", Reason: "required: the record processor's command, e.g. executableName = python3 app.py"}
	}
	if c.App == "" {
		return Config{}, warnings, &PropertyError{Key: "applicationName", Reason: "required"}
	}
	switch {
	case streamARN != "":
		if err := checkStreamARN(streamARN); err != nil {
			return Config{}, warnings, &PropertyError{Key: "streamArn", Value: streamARN, Reason: err.Error()}
		}
		c.Stream = streamARN
	case streamName != "":
		c.Stream = streamName
	default:
		return Config{}, warnings, &PropertyError{Key: "streamName", Reason: "required (or streamArn)"}
	}
	switch initialPosition {
	case "", "LATEST":
		c.InitialPosition = kcl.Latest
	case "TRIM_HORIZON":
		c.InitialPosition = kcl.TrimHorizon
	case "AT_TIMESTAMP":
		if atTimestamp == nil {
			return Config{}, warnings, &PropertyError{Key: "initialPositionInStream", Value: initialPosition, Reason: "AT_TIMESTAMP needs initialPositionInStreamExtended (epoch seconds)"}
		}
	default:
		return Config{}, warnings, &PropertyError{Key: "initialPositionInStream", Value: initialPosition, Reason: "must be LATEST, TRIM_HORIZON or AT_TIMESTAMP"}
	}
	if atTimestamp != nil {
		// KCL: initialPositionInStreamExtended sets AT_TIMESTAMP whatever initialPositionInStream says.
		c.InitialPosition = kcl.AtTimestamp(*atTimestamp)
	}
	switch retrievalMode {
	case "FANOUT":
		c.Retrieval = kcl.EnhancedFanOut
		if pollingSet {
			warnings = append(warnings, Warning{Key: "retrievalMode", Reason: "FANOUT: maxRecords and idleTimeBetweenReadsInMillis apply to polling only and have no effect"})
		}
	case "POLLING":
		c.Retrieval = kcl.Polling
	case "DEFAULT":
		// As KCL decides: any polling property means polling.
		c.Retrieval = kcl.EnhancedFanOut
		if pollingSet {
			c.Retrieval = kcl.Polling
		}
	default:
		return Config{}, warnings, &PropertyError{Key: "retrievalMode", Value: retrievalMode, Reason: "must be FANOUT, POLLING or DEFAULT"}
	}
	return c, warnings, nil
}

// LogWarnings logs each warning at warn level.
func LogWarnings(log *slog.Logger, warnings []Warning) {
	for _, w := range warnings {
		where := slog.String("from", "a flag")
		if w.Line > 0 {
			where = slog.Int("line", w.Line)
		}
		log.Warn("properties: "+w.Reason, slog.String("key", w.Key), where)
	}
}

func positiveInt(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("not an integer")
	}
	if n <= 0 {
		return 0, fmt.Errorf("must be positive")
	}
	return n, nil
}

func millis(v string, min int64) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not an integer number of milliseconds")
	}
	if n < min {
		return 0, fmt.Errorf("must be at least %d", min)
	}
	if n > int64(24*time.Hour/time.Millisecond)*365 {
		return 0, fmt.Errorf("more than a year")
	}
	return time.Duration(n) * time.Millisecond, nil
}

// javaBool accepts what Java's BeanUtils does for a boolean.
func javaBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "yes", "y", "on", "1":
		return true, nil
	case "false", "no", "n", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("must be true or false")
}

// checkStreamARN checks arn:partition:kinesis:region:account:stream/name.
func checkStreamARN(arn string) error {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kinesis" || parts[3] == "" || parts[4] == "" {
		return fmt.Errorf("not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)")
	}
	if !strings.HasPrefix(parts[5], "stream/") || len(parts[5]) == len("stream/") {
		return fmt.Errorf("not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)")
	}
	return nil
}

// maxEpochSeconds is the year 5000: a larger initialPositionInStreamExtended is a time in
// milliseconds given where seconds are read.
const maxEpochSeconds = 95617584000

// endpointURL checks an endpoint override: the SDK needs an absolute http or https URL, and
// without this check a missing scheme fails only at the first call, naming no property.
func endpointURL(v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil {
		return "", err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("want an absolute http:// or https:// URL, such as http://127.0.0.1:4567")
	}
	return v, nil
}
