# husk: `make` builds a fully static ./husk. See README.md for the rest.
SHELL := /bin/bash
GO ?= go
VERSION ?= 0.1.0
COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# -extldflags=-static: one binary with no shared libraries (glibc's static
# archive; netgo/osusergo keep glibc's NSS out of it).
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -extldflags=-static
GOFLAGS_BUILD := -trimpath -tags netgo,osusergo,urfave_cli_no_template -ldflags '$(LDFLAGS)'
export CGO_ENABLED := 1
PREFIX ?= /usr/local
# Debian packages the build, the tests and the demo need.
APT_PACKAGES := gcc libc6-dev libseccomp-dev pkg-config busybox-static runc time
SOURCES := $(shell find . -path ./tests -prune -o \( -name '*.go' -o -name '*.c' \) -print) go.mod go.sum

.PHONY: all deps demo test unit integration bench conformance test-e2e test-kernel install clean

all: husk

husk: $(SOURCES)
	$(GO) build $(GOFLAGS_BUILD) -o $@ .

# deps installs what is missing, from Debian only.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# demo: build husk, make a busybox bundle and run a container in it.
demo: deps husk
	@tests/demo.sh ./husk

# test: unit tests and the integration tests that run real containers
# (root needed). go test prints its own summary; the last line counts
# the tests of every package.
test: deps husk
	@tests/run-go-tests.sh

# bench: husk against runc in the same run, interleaved (root; installs
# runc, busybox-static, time and perl when missing). Output in
# tests/bench/out/. BENCH_QUICK=1: smoke run in about a minute.
bench: husk
	@tests/bench/bench.sh $(CURDIR)/husk

# conformance: the OCI runtime-tools validation suite against husk (the
# first run downloads and builds the suite, about a minute).
# It fails when more than CONFORMANCE_MAX_FAILED assertions fail: husk's
# count when the allowance was last set, every failure explained in
# tests/conformance/known-failures.md (lower it as gaps are closed).
# `make conformance LANE_RUNTIME=/usr/sbin/runc` runs it against runc.
CONFORMANCE_MAX_FAILED ?= 25
conformance: husk
	@CONFORMANCE_MAX_FAILED=$(CONFORMANCE_MAX_FAILED) tests/conformance/conformance.sh $(LANE_RUNTIME)

# The lanes drive $(LANE_RUNTIME): `make test-e2e LANE_RUNTIME=/usr/sbin/runc`
# gives the baseline.
LANE_RUNTIME ?= $(CURDIR)/husk
E2E_CLIENTS ?= all

# test-e2e: podman, containerd and docker driving the runtime.
test-e2e: husk
	@RUNTIME=$(LANE_RUNTIME) tests/e2e/run.sh $(E2E_CLIENTS)

# test-kernel: the TestKernel* tests under Debian's 6.1 kernel in qemu
# (cgroup v2, AppArmor, CRIU); then a second boot with hybrid v1 cgroups
# (as this machine has, where CRIU cannot run) for the tests matching
# KERNEL_HYBRID_RUN (checkpoint/restore with v1 cgroup mounts; set it empty
# to skip that boot).
KERNEL_HYBRID_RUN ?= ^TestKernelCheckpoint
test-kernel: husk
	@RUNTIME=$(LANE_RUNTIME) tests/kernel/run.sh
	@if [ -n "$(KERNEL_HYBRID_RUN)" ]; then echo "== kernel lane, hybrid cgroups: $(KERNEL_HYBRID_RUN)"; \
	  RUNTIME=$(LANE_RUNTIME) HUSK_KERNEL_CGROUP=hybrid HUSK_KERNEL_RUN='$(KERNEL_HYBRID_RUN)' \
	  HUSK_KERNEL_OUT=$(CURDIR)/tests/kernel/out/hybrid tests/kernel/run.sh; fi

install: husk
	install -D -m 0755 husk $(DESTDIR)$(PREFIX)/sbin/husk

clean:
	rm -f husk
