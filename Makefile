# zerodown — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
GOBIN := $(shell $(GO) env GOPATH)/bin
TEMPORAL_CLI_VERSION := v1.5.1
# `go install` builds report 0.0.0-DEV, so the pin is checked by the server it bundles.
TEMPORAL_SERVER_VERSION := 1.29.1
# The pinned Temporal CLI (dev server + UI). Tests and the demo find it through TEMPORAL_CLI.
export TEMPORAL_CLI ?= $(GOBIN)/temporal
BIN := bin

.PHONY: all build test test-short fuzz lint temporal-cli prometheus haproxy ssh-keygen curl record-histories demo demo-bad demo-bad-sentry demo-traffic demo-traffic-bad bench-reaction bench-zerodowntime bench-chaos bench-scale clean

all: build

build:
	$(GO) build -o $(BIN)/zerodown ./starter
	$(GO) build -o $(BIN)/zerodown-worker ./worker
	$(GO) build -o $(BIN)/demoapp ./examples/demoapp

# Installs the pinned Temporal CLI when it is missing or another version (about 2 minutes cold).
temporal-cli:
	@if [ -x "$(TEMPORAL_CLI)" ] && "$(TEMPORAL_CLI)" --version | grep -q "Server $(TEMPORAL_SERVER_VERSION)"; then \
		echo "temporal CLI $(TEMPORAL_CLI_VERSION) at $(TEMPORAL_CLI)"; \
	else \
		echo "installing temporal CLI $(TEMPORAL_CLI_VERSION) (dev server + UI)..."; \
		GOBIN=$(dir $(TEMPORAL_CLI)) $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION); \
	fi

# The analysis tests run a real Prometheus: $$PROMETHEUS, PATH or /usr/bin, else Debian's
# package is installed (with sudo when not root).
prometheus:
	@if [ -n "$$PROMETHEUS" ] || command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ]; then \
		echo "prometheus at $${PROMETHEUS:-$$(command -v prometheus || echo /usr/bin/prometheus)}"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "installing prometheus from Debian (the analysis tests run a real one)..."; \
		SUDO=$$([ "$$(id -u)" = 0 ] || command -v sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus; \
	else \
		echo "prometheus is missing and there is no apt-get: install Prometheus 2.x, or set PROMETHEUS to its binary"; exit 1; \
	fi

# The HAProxy provider's tests run a real HAProxy (each test starts its own on loopback):
# $$HAPROXY, PATH or /usr/sbin, else Debian's package is installed (with sudo when not
# root), and the system service the package starts is stopped and disabled.
haproxy:
	@if [ -n "$$HAPROXY" ] || command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then \
		echo "haproxy at $${HAPROXY:-$$(command -v haproxy || echo /usr/sbin/haproxy)}"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "installing haproxy from Debian (the fleet/haproxy tests run a real one)..."; \
		SUDO=$$([ "$$(id -u)" = 0 ] || command -v sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends haproxy; \
		if [ -d /run/systemd/system ]; then $$SUDO systemctl disable --now haproxy.service || true; fi; \
	else \
		echo "haproxy is missing and there is no apt-get: install HAProxy 2.6 or later, or set HAPROXY to its binary"; exit 1; \
	fi

# The in-place release tests and the on-premises demo deploy through curl (the deploy
# command of their servers asks the test's supervisor to restart a server on a version).
curl:
	@if command -v curl >/dev/null 2>&1; then \
		echo "curl at $$(command -v curl)"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "installing curl from Debian (the in-place deploy command of the tests runs it)..."; \
		SUDO=$$([ "$$(id -u)" = 0 ] || command -v sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends curl; \
	else \
		echo "curl is missing and there is no apt-get: install curl"; exit 1; \
	fi

# The demo: a Temporal dev server (UI at http://localhost:8233), the local cloud, the worker,
# 4 x v1 of the demo service under load, and a release to v2 with live progress. Ctrl-C
# stops everything it started.
# LB=haproxy: fixed servers behind a real HAProxy, upgraded in place (docs/onprem.md).
demo: temporal-cli $(if $(filter haproxy,$(LB)),haproxy curl)
	$(GO) run ./internal/demo/cmd/zerodown-demo $(if $(LB),--lb $(LB))

# The same with a bad build (v3): its canary goes unhealthy while it soaks, and the
# release rolls back on its own.
demo-bad: temporal-cli
	$(GO) run ./internal/demo/cmd/zerodown-demo --releases v3

# The same judged by Sentry (a stand-in for it: Sentry cannot run here): the bad build v4
# answers every request right but reports a new error to Sentry on 30% of them; the
# canary's new issue and error rate in Sentry roll the release back on their own.
demo-bad-sentry: temporal-cli
	$(GO) run ./internal/demo/cmd/zerodown-demo --sentry --releases v4

# The demo's release with traffic steps: the canary takes exactly 1 %, 5 %, 25 %, then 50 %
# of requests, each step checked; the summary puts each share asked beside the share the
# users measured. demo-traffic-bad releases the bad build v3, taken to 0 % at once.
demo-traffic: temporal-cli
	$(GO) run ./internal/demo/cmd/zerodown-demo --traffic

demo-traffic-bad: temporal-cli
	$(GO) run ./internal/demo/cmd/zerodown-demo --traffic --releases v3

# Signed approvals are tested against the real ssh-keygen and ssh-agent (Debian's openssh-client).
ssh-keygen:
	@if command -v ssh-keygen >/dev/null 2>&1 && command -v ssh-agent >/dev/null 2>&1; then \
		echo "ssh-keygen at $$(command -v ssh-keygen)"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "installing openssh-client from Debian (the signed approval tests run ssh-keygen)..."; \
		SUDO=$$([ "$$(id -u)" = 0 ] || command -v sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends openssh-client; \
	else \
		echo "ssh-keygen is missing and there is no apt-get: install OpenSSH's client tools"; exit 1; \
	fi

# Every test: unit, workflow (time skipping), replay, and integration against a real
# Temporal dev server, the local cloud, the demo service, Prometheus and HAProxy.
test: temporal-cli prometheus haproxy ssh-keygen curl
	$(GO) test -count=1 -timeout 30m ./...

# Unit and workflow tests only, no servers.
test-short: ssh-keygen
	$(GO) test -short -count=1 ./...

# Records fresh workflow histories from a real dev server into workflows/testdata/histories,
# which the replay test replays forever after. Do it before changing workflow code.
record-histories: temporal-cli
	ZERODOWN_RECORD=1 $(GO) test -count=1 -run 'OnDevServer' ./workflows/

# Fuzzes spec loading and update payloads for FUZZTIME each (CI runs it briefly). The
# seed corpora also run as plain tests in make test.
FUZZTIME ?= 15s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./schemas/
	$(GO) test -run '^$$' -fuzz '^FuzzUpdatePayload$$' -fuzztime $(FUZZTIME) ./workflows/
	$(GO) test -run '^$$' -fuzz '^FuzzPlantedSecretNeverSurvives$$' -fuzztime $(FUZZTIME) ./redact/
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./signing/
	$(GO) test -run '^$$' -fuzz '^FuzzRequests$$' -fuzztime $(FUZZTIME) ./freeze/

# The side-by-side zero-downtime benchmark (about 8 minutes, both cores): 8 instances under
# 500 requests/s and 100 WebSocket clients, a zerodown release and a naive restart under the
# same load; prints the table and appends it to BENCHMARKS.md.
bench-zerodowntime: temporal-cli
	$(GO) run ./bench/zerodowntime

# Releases under load while the worker is SIGKILLed at random moments (every phase) and
# the dev server and local cloud restart; checks outcomes, fleets, launches, leaks and
# failed requests. Its short form runs in make test. SEED=n draws the same chaos again.
bench-chaos: temporal-cli
	$(GO) run ./bench/chaos $(if $(SEED),--seed $(SEED))

# 1,000 concurrent releases on in-memory fleets with one worker, and the history of a
# 4-hour soak checked every 10 s, run by run (goal: at most 4,096 events a run).
# WORKERS=1,2 runs the 1,000 releases once per worker count instead, side by side.
bench-scale: temporal-cli
	$(GO) run ./bench/scale $(if $(WORKERS),--parts concurrent --workers $(WORKERS))

# How fast canary analysis catches a bad canary, alone and in a real release (needs
# prometheus and the Temporal CLI); appends a table to BENCHMARKS.md. About 8 minutes.
# PROVIDERS=sentry measures the sentry provider against its stand-in.
bench-reaction: temporal-cli
	$(GO) run ./bench/reaction $(if $(PROVIDERS),-providers $(PROVIDERS))

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

clean:
	rm -rf $(BIN) .tmp

# The container image of zerodown and zerodown-worker without a Docker engine: static
# binaries and CA certificates in one layer, user 65532, written as $(BIN)/zerodown-image.tar,
# an archive that `docker load`, `podman load`, skopeo (oci-archive: or docker-archive:)
# and crane read. With an engine: docker build -f deployments/image/Dockerfile .
IMAGE_TAG ?= zerodown/zerodown:latest
.PHONY: image
image:
	$(GO) run ./deployments/image -o $(BIN)/zerodown-image.tar -tag $(IMAGE_TAG)

# A change of two services under load (docs/changes.md): the board back end and the board
# as its front end, each behind its own load balancer, with a database change in
# expand/contract form: backup, expand, back end, sanity, front end, sanity, landing
# confirmation (the demo confirms after 5s unless you do), finalize, contract.
.PHONY: demo-change demo-change-bad demo-change-late
demo-change: temporal-cli
	$(GO) run ./internal/demo/cmd/zerodown-demo --change night

# The same night with a front end whose sanity test fails: the change rolls back in
# reverse (front end, back end, expand) and prints how fast both were back.
demo-change-bad: temporal-cli
	$(GO) run ./internal/demo/cmd/zerodown-demo --change bad

# The night on a clock scaled down (a window open now, decideBy 75s after the start,
# doneBy a minute later): the landing tests are never confirmed, and decideBy rolls both
# services and the expand back before doneBy.
demo-change-late: temporal-cli
	$(GO) run ./internal/demo/cmd/zerodown-demo --change late
