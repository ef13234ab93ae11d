package kcl_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kclgo/kcl"
	"github.com/kclgo/kcl/polling"
)

func validConfig() kcl.Config {
	cfg := aws.Config{Region: "us-east-1"}
	return kcl.Config{App: "orders", Stream: "orders", Kinesis: kinesis.NewFromConfig(cfg), DynamoDB: dynamodb.NewFromConfig(cfg)}
}

func TestConfigValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(*kcl.Config)
		field  string
	}{
		"valid":                   {func(*kcl.Config) {}, ""},
		"no app":                  {func(c *kcl.Config) { c.App = "" }, "App"},
		"no stream":               {func(c *kcl.Config) { c.Stream = "" }, "Stream"},
		"no kinesis":              {func(c *kcl.Config) { c.Kinesis = nil }, "Kinesis"},
		"no dynamodb":             {func(c *kcl.Config) { c.DynamoDB = nil }, "DynamoDB"},
		"unknown retrieval":       {func(c *kcl.Config) { c.Retrieval = 7 }, "Retrieval"},
		"unknown corrupt policy":  {func(c *kcl.Config) { c.CorruptRecords = 3 }, "CorruptRecords"},
		"negative corrupt policy": {func(c *kcl.Config) { c.CorruptRecords = -1 }, "CorruptRecords"},
		"deliver corrupt":         {func(c *kcl.Config) { c.CorruptRecords = kcl.DeliverCorrupt }, ""},
		"timestamp without one":   {func(c *kcl.Config) { c.InitialPosition = kcl.AtTimestamp(time.Time{}) }, "InitialPosition"},
		"negative failover":       {func(c *kcl.Config) { c.FailoverTime = -time.Second }, "FailoverTime"},
		"tiny failover":           {func(c *kcl.Config) { c.FailoverTime = time.Millisecond }, "FailoverTime"},
		"negative sync":           {func(c *kcl.Config) { c.ShardSyncInterval = -1 }, "ShardSyncInterval"},
		"negative max leases":     {func(c *kcl.Config) { c.MaxLeasesForWorker = -1 }, "MaxLeasesForWorker"},
		"negative hole audit":     {func(c *kcl.Config) { c.HoleAuditThreshold = -1 }, "HoleAuditThreshold"},
		"short lease table":       {func(c *kcl.Config) { c.LeaseTable = "x" }, "LeaseTable"},
		"app unfit for a table":   {func(c *kcl.Config) { c.App = "orders/eu" }, "App"},
		"short app":               {func(c *kcl.Config) { c.App = "ab" }, "App"},
		"short app, own table":    {func(c *kcl.Config) { c.App = "ab"; c.LeaseTable = "ab-leases" }, ""},
		"app unfit, own names":    {func(c *kcl.Config) { c.App = "a b"; c.LeaseTable = "t-1"; c.ConsumerName = "c-1" }, ""},
		"bad consumer name":       {func(c *kcl.Config) { c.ConsumerName = "a b" }, "ConsumerName"},
		"consumer name unused":    {func(c *kcl.Config) { c.ConsumerName = "a b"; c.Retrieval = kcl.Polling }, ""},
		"sync spinning":           {func(c *kcl.Config) { c.ShardSyncInterval = time.Microsecond }, "ShardSyncInterval"},
		"parents spinning":        {func(c *kcl.Config) { c.ParentPollInterval = time.Nanosecond }, "ParentPollInterval"},
		"bad polling option": {func(c *kcl.Config) {
			c.Retrieval = kcl.Polling
			c.PollingOptions = []polling.Option{polling.WithMaxRecords(0)}
		}, "PollingOptions"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := validConfig()
			tc.change(&cfg)
			c, err := kcl.New(cfg)
			if tc.field == "" {
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			var ce *kcl.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("New: %v, want a *ConfigError for %s", err, tc.field)
			}
		})
	}
}

// TestStopBeforeRun: a consumer stopped before it ran does not run afterwards.
func TestStopBeforeRun(t *testing.T) {
	c, err := kcl.New(validConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Run(t.Context()); !errors.Is(err, kcl.ErrClosed) {
		t.Fatalf("Run after Stop: %v, want ErrClosed", err)
	}
	if _, ok := <-c.Shards(); ok {
		t.Fatal("Shards delivered after Stop")
	}
}

func ExampleNew() {
	_, err := kcl.New(kcl.Config{App: "orders", Stream: "orders"})
	fmt.Println(err)
	// Output: kcl: Config.Kinesis: required
}

func ExampleConfigError() {
	cfg := validConfig()
	cfg.FailoverTime = -time.Second
	_, err := kcl.New(cfg)
	var ce *kcl.ConfigError
	if errors.As(err, &ce) {
		fmt.Println(ce.Field)
	}
	// Output: FailoverTime
}
