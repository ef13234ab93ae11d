package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// environment is the DynamoDB (and, for -source emulators, Kinesis) the runs use.
type environment struct {
	kinesis, dynamoDB string
	// stop stops emulators this process started.
	stop func()
}

// setUpEnvironment uses the emulators named by KCL_TEST_KINESIS_ENDPOINT and
// KCL_TEST_DYNAMODB_ENDPOINT when set (scripts/emulators.sh run, make bench), starts its
// own with scripts/emulators.sh otherwise, and uses nothing local for -source aws.
func setUpEnvironment(ctx context.Context, src string) (*environment, error) {
	env := &environment{stop: func() {}}
	if src == "aws" {
		return env, nil
	}
	env.kinesis, env.dynamoDB = os.Getenv("KCL_TEST_KINESIS_ENDPOINT"), os.Getenv("KCL_TEST_DYNAMODB_ENDPOINT")
	if env.kinesis != "" && env.dynamoDB != "" {
		return env, nil
	}
	script, err := findScript()
	if err != nil {
		return nil, err
	}
	state, err := os.MkdirTemp("", "kcl-bench-emulators-")
	if err != nil {
		return nil, err
	}
	run := func(verb string) ([]byte, error) {
		cmd := exec.CommandContext(context.WithoutCancel(ctx), "bash", script, verb)
		cmd.Env = append(os.Environ(), "KCL_EMULATOR_STATE="+state)
		cmd.Stderr = os.Stderr
		return cmd.Output()
	}
	fmt.Fprintln(os.Stderr, "bench: starting the local emulators (scripts/emulators.sh start)")
	if _, err := run("start"); err != nil {
		_, _ = run("stop")
		os.RemoveAll(state)
		return nil, fmt.Errorf("starting emulators: %w", err)
	}
	env.stop = func() {
		_, _ = run("stop")
		os.RemoveAll(state)
	}
	out, err := run("env")
	if err != nil {
		env.stop()
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		switch k {
		case "KCL_TEST_KINESIS_ENDPOINT":
			env.kinesis = v
		case "KCL_TEST_DYNAMODB_ENDPOINT":
			env.dynamoDB = v
		}
	}
	if env.kinesis == "" || env.dynamoDB == "" {
		env.stop()
		return nil, errors.New("scripts/emulators.sh env printed no endpoints")
	}
	return env, nil
}

// findScript finds scripts/emulators.sh in the working directory or above it.
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "emulators.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/emulators.sh not found: run bench from the kcl repository, or set KCL_TEST_KINESIS_ENDPOINT and KCL_TEST_DYNAMODB_ENDPOINT")
		}
		dir = parent
	}
}

// machine describes where the figures were taken.
func machine() map[string]string {
	m := map[string]string{
		"go":     runtime.Version(),
		"os":     runtime.GOOS + "/" + runtime.GOARCH,
		"cpus":   fmt.Sprint(runtime.NumCPU()),
		"load":   loadAverage(),
		"cpu":    cpuModel(),
		"memory": memTotal(),
	}
	return m
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
