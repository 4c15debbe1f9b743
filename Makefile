# medispatcher — build, test, benchmark, demo.
SHELL := /bin/bash
GO ?= go
BIN := bin
PKG := medispatcher/internal/buildinfo
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GIT_HASH ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
BUILD_TIME ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X $(PKG).Version=$(VERSION) -X $(PKG).GitHash=$(GIT_HASH) -X $(PKG).BuildTime=$(BUILD_TIME)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
CMDS := $(notdir $(wildcard cmd/*))

.PHONY: all build deps test vet fmt-check lint bench bench-quick run fuzz clean install package

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ $(addprefix ./cmd/,$(CMDS))

deps:
	@bash scripts/deps.sh

# Installation. The binaries operators run: every command but the package
# builder.
PREFIX ?= /usr/local
DESTDIR ?=
DIST_CMDS := $(filter-out mkdeb,$(CMDS))
SERVICE := scripts/service

# install copies the binaries to $(DESTDIR)$(PREFIX)/bin, the configuration
# and subscriptions to $(DESTDIR)/etc/medispatcher/ (never over existing
# ones), the systemd unit (ExecStart pointing at $(PREFIX)/bin) to
# $(DESTDIR)/lib/systemd/system/ and the full examples to
# $(PREFIX)/share/doc/medispatcher/. It neither creates the medispatcher
# user nor enables or starts the service: the package (make package) does;
# by hand, create the user, `chgrp medispatcher /etc/medispatcher/*.toml`,
# then `systemctl daemon-reload && systemctl enable --now medispatcher`.
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/medispatcher \
		$(DESTDIR)/lib/systemd/system $(DESTDIR)$(PREFIX)/share/doc/medispatcher
	install -m 0755 $(addprefix $(BIN)/,$(DIST_CMDS)) $(DESTDIR)$(PREFIX)/bin/
	@for f in medispatcher.toml subscriptions.toml; do \
		dst=$(DESTDIR)/etc/medispatcher/$$f; \
		if [ -e "$$dst" ]; then echo "install: keeping existing $$dst"; \
		else install -m 0640 $(SERVICE)/$$f "$$dst"; fi; \
	done
	sed 's|^ExecStart=/usr/bin/|ExecStart=$(PREFIX)/bin/|' $(SERVICE)/medispatcher.service \
		> $(DESTDIR)/lib/systemd/system/medispatcher.service
	chmod 0644 $(DESTDIR)/lib/systemd/system/medispatcher.service
	install -m 0644 scripts/medispatcher.example.toml scripts/subscriptions.example.toml \
		$(DESTDIR)$(PREFIX)/share/doc/medispatcher/

# package writes $(BIN)/medispatcher_<version>_<arch>.deb (see
# internal/debpkg): the binaries are built afresh into $(BIN)/pkg with the
# VERSION stamp, which also gives the package version.
PKG_BIN := $(BIN)/pkg
package:
	rm -rf $(PKG_BIN) && mkdir -p $(PKG_BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(PKG_BIN)/ $(addprefix ./cmd/,$(DIST_CMDS))
	$(GO) run ./cmd/mkdeb -bin $(PKG_BIN) -version '$(VERSION)' -o $(BIN)/

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# The one test command (README, .ci/run): installs the servers, checks
# formatting and vet, runs every test with the race detector against real
# beanstalkd and redis-server processes, then a short end-to-end load that
# must lose and duplicate nothing (no speed threshold).
test: deps fmt-check vet build
	$(GO) test -race -count=1 -timeout 9m ./...
	DISPATCH_TWO_HOP=1 $(GO) test -race -count=1 -timeout 5m ./engine/dispatch/
	bash bench/run.sh --quick

lint:
	$(GO) run $(STATICCHECK) ./...

# Every fuzz target of each package (go test -list), one run each: go test
# fuzzes one target at a time. Minimizing a new input is bounded so that a
# large seed does not eat the run.
FUZZ_PKGS := ./engine/dispatch/message/ ./engine/process/publish/ ./engine/dispatch/push/ ./internal/datalog/ ./connpool/ ./loadgen/farm/ \
	./engine/dispatch/subs/ ./engine/dispatch/filter/ ./internal/config/ ./engine/process/admin/ ./engine/process/recoverlist/ ./engine/paneldb/
FUZZTIME ?= 30s
fuzz:
	@for p in $(FUZZ_PKGS); do \
		list=$$($(GO) test -list '^Fuzz' $$p) || { echo "$$list"; exit 1; }; \
		for f in $$(echo "$$list" | grep '^Fuzz'); do \
			echo "fuzz $$p $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=10s $$p || exit 1; \
		done; \
	done

bench: build deps
	bash bench/run.sh

bench-quick: build deps
	bash bench/run.sh --quick

run: build deps
	bash scripts/run-demo.sh

clean:
	rm -rf $(BIN)
	$(GO) clean -testcache

# The fault tests of the daemon in their full-length variants (outages of
# 30 s, a subscriber failing for 60 s); `make test` runs the short ones.
# See RELIABILITY.md.
.PHONY: reliability
reliability:
	MEDISPATCHER_LONG=1 $(GO) test -race -count=1 -timeout 30m -v -run 'Fleet|Kill9|SIGTERM|RedisDown|OneOfTwo|Subscriber500|DiskFull|Typoed|EmptyRedisHash|MySQLDown' ./engine/process/daemon/
