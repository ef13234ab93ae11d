package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"
)

// latencyMain: records arrive one at a time at random gaps on every shard; each reader
// (kcl and bare, over each retrieval) reports put->reader and wire->reader latency.
func latencyMain(args []string) error {
	fs := flag.NewFlagSet("latency", flag.ContinueOnError)
	var c common
	c.register(fs)
	retrievals := fs.String("retrievals", "efo,polling", "retrievals to probe, comma-separated")
	gapMin := fs.Duration("gap-min", 5*time.Millisecond, "shortest gap between two probes of a shard")
	gapMax := fs.Duration("gap-max", 50*time.Millisecond, "longest gap between two probes of a shard")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.finish(); err != nil {
		return err
	}
	if c.cfg.Source != "replay" {
		return fmt.Errorf("latency: -source %s: only the replay source sends probes at chosen gaps (put->reader against emulators: produce while consuming)", c.cfg.Source)
	}
	c.cfg.ProbeGapMin, c.cfg.ProbeGapMax = *gapMin, *gapMax
	c.cfg.EventInterval = 0 // each probe goes out the moment it arrives
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["checkpoint"] {
		// A checkpoint per batch waits for DynamoDB before the next batch: with a probe
		// every ~30 ms that queue, not retrieval, would set the latency. Applications
		// checkpoint on a timer; so does this measurement unless told otherwise.
		c.cfg.Checkpoint = "every:1s"
	}
	if c.records == 20000 { // the consume default is far too many probes
		c.cfg.RecordsPerShard = 300
	}
	return measure(c, "latency", func(ctx context.Context, env *environment) ([]*result, error) {
		var all []*result
		for _, r := range strings.Split(*retrievals, ",") {
			cfg := c.cfg
			cfg.Retrieval = strings.TrimSpace(r)
			rs, err := runPair(ctx, env, cfg, c.bare)
			if err != nil {
				return nil, err
			}
			all = append(all, rs...)
		}
		return all, nil
	})
}
