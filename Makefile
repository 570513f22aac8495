# premetrics — see README.md.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Packages whose tests start goroutines; they run under the race detector.
RACE_PKGS := ./batch/... ./rules/... ./aggregate/... ./remotewrite/... ./ingest/... ./pipeline/... ./configtest/... ./internal/logthrottle/... ./enrich/... ./checkpoint/... ./derive/... ./routecache/...

.PHONY: all build deps demo test unit e2e lint fmt loadtest bench bench-go clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/premetrics ./cmd/premetrics
	$(GO) build -o bin/fleetsim ./bench/cmd/fleetsim

# Debian packages the demo and the end-to-end tests use (Prometheus 2.42).
deps:
	bash scripts/install-deps.sh

# The main job end to end: real Prometheus, premetrics with
# config.example.yaml, a simulated vehicle fleet pushing JSON events to
# /api/v1/push/vehicles (ARGS=-protocol=remote_write: remote write), a
# report of what went in and what came out.
demo: deps build
	$(GO) run ./bench/cmd/demo -premetrics bin/premetrics -config config.example.yaml $(ARGS)

# Every test, including end-to-end tests against a real Prometheus.
test: deps lint
	PREMETRICS_REQUIRE_E2E=1 $(GO) test -race -count=1 $(RACE_PKGS)
	@# The race detector makes sync.Pool drop items, so the zero-allocation
	@# tests skip themselves under it: run them once without.
	$(GO) test -count=1 -run 'Alloc' ./rules/... ./aggregate ./remotewrite ./ingest/... ./enrich ./pipeline
	PREMETRICS_REQUIRE_E2E=1 $(GO) test -count=1 -timeout 15m $$($(GO) list ./... | grep -v -E '/(batch|rules|aggregate|remotewrite|ingest|pipeline|configtest|internal/logthrottle|enrich|checkpoint|derive|routecache)(/|$$)')
	$(GO) run ./cmd/premetrics check config.example.yaml
	$(GO) run ./cmd/premetrics test config.example.test.yaml

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# The load generator against a running premetrics (default remote write
# to http://127.0.0.1:9201/api/v1/write; -protocol json: vehicle events to
# /api/v1/push/vehicles; influx: line protocol to /write; otlp: OTLP/HTTP
# protobuf to /v1/metrics; prometheus_text: /api/v1/import/prometheus;
# mqtt: vehicle events published to -mqtt-broker tcp://127.0.0.1:1883), e.g.
# make loadtest ARGS="-rate 1000000 -duration 60s -series 100000",
# make loadtest ARGS="-protocol json -rate 200000 -duration 60s".
loadtest:
	$(GO) build -o bin/loadgen ./bench/cmd/loadgen
	bin/loadgen $(ARGS)

# The benchmark harness: premetrics with bench/bench.yaml, the load
# generator and a remote-write sink, measured from outside; rewrites its
# section of bench/RESULTS.md. ARGS="-scenarios a -duration 10s" runs less.
bench: build
	$(GO) build -o bin/loadgen ./bench/cmd/loadgen
	$(GO) run ./bench/cmd/benchharness $(ARGS)

# Go benchmarks of every package.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin data
