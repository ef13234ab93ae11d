# The two set-up commands (see README): `make demo` and `make test`.
# Both start private local emulators (scripts/emulators.sh) and always stop them.

GO ?= go
STATICCHECK_VERSION := v0.8.2
# Generous for 2 cores; CI's whole run must stay under 20 minutes.
TEST_TIMEOUT ?= 15m

.PHONY: test test-short demo lint fuzz-smoke bench bench-packages bench-figures chaos emulators-install mutate

## test: every test, with the race detector, against kinesis-local and dynalite
test:
	scripts/emulators.sh run $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

## test-short: the inner loop: no emulators, tests that need them skip
test-short:
	$(GO) test -short -race ./...

## demo: the quickstart against the local emulators
demo:
	scripts/emulators.sh run $(GO) run ./examples/quickstart

## lint: go.mod tidy, gofmt, go vet and staticcheck at a pinned version
lint:
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## fuzz-smoke: each fuzz target in .ci/fuzz-targets for FUZZTIME (default 10s)
FUZZTIME ?= 10s
fuzz-smoke:
	@if [ -f .ci/fuzz-targets ]; then \
		grep -vE '^\s*(#|$$)' .ci/fuzz-targets | while read -r pkg target; do \
			echo "fuzz $$pkg $$target for $(FUZZTIME)"; \
			$(GO) test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) "$$pkg" || exit 1; \
		done; \
	fi

## mutate: apply each named breakage (scripts/mutations.sh) and require a test to fail
mutate:
	scripts/mutate.sh

## bench: a short run of the harness (bench/README.md): kcl and the bare SDK loop over
## both retrievals, then latency probes, against the replay source and dynalite
BENCH_OUT ?= bench/results
bench:
	scripts/emulators.sh run sh -c '$(GO) run ./bench consume -records 50000 -out $(BENCH_OUT) && \
		$(GO) run ./bench consume -retrieval polling -records 100000 -out $(BENCH_OUT) -name consume-polling && \
		$(GO) run ./bench latency -records 100 -out $(BENCH_OUT)'

## bench-packages: the package benchmarks (go test -bench) against the local emulators
bench-packages:
	scripts/emulators.sh run $(GO) test -run='^$$' -bench=. -benchmem ./...

## chaos: the chaos suite's long mode by hand (the short mode is TestChaos in make test);
## CHAOS_ARGS e.g. "-duration 1h -workers 5 -seed 42"
CHAOS_ARGS ?= -duration 10m -workers 4
chaos:
	$(GO) build -race -o .cache/kcl-chaos ./cmd/kcl-chaos
	scripts/emulators.sh run .cache/kcl-chaos $(CHAOS_ARGS)

## bench-figures: every figure of bench/README.md, rewritten in place (~20 minutes)
bench-figures:
	bench/figures.sh

emulators-install:
	scripts/emulators.sh install
