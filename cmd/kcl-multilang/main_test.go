package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kclgo/kcl/internal/testenv"
	"github.com/kclgo/kcl/leases"
)

// TestBadConfiguration: bad configuration exits 2 with a message naming the property.
func TestBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := "executableName = node app.js\napplicationName = app1\nstreamName = s\nregionName = us-east-1\n"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"--properties-file", filepath.Join(dir, "nope.properties")}, "nope.properties"},
		{"no executable", []string{write("a.properties", "applicationName = a\nstreamName = s\n")}, "executableName"},
		{"bad number", []string{write("b.properties", good+"failoverTimeMillis = soon\n")}, "failoverTimeMillis"},
		{"bad escape", []string{write("c.properties", good+"x = \\u12\n")}, "line 5"},
		{"flag overrides to bad", []string{"--set", "retrievalMode=PUSH", write("d.properties", good)}, "retrievalMode"},
		{"bad flag", []string{"--no-such-flag"}, "no-such-flag"},
		{"bad log level", []string{"--log-level", "loud", write("e.properties", good)}, "--log-level"},
		{"no such executable", []string{"--set", "executableName=/no/such/processor --flag", write("h.properties", good)}, "executableName"},
		{"kcl rejects", []string{"--set", "tableName=no spaces", write("f.properties", good)}, "tableName"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(tc.args, &stderr); code != 2 {
				t.Errorf("exit %d; want 2; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr does not mention %q:\n%s", tc.want, stderr.String())
			}
		})
	}
	var stderr bytes.Buffer
	if code := run([]string{"--check", "--set", "stremName=typo", write("g.properties", good)}, &stderr); code != 0 || !strings.Contains(stderr.String(), "stremName") {
		t.Errorf("--check with an unknown key: exit %d, stderr:\n%s", code, stderr.String())
	}
}

// TestCommandSIGTERM runs the built command on a properties file against the emulators with
// the Node.js sample processor, then sends it SIGTERM: it exits 0 with every record processed
// and checkpointed and no lease held.
func TestCommandSIGTERM(t *testing.T) {
	env := testenv.New(t)
	stream := env.CreateStream(t, 2)
	table := env.LeaseTable(t)
	puts := stream.PutN(t, "cmd", 20)

	bin := filepath.Join(t.TempDir(), "kcl-multilang")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	modules, err := exec.Command("bash", "../../scripts/aws-kcl.sh", "path").Output()
	if err != nil {
		t.Fatalf("scripts/aws-kcl.sh path: %v", err)
	}
	script, _ := filepath.Abs("../../internal/multilang/testdata/node/sample_processor.js")
	outFile := filepath.Join(t.TempDir(), "records.jsonl")
	props := filepath.Join(t.TempDir(), "app.properties")
	text := strings.Join([]string{
		"executableName = node " + script,
		"streamName = " + stream.Name,
		"applicationName = " + testenv.UniqueName(t, "app"),
		"tableName = " + table,
		"regionName = " + testenv.Region,
		"initialPositionInStream = TRIM_HORIZON",
		"retrievalMode = POLLING",
		"idleTimeBetweenReadsInMillis = 200",
		"failoverTimeMillis = 3000",
		"shutdownGraceMillis = 10000",
		"kinesisEndpoint = " + env.KinesisEndpoint,
		"dynamoDBEndpoint = " + env.DynamoDBEndpoint,
		"AWSCredentialsProvider = DefaultCredentialsProvider",
	}, "\n")
	if err := os.WriteFile(props, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--properties-file", props, "--log-level", "debug")
	cmd.Env = append(os.Environ(), "NODE_PATH="+strings.TrimSpace(string(modules)), "SAMPLE_OUT="+outFile,
		"AWS_ACCESS_KEY_ID="+testenv.AccountID, "AWS_SECRET_ACCESS_KEY=kcl-test-secret", "AWS_SESSION_TOKEN=", "AWS_PROFILE=")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("kcl-multilang log:\n%s", logs.String())
		}
	})
	tab, err := leases.NewTable(env.DynamoDB, table)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for shard, ps := range testenv.ByShard(puts) {
		for {
			l, err := tab.GetLease(t.Context(), shard)
			if err == nil && l.Checkpoint.SequenceNumber() == ps[len(ps)-1].SequenceNumber {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("shard %s not checkpointed at its last record in time", shard)
			}
			time.Sleep(100 * time.Millisecond) // polling the lease table for a condition
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("kcl-multilang after SIGTERM: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("kcl-multilang did not exit within 60 s of SIGTERM")
	}
	all, _, err := tab.ListLeases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		if l.Owner != "" {
			t.Errorf("lease %s still owned by %s after SIGTERM", l.Key, l.Owner)
		}
	}
	b, _ := os.ReadFile(outFile)
	for _, p := range puts {
		if !bytes.Contains(b, []byte(`"data":"`+string(p.Data)+`"`)) {
			t.Errorf("record %s never reached the processor", p.Data)
		}
	}
	if !bytes.Contains(b, []byte(`"event":"shutdownRequested","error":null`)) {
		t.Errorf("the processor did not checkpoint at shutdownRequested:\n%s", b)
	}
}
