# sixgate: see README.md.
GO        ?= go
# An execution count, not a duration: with a duration, go1.26's fuzzing
# coordinator can report its own deadline as a failure (golang/go#75804).
FUZZTIME  ?= 50000x
STATICCHECK = $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build deb test unit e2e lint fuzz bench bench-port soak demo clean

all: build

build:
	$(GO) build -o bin/sixgate ./cmd/sixgate

# The Debian package, bin/sixgate_VERSION_ARCH.deb, built with dpkg-deb
# from packaging/deb/ (a static binary built with -trimpath and the version
# from VERSION or git describe stamped in; docs/operations.md, "Running it
# as a service").
deb:
	GO=$(GO) packaging/deb/build.sh bin

# Everything CI runs: static checks, unit tests (fuzz seeds included), every
# fuzz target for FUZZTIME, and the end-to-end tests on real Open vSwitch
# (which need root; see README).
test: lint unit fuzz e2e

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(STATICCHECK) ./...

unit:
	$(GO) test -count=1 -race $$($(GO) list ./... | grep -v /test)

# End-to-end tests share one Open vSwitch, so packages run one at a time.
e2e: build
	$(GO) test -count=1 -p 1 -timeout 15m ./test/...

# Runs every fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# A long run of legitimate transfers under a SYN flood and malformed
# packets; SOAK_DURATION sets its length (default 3m). Not part of test.
soak: build
	$(GO) test -count=1 -tags soak -run TestSoak -timeout 60m -v ./test/

# The benchmark suite (docs/benchmarks.md): engine microbenchmarks, the
# controller against os-ken under simulated switches, and end to end on Open
# vSwitch against plain IPv6 forwarding and haproxy. As root it installs
# what it needs and runs everything; otherwise the end-to-end part is
# skipped and the report says so. Results go to results/<timestamp>/.
# BENCHFLAGS passes options, e.g. BENCHFLAGS="-duration 5s -contended".
BENCHFLAGS ?=
bench:
	@if [ "$$(id -u)" = 0 ]; then bench/install-deps.sh; \
	else echo "bench: not root: engine and controller parts only (os-ken if installed)"; fi
	$(GO) run ./bench/cmd/sixgate-bench $(BENCHFLAGS)

# Only sixgate's port mode against haproxy, end to end, with the CPU
# columns and the port-mode profile (docs/benchmarks.md); BENCHFLAGS adds
# options, e.g. BENCHFLAGS="-perf".
bench-port:
	@if [ "$$(id -u)" = 0 ]; then bench/install-deps.sh; fi
	$(GO) run ./bench/cmd/sixgate-bench -parts e2e -setups port,haproxy -duration 5s $(BENCHFLAGS)

# Two scenes: the seed demo (scripts/demo.sh), then the IPv6-mostly one.
demo: build
	scripts/demo.sh
	@$(MAKE) --no-print-directory demo-mostly

# The IPv6-mostly scene (docs/ipv6-mostly.md) is the end-to-end test
# TestIPv6Mostly, which prints each step and what it proves, and fails if
# one does not hold; make e2e runs it too. CI=true: a missing prerequisite
# fails it instead of skipping it.
demo-mostly:
	CI=true $(GO) test -count=1 -v -timeout 5m -run '^TestIPv6Mostly$$' ./test/

clean:
	rm -rf bin
