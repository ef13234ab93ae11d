package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// gridSetters are the settings a sweep can vary, by the flag names of consume.
var gridSetters = map[string]func(c *runConfig, v string) error{
	"retrieval":  func(c *runConfig, v string) error { c.Retrieval = v; return nil },
	"checkpoint": func(c *runConfig, v string) error { c.Checkpoint = v; return nil },
	"shards":     intSetter(func(c *runConfig, n int64) { c.Shards = int(n) }),
	"record-size": intSetter(func(c *runConfig, n int64) {
		c.RecordSize = int(n)
	}),
	"aggregate": intSetter(func(c *runConfig, n int64) { c.Aggregate = int(n) }),
	"records":   intSetter(func(c *runConfig, n int64) { c.RecordsPerShard = n }),
	"workers":   intSetter(func(c *runConfig, n int64) { c.Workers = int(n) }),
	"buffer":    intSetter(func(c *runConfig, n int64) { c.Buffer = int(n) }),
	"rate": func(c *runConfig, v string) error {
		n, err := parseBytes(v)
		c.Rate = n
		return err
	},
	"polling-max-bytes": func(c *runConfig, v string) error {
		n, err := parseBytes(v)
		c.PollingMaxBytes = n
		return err
	},
	"idle": func(c *runConfig, v string) error {
		b, err := strconv.ParseBool(v)
		c.Idle = b
		return err
	},
	"event-interval": func(c *runConfig, v string) error {
		d, err := time.ParseDuration(v)
		c.EventInterval = d
		return err
	},
	"duration": func(c *runConfig, v string) error {
		d, err := time.ParseDuration(v)
		c.Duration = d
		return err
	},
}

func intSetter(set func(*runConfig, int64)) func(*runConfig, string) error {
	return func(c *runConfig, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		set(c, n)
		return nil
	}
}

type gridAxis struct {
	key    string
	values []string
}

// parseGrid reads "shards=1,10,100;retrieval=efo,polling". Axes that move together are
// joined with a colon, key and values alike: "shards:rate=1:2MiB,1000:8KiB".
func parseGrid(s string) ([]gridAxis, error) {
	var axes []gridAxis
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("-grid: %q is not key=v1,v2", part)
		}
		for key := range strings.SplitSeq(k, ":") {
			if gridSetters[key] == nil {
				keys := make([]string, 0, len(gridSetters))
				for k := range gridSetters {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				return nil, fmt.Errorf("-grid: cannot vary %q; can vary %s", key, strings.Join(keys, ", "))
			}
		}
		axes = append(axes, gridAxis{key: k, values: strings.Split(v, ",")})
	}
	if len(axes) == 0 {
		return nil, fmt.Errorf("-grid is empty")
	}
	return axes, nil
}

// set applies one value of the axis (joined values for joined keys).
func (a gridAxis) set(c *runConfig, value string) error {
	keys := strings.Split(a.key, ":")
	values := []string{value} // one key: the value may hold colons (checkpoint=every:5s)
	if len(keys) > 1 {
		values = strings.Split(value, ":")
	}
	if len(values) != len(keys) {
		return fmt.Errorf("%q needs %d values joined by colons", value, len(keys))
	}
	for i, k := range keys {
		if err := gridSetters[k](c, strings.TrimSpace(values[i])); err != nil {
			return err
		}
	}
	return nil
}

// combinations expands the grid, the last axis varying fastest.
func combinations(base runConfig, axes []gridAxis) ([]runConfig, []string, error) {
	cfgs, labels := []runConfig{base}, []string{""}
	for _, a := range axes {
		var next []runConfig
		var nextLabels []string
		for i, c := range cfgs {
			for _, v := range a.values {
				cc := c
				if err := a.set(&cc, strings.TrimSpace(v)); err != nil {
					return nil, nil, fmt.Errorf("-grid %s=%s: %w", a.key, v, err)
				}
				next = append(next, cc)
				nextLabels = append(nextLabels, strings.TrimSpace(labels[i]+" "+a.key+"="+v))
			}
		}
		cfgs, labels = next, nextLabels
	}
	return cfgs, labels, nil
}

func sweepMain(args []string) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	var c common
	c.register(fs)
	grid := fs.String("grid", "shards=1,4;retrieval=efo,polling", "settings to vary: key=v1,v2;key=... (keys are consume's flags)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.finish(); err != nil {
		return err
	}
	axes, err := parseGrid(*grid)
	if err != nil {
		return err
	}
	cfgs, labels, err := combinations(c.cfg, axes)
	if err != nil {
		return err
	}
	for _, cfg := range cfgs {
		if err := cfg.validate(); err != nil {
			return err
		}
	}
	return measure(c, "sweep", func(ctx context.Context, env *environment) ([]*result, error) {
		var all []*result
		for i, cfg := range cfgs {
			fmt.Fprintf(progressOut(), "sweep %d/%d: %s\n", i+1, len(cfgs), labels[i])
			rs, err := runPair(ctx, env, cfg, c.bare, c.repeat)
			if err != nil {
				return nil, err
			}
			for _, r := range rs {
				r.Sweep = labels[i]
				r.SweepX = axisValue(cfg, strings.Split(axes[0].key, ":")[0])
			}
			all = append(all, rs...)
		}
		return all, nil
	})
}

// axisValue is where a run sits on the first grid axis, for charts.
func axisValue(cfg runConfig, key string) string {
	switch key {
	case "shards":
		return strconv.Itoa(cfg.Shards)
	case "record-size":
		return strconv.Itoa(cfg.RecordSize)
	case "aggregate":
		return strconv.Itoa(cfg.Aggregate)
	case "workers":
		return strconv.Itoa(cfg.Workers)
	case "buffer":
		return strconv.Itoa(cfg.Buffer)
	case "records":
		return strconv.FormatInt(cfg.RecordsPerShard, 10)
	case "rate":
		return strconv.FormatInt(cfg.Rate, 10)
	case "polling-max-bytes":
		return strconv.FormatInt(cfg.PollingMaxBytes, 10)
	case "retrieval":
		return cfg.Retrieval
	case "checkpoint":
		return cfg.Checkpoint
	case "idle":
		return strconv.FormatBool(cfg.Idle)
	}
	return cfg.Duration.String()
}
