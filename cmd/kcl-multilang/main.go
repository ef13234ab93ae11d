package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kclgo/kcl/internal/multilang"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// settings are repeatable --set key=value flags.
type settings []multilang.Property

func (s *settings) String() string { return "" }
func (s *settings) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	*s = append(*s, multilang.Property{Key: strings.TrimSpace(k), Value: val})
	return nil
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("kcl-multilang", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		propsFile  = fs.String("properties-file", "", "the MultiLangDaemon `.properties` file")
		sets       settings
		executable = fs.String("executable", "", "overrides executableName")
		stream     = fs.String("stream", "", "overrides streamName")
		app        = fs.String("application", "", "overrides applicationName")
		region     = fs.String("region", "", "overrides regionName")
		workerID   = fs.String("worker-id", "", "overrides workerId")
		logLevel   = fs.String("log-level", "info", "debug, info, warn or error")
		logFormat  = fs.String("log-format", "text", "text or json")
		check      = fs.Bool("check", false, "validate the configuration, print it and exit")
	)
	fs.StringVar(propsFile, "p", "", "short for --properties-file")
	fs.Var(&sets, "set", "`key=value`: set a property, overriding the file (repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: kcl-multilang [flags] [--properties-file] app.properties\n\nRuns a KCL MultiLangDaemon application on kcl.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *propsFile == "" && fs.NArg() == 1 {
		*propsFile = fs.Arg(0) // as the Java daemon takes it too
	} else if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kcl-multilang: unexpected arguments %q\n", fs.Args())
		return 2
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "kcl-multilang: --log-level %q: want debug, info, warn or error\n", *logLevel)
		return 2
	}
	var handler slog.Handler
	switch *logFormat {
	case "text":
		handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	case "json":
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	default:
		fmt.Fprintf(stderr, "kcl-multilang: --log-format %q: want text or json\n", *logFormat)
		return 2
	}
	log := slog.New(handler)

	var props []multilang.Property
	if *propsFile != "" {
		text, err := os.ReadFile(*propsFile)
		if err != nil {
			log.Error("reading the properties file", slog.Any("error", err))
			return 2
		}
		props, err = multilang.ParseProperties(string(text))
		if err != nil {
			log.Error("bad configuration", slog.String("file", *propsFile), slog.Any("error", err))
			return 2
		}
	}
	for _, f := range []struct{ key, value string }{
		{"executableName", *executable}, {"streamName", *stream}, {"applicationName", *app},
		{"regionName", *region}, {"workerId", *workerID},
	} {
		if f.value != "" {
			props = append(props, multilang.Property{Key: f.key, Value: f.value})
		}
	}
	props = append(props, sets...)
	cfg, warnings, err := multilang.NewConfig(props)
	multilang.LogWarnings(log, warnings)
	if err != nil {
		log.Error("bad configuration", slog.Any("error", err))
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(cfg.Region))
	if err != nil {
		log.Error("AWS configuration", slog.Any("error", err))
		return 2
	}
	if awsCfg.Region == "" {
		log.Error("bad configuration", slog.Any("error", &multilang.PropertyError{Key: "regionName", Reason: "required (or AWS_REGION in the environment)"}))
		return 2
	}
	kin := kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) {
		if cfg.KinesisEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.KinesisEndpoint)
		}
	})
	ddb := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if cfg.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint)
		}
	})
	d, err := multilang.New(cfg, kin, ddb, log)
	if err != nil {
		log.Error("bad configuration", slog.Any("error", err))
		return 2
	}
	if *check {
		fmt.Fprintf(stderr, "configuration is valid: %+v\n", cfg)
		return 0
	}
	log.Info("starting", slog.String("application", cfg.App), slog.String("stream", cfg.Stream),
		slog.String("executable", strings.Join(cfg.Executable, " ")), slog.String("retrieval", cfg.Retrieval.String()),
		slog.String("worker", d.WorkerID()))
	if err := d.Run(ctx); err != nil {
		if !errors.Is(err, context.Canceled) {
			log.Error("stopped on an error", slog.Any("error", err))
			return 1
		}
	}
	return 0
}
