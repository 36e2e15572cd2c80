# The two commands a newcomer needs: `make quickstart` and `make test`.
# Everything they need (the cluster binaries) is built from the Go module proxy
# and cached in ~/.cache/gitopskit the first time (cold: ~20 min on 2 cores).

GO ?= go
STATICCHECK_VERSION ?= v0.8.2

.PHONY: quickstart test test-short test-load lint assets fuzz bench bench-quick

## quickstart: the seed scenario (infra -> apps-dev -> apps-prd) on an embedded simulated cluster
quickstart: assets
	$(GO) run ./examples/quickstart

## test: every test, against a real kube-apiserver, a simulated cluster and a local Git server
## (TESTFLAGS adds go test flags, e.g. TESTFLAGS=-count=1 to ignore cached results)
TESTFLAGS ?=
test: assets
	$(GO) test -p 2 -timeout 40m $(TESTFLAGS) ./...

## test-short: skips the slow end-to-end tests; starts no cluster, so needs no cluster binaries
test-short:
	$(GO) test -p 2 -short ./...

## test-load: make test RUNS times in a row (default 5) beside LOAD_PROCS CPU-bound processes
## (default 2), stopping at the first failure (hack/load.sh); every run runs every test (-count=1)
RUNS ?= 5
LOAD_PROCS ?= 2
test-load: assets
	RUNS=$(RUNS) LOAD_PROCS=$(LOAD_PROCS) hack/load.sh $(MAKE) --no-print-directory test TESTFLAGS=-count=1

## assets: build (or find in the cache) etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok
assets:
	@hack/kube-assets.sh >/dev/null

## lint: gofmt, go vet, staticcheck
lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## fuzz: run every fuzz target briefly (FUZZTIME=10s)
FUZZTIME ?= 5s
fuzz:
	@hack/fuzz.sh $(FUZZTIME)

## bench: gitopskit vs fluxcd/pkg/ssa, kubectl, cli-utils, the kustomize CLI and git on one real
## API server, in one run; writes bench/RESULTS.md and bench/results.png (~45 min on 2 cores).
## bench/ is its own module and needs Go 1.27 (fetched by GOTOOLCHAIN from the module proxy).
BENCH_FLAGS ?= -plot -plot-reps 2 -large
bench: assets
	cd bench && GOTOOLCHAIN=go1.27.3 $(GO) run ./cmd/bench $(BENCH_FLAGS)

## bench-quick: one repetition of everything at 100 objects, no plot, report to stdout only
bench-quick: assets
	cd bench && GOTOOLCHAIN=go1.27.3 $(GO) run ./cmd/bench -n 100 -reps 1 -out ""
