package multilang

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kclgo/kcl"
)

func TestParseProperties(t *testing.T) {
	cases := []struct {
		name string
		text string
		want []Property
	}{
		{"separators", "a=1\nb:2\nc 3\nd\t=\t4\ne", []Property{{"a", "1", 1}, {"b", "2", 2}, {"c", "3", 3}, {"d", "4", 4}, {"e", "", 5}}},
		{"comments and blanks", "# x=1\n  ! y=2\n\n   \nz = 3 ", []Property{{"z", "3 ", 5}}},
		{"continuation", "exe = python3 \\\n    app.py \\\n  --flag\nnext=1", []Property{{"exe", "python3 app.py --flag", 1}, {"next", "1", 4}}},
		{"escaped backslash is no continuation", "a=c:\\\\\nb=2", []Property{{"a", `c:\`, 1}, {"b", "2", 2}}},
		{"escapes", `k\ ey\=x=v\tw\u00e9\n`, []Property{{"k ey=x", "v\twé\n", 1}}},
		{"surrogate pair", `e=\ud83d\ude00`, []Property{{"e", "😀", 1}}},
		{"CRLF", "a=1\r\nb=2\r\n", []Property{{"a", "1", 1}, {"b", "2", 2}}},
		{"value with separators", "url=http://x:1/a=b", []Property{{"url", "http://x:1/a=b", 1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProperties(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestParsePropertiesErrors(t *testing.T) {
	for _, text := range []string{`a=\u12`, `a=\uzzzz`, "ok=1\nb\\u0=1", "a=\xff"} {
		_, err := ParseProperties(text)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: error %v; want a *SyntaxError", text, err)
		}
	}
}

func props(t *testing.T, text string) []Property {
	t.Helper()
	p, err := ParseProperties(text)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The sample properties file of KCL for Python, as its users have it.
const sampleProperties = `
executableName = sample_kclpy_app.py
streamName = kclpysample
applicationName = PythonKCLSample
AWSCredentialsProvider = DefaultCredentialsProvider
processingLanguage = python/3.8
initialPositionInStream = TRIM_HORIZON
regionName = us-east-5
failoverTimeMillis = 10000
workerId = "workerId"
shardSyncIntervalMillis = 60000
maxRecords = 10000
idleTimeBetweenReadsInMillis = 1000
callProcessRecordsEvenForEmptyRecordList = false
parentShardPollIntervalMillis = 10000
cleanupLeasesUponShardCompletion = true
taskBackoffTimeMillis = 500
metricsBufferTimeMillis = 10000
metricsMaxQueueSize = 10000
validateSequenceNumberBeforeCheckpointing = true
maxActiveThreads = -1
`

func TestNewConfigSample(t *testing.T) {
	cfg, warnings, err := NewConfig(props(t, sampleProperties))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Executable: []string{"sample_kclpy_app.py"}, App: "PythonKCLSample", Stream: "kclpysample",
		Region: "us-east-5", WorkerID: `"workerId"`, InitialPosition: kcl.TrimHorizon, Retrieval: kcl.Polling,
		MaxRecords: 10000, IdleTimeBetweenReads: time.Second, FailoverTime: 10 * time.Second,
		ShardSyncInterval: time.Minute, ParentPollInterval: 10 * time.Second,
		ResponseTimeout: DefaultResponseTimeout, ShutdownGrace: DefaultShutdownGrace,
		ProtocolVersion: 2, MaxChildRestarts: DefaultMaxChildRestarts,
	}
	if diff := cmp.Diff(want, cfg, cmp.AllowUnexported(kcl.InitialPosition{})); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	var keys []string
	for _, w := range warnings {
		keys = append(keys, w.Key)
	}
	wantKeys := []string{"processingLanguage", "taskBackoffTimeMillis", "metricsBufferTimeMillis", "metricsMaxQueueSize", "validateSequenceNumberBeforeCheckpointing", "maxActiveThreads"}
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("warned keys (-want +got)\n%s", diff)
	}
}

func TestNewConfig(t *testing.T) {
	base := "executableName = node app.js\napplicationName = app\nstreamName = s\n"
	cases := []struct {
		name    string
		extra   string
		check   func(*testing.T, Config)
		errKey  string
		warnKey string
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if c.Retrieval != kcl.EnhancedFanOut || c.InitialPosition != kcl.Latest || !cmp.Equal(c.Executable, []string{"node", "app.js"}) {
				t.Errorf("%+v", c)
			}
		}},
		{name: "arn wins", extra: "streamArn = arn:aws:kinesis:us-east-1:123456789012:stream/other", check: func(t *testing.T, c Config) {
			if c.Stream != "arn:aws:kinesis:us-east-1:123456789012:stream/other" {
				t.Errorf("stream %q", c.Stream)
			}
		}},
		{name: "fanout despite polling keys", extra: "retrievalMode = fanout\nmaxRecords = 100", warnKey: "retrievalMode", check: func(t *testing.T, c Config) {
			if c.Retrieval != kcl.EnhancedFanOut {
				t.Error("not fan-out")
			}
		}},
		{name: "at timestamp", extra: "initialPositionInStreamExtended = 1700000000", check: func(t *testing.T, c Config) {
			if c.InitialPosition != kcl.AtTimestamp(time.Unix(1700000000, 0)) {
				t.Errorf("position %v", c.InitialPosition)
			}
		}},
		{name: "credentials key any case", extra: "awscredentialsprovider = ProfileCredentialsProvider|dev", warnKey: "AWSCredentialsProvider"},
		{name: "unknown key", extra: "stremName = typo", warnKey: "stremName"},
		{name: "duplicate", extra: "applicationName = again", warnKey: "applicationName"},
		{name: "kcl keys", extra: "kclgo.protocolVersion = 1\nkclgo.maxChildRestarts = 0\ntimeoutInSeconds = 7\nshutdownGraceMillis = 1500\ncleanupLeasesUponShardCompletion = false", check: func(t *testing.T, c Config) {
			if c.ProtocolVersion != 1 || c.MaxChildRestarts != 0 || c.ResponseTimeout != 7*time.Second || c.ShutdownGrace != 1500*time.Millisecond || !c.KeepFinishedLeases {
				t.Errorf("%+v", c)
			}
		}},
		{name: "bad number", extra: "failoverTimeMillis = ten", errKey: "failoverTimeMillis"},
		{name: "negative", extra: "maxRecords = -1", errKey: "maxRecords"},
		{name: "bad bool", extra: "cleanupLeasesUponShardCompletion = maybe", errKey: "cleanupLeasesUponShardCompletion"},
		{name: "bad position", extra: "initialPositionInStream = EARLIEST", errKey: "initialPositionInStream"},
		{name: "at timestamp without time", extra: "initialPositionInStream = AT_TIMESTAMP", errKey: "initialPositionInStream"},
		{name: "bad mode", extra: "retrievalMode = push", errKey: "retrievalMode"},
		{name: "bad arn", extra: "streamArn = arn:aws:s3:::bucket", errKey: "streamArn"},
		{name: "bad protocol", extra: "kclgo.protocolVersion = 3", errKey: "kclgo.protocolVersion"},
		{name: "endpoint without scheme", extra: "kinesisEndpoint = 127.0.0.1:4567", errKey: "kinesisEndpoint"},
		{name: "dynamodb endpoint without host", extra: "dynamoDBEndpoint = http://", errKey: "dynamoDBEndpoint"},
		{name: "endpoints", extra: "kinesisEndpoint = http://127.0.0.1:4567\ndynamoDBEndpoint = https://localhost:8000", check: func(t *testing.T, c Config) {
			if c.KinesisEndpoint != "http://127.0.0.1:4567" || c.DynamoDBEndpoint != "https://localhost:8000" {
				t.Errorf("endpoints %q %q", c.KinesisEndpoint, c.DynamoDBEndpoint)
			}
		}},
		{name: "timestamp in milliseconds", extra: "initialPositionInStreamExtended = 1636609142000", errKey: "initialPositionInStreamExtended"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, warnings, err := NewConfig(props(t, base+tc.extra))
			if tc.errKey != "" {
				var pe *PropertyError
				if !errors.As(err, &pe) || pe.Key != tc.errKey {
					t.Fatalf("error %v; want a *PropertyError for %s", err, tc.errKey)
				}
				if !strings.Contains(err.Error(), tc.errKey) {
					t.Errorf("message %q does not name %s", err, tc.errKey)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.warnKey != "" {
				found := false
				for _, w := range warnings {
					found = found || w.Key == tc.warnKey
				}
				if !found {
					t.Errorf("warnings %v; want one for %s", warnings, tc.warnKey)
				}
			} else if len(warnings) > 0 {
				t.Errorf("unexpected warnings %v", warnings)
			}
			if tc.check != nil {
				tc.check(t, cfg)
			}
		})
	}
	for _, missing := range []struct{ text, key string }{
		{"applicationName = a\nstreamName = s", "executableName"},
		{"executableName = x\nstreamName = s", "applicationName"},
		{"executableName = x\napplicationName = a", "streamName"},
	} {
		_, _, err := NewConfig(props(t, missing.text))
		var pe *PropertyError
		if !errors.As(err, &pe) || pe.Key != missing.key {
			t.Errorf("without %s: error %v", missing.key, err)
		}
	}
}

// FuzzParseProperties: any text parses or fails with a *SyntaxError, never panics, and
// NewConfig on what parsed returns a config or a *PropertyError.
func FuzzParseProperties(f *testing.F) {
	f.Add(sampleProperties)
	f.Add("a=\\\nb\\u00e9\\ud83d\\ude00=c\r\nx:y\\")
	f.Add("executableName=x\napplicationName=a\nstreamArn=arn:aws:kinesis:r:1:stream/s\ninitialPositionInStreamExtended=-5")
	f.Fuzz(func(t *testing.T, text string) {
		p, err := ParseProperties(text)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		if _, _, err := NewConfig(p); err != nil {
			var pe *PropertyError
			if !errors.As(err, &pe) {
				t.Fatalf("NewConfig error %T %v", err, err)
			}
		}
	})
}
