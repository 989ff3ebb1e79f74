# keygate: build, run and test. `make` (or `make help`) lists the targets.
#
# The build-<LogicalId> targets are what `sam build` runs (BuildMethod:
# makefile); the tests run several others. Edit with care.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
GO ?= go

# The architecture is the template's (Globals: Architectures), and only
# there: sam deploy ships what the template says, so the build follows it.
# TEMPLATE is template.yaml unless `sam build -t` builds a copy (make
# test-sam builds an x86_64 one with MAKEFLAGS=TEMPLATE=<its path>).
TEMPLATE ?= template.yaml
TEMPLATE_ARCH := $(shell sed -n 's/^ *Architectures: *\[ *\([a-z0-9_]*\) *\] *$$/\1/p' $(TEMPLATE))
ifeq ($(TEMPLATE_ARCH),arm64)
LAMBDA_GOARCH := arm64
else ifeq ($(TEMPLATE_ARCH),x86_64)
LAMBDA_GOARCH := amd64
else
$(error $(TEMPLATE) must set exactly one architecture, "Architectures: [arm64]" or "Architectures: [x86_64]", in Globals; found "$(TEMPLATE_ARCH)")
endif

# Lambda build: static, stripped, reproducible, without the RPC mode the
# provided.al2023 runtime never uses (lambda.norpc keeps net/rpc out).
LAMBDA_BUILD := CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_GOARCH) $(GO) build -trimpath -tags lambda.norpc -ldflags='-s -w -buildid='

# Python tools, pinned, in a project-local virtual environment.
PYTHON ?= python3
PYTHON_MIN := 3.11
VENV := .venv
SAM_CLI_VERSION := 1.170.0
CFN_LINT_VERSION := 1.58.0
MOTO_VERSION := 5.2.5
DETECT_SECRETS_VERSION := 1.5.0
VENV_PINS := aws-sam-cli==$(SAM_CLI_VERSION) cfn-lint==$(CFN_LINT_VERSION) moto[server]==$(MOTO_VERSION) detect-secrets==$(DETECT_SECRETS_VERSION)
# Records the pins the venv holds: a change of version reinstalls.
VENV_STAMP := $(VENV)/keygate-pins.txt
SAM := SAM_CLI_TELEMETRY=$${SAM_CLI_TELEMETRY:-0} $(VENV)/bin/sam

# The baselines of `make bench`, in bin/bench/: Flask and gunicorn (the
# local server's), the Python port's packages (a venv each), and the Node.js
# port's npm ci (test/bench/node/install.sh; a failed install is a row of the
# table that says why, not a failed make).
BENCH_VENV := bin/bench/venv
BENCH_REQS := test/bench/flask/requirements.txt
BENCH_PY := bin/bench/python
BENCH_PY_REQS := test/bench/python/requirements.txt
BENCH_NODE := bin/bench/node
BENCH_NODE_SRC := test/bench/node
BENCH_DEPS := $(BENCH_VENV)/bin/gunicorn $(BENCH_PY)/requirements.txt $(BENCH_NODE)/installed.txt
BENCHTABLE := cd test && $(GO) run ./bench/cmd/benchtable

.PHONY: help build run test unit harness soak soak-short vet bench bench-smoke bench-docs fuzz venv deploy local-api invoke invoke-sam invoke-rie test-sam test-deploy localstack-venv clean

help: ## list the targets
	@echo "keygate: make <target>"
	@awk -F':.*## ' '/^[a-zA-Z_-]+:.*## / { printf "  %-31s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

build: ## build both Lambda bootstraps for the template's architecture into bin/
	$(LAMBDA_BUILD) -o bin/api/bootstrap ./cmd/api
	$(LAMBDA_BUILD) -o bin/rotate/bootstrap ./cmd/rotate
	@echo "built bin/api/bootstrap and bin/rotate/bootstrap (linux/$(LAMBDA_GOARCH), from $(TEMPLATE))"

build-KeygateFunction: ## (sam build) the API function's bootstrap into $(ARTIFACTS_DIR)
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./cmd/api

build-KeygateRotationFunction: ## (sam build) the rotation function's bootstrap into $(ARTIFACTS_DIR)
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./cmd/rotate

# The server gets the terminal to itself (a job of its own, in the
# foreground), so Ctrl-C stops it and not make, and make exits with the
# server's status: 0 after a clean stop.
run: ## the local server on 127.0.0.1:3000: no AWS, no Docker (ARGS="-addr …")
	@$(GO) build -o bin/keygate-local ./cmd/local
	@if [ -t 0 ]; then set -m; bin/keygate-local $(ARGS) & fg %1 >/dev/null; else exec bin/keygate-local $(ARGS); fi

vet: ## go vet, both modules
	$(GO) vet ./...
	cd test && $(GO) vet -tags samlocal,samdeploy ./...

unit: ## the product's own tests: only Go, no network service, no venv
	$(GO) test -race -count=1 ./...

harness: venv ## the proof: end-to-end, emulator, moto, SAM checks, load (module test/)
	cd test && $(GO) test -race -count=1 -skip '^TestSoak$$' ./...
	cd test && $(GO) test -run '^$$' -bench . -benchtime=1x ./...

# The soak (test/soak; docs/testing.md#soak): keygate for SOAK under a
# steady mixed load while the secret rotates, clients come and go (revoke
# --now too) and the store fails; an oracle judges every answer, and
# memory, descriptors, goroutines and latency must stay flat. It writes
# bin/soak/results.json and bin/soak/soak.svg. make test runs its
# two-minute form on its own (harness skips it): it measures latency.
SOAK ?= 60m
SOAK_TIMEOUT ?= 90m
soak: venv ## keygate for SOAK (60m) under load, rotations, revokes, store faults: bin/soak/results.json, soak.svg
	cd test && SOAK=$(SOAK) SOAK_COMMAND='make soak SOAK=$(SOAK)' $(GO) test -count=1 -run '^TestSoak$$' -timeout $(SOAK_TIMEOUT) -v ./soak

soak-short: venv ## the soak's two-minute form, which make test runs: bin/soak/short/
	cd test && SOAK=2m SOAK_OUT=$(CURDIR)/bin/soak/short SOAK_COMMAND='make soak-short' $(GO) test -race -count=1 -run '^TestSoak$$' ./soak

# test-sam (Docker, mostly CPU) and test-deploy (LocalStack, mostly waiting
# on SAM's pollers) run at once: a minute less; each one's output comes
# whole when it ends.
test: vet unit harness soak-short bench-smoke ## everything CI runs (.ci/run)
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sam test-deploy

# The SAM CLI, cfn-lint and moto, installed on first use and whenever the
# pins above change; otherwise the venv is reused as it is.
$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < tuple(map(int, "$(PYTHON_MIN)".split("."))))' 2>/dev/null || { echo "venv: keygate's tools need Python $(PYTHON_MIN) or later as $(PYTHON) (found: $$($(PYTHON) --version 2>&1)); install it, or set PYTHON=" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { echo "venv: '$(PYTHON) -m venv' failed: install Python's venv module (Debian/Ubuntu: apt-get install python3-venv), or set PYTHON=" >&2; exit 1; }

venv: $(VENV)/bin/python ## the pinned SAM CLI, cfn-lint and moto in .venv
	@if [ "$$(cat $(VENV_STAMP) 2>/dev/null)" != "$(VENV_PINS)" ]; then \
		echo "venv: installing $(VENV_PINS) into $(VENV)"; \
		$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(foreach p,$(VENV_PINS),'$(p)'); \
		echo "$(VENV_PINS)" > $(VENV_STAMP); \
	fi

$(BENCH_VENV)/bin/gunicorn: $(BENCH_REQS)
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q -r $(BENCH_REQS)
	touch $@

# Wheels only, every package pinned: what the port loads is what the file says.
$(BENCH_PY)/requirements.txt: $(BENCH_PY_REQS)
	rm -rf $(BENCH_PY)
	$(PYTHON) -m venv $(BENCH_PY)
	$(BENCH_PY)/bin/pip install -q --disable-pip-version-check --no-deps --only-binary=:all: -r $(BENCH_PY_REQS)
	cp $(BENCH_PY_REQS) $@

$(BENCH_NODE)/installed.txt: $(BENCH_NODE_SRC)/package.json $(BENCH_NODE_SRC)/package-lock.json $(BENCH_NODE_SRC)/install.sh
	$(BENCH_NODE_SRC)/install.sh $(BENCH_NODE)

# The cold-start model needs root (namespaces, TUN devices, a mount).
bench: $(BENCH_DEPS) ## the performance table, and bin/bench/results.json (docs/performance.md; needs root)
	$(BENCHTABLE) -command 'make bench'

bench-docs: $(BENCH_DEPS) ## make bench, and write its report into docs/performance.md between the bench markers
	$(BENCHTABLE) -docs ../docs/performance.md -command 'make bench-docs'

bench-smoke: $(BENCH_DEPS) ## every step of make bench once, with tiny counts (numbers mean nothing)
	$(BENCHTABLE) -smoke -command 'make bench-smoke'

# Fuzz targets (package:target; go test -fuzz takes one at a time). Their
# corpora run as ordinary tests in `make unit`. New failing inputs land in
# the package's testdata/fuzz/: commit them with the fix.
FUZZ_TARGETS := ./internal/frontdoor:FuzzInvoke ./internal/apikey:FuzzParse ./internal/apikey:FuzzMatch
FUZZTIME ?= 2m
# Minimizing each new interesting input may take this long (Go's default,
# 60s, can eat a whole short run).
FUZZ_MINIMIZE_TIME ?= 5s

fuzz: ## run each fuzz target for FUZZTIME (default 2m); stops at the first failure
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $$t for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime=$(FUZZTIME) \
			-fuzzminimizetime=$(FUZZ_MINIMIZE_TIME) "$${t%%:*}" || exit 1; \
	done

# sam local runs the function in a Docker container of the template's
# architecture. test/cmd/lambdabase checks the engine (and, for arm64 on
# another machine, qemu's binfmt_misc entry) and gets the Lambda base image:
# pulled when the registry answers, else the local one, else a stand-in it
# builds. So sam local always runs with --skip-pull-image: offline, SAM
# would otherwise ask the registry even for a local image, and stop.
# `make run` is the same handler without Docker or AWS.
LAMBDABASE := cd test && $(GO) run ./cmd/lambdabase
EVENT ?=

local-api: venv ## sam build, then sam local start-api on 127.0.0.1:3000 (needs Docker; pulls or builds the base image)
	@echo "local-api: checking the Docker engine and the $(TEMPLATE_ARCH) base image"
	@$(LAMBDABASE) -prefix local-api -arch $(TEMPLATE_ARCH)
	$(SAM) build
	@echo "local-api: sam local start-api with samconfig.toml (events/env.json's key, port 3000); Ctrl-C stops it"
	$(SAM) local start-api --skip-pull-image

invoke: ## one event through the function: make invoke EVENT=events/rest-valid-key.json (sam local invoke, or without Docker the pinned emulator)
	@test -n "$(EVENT)" || { echo "invoke: name the event: make invoke EVENT=events/rest-valid-key.json (the files are in events/)" >&2; exit 2; }
	@test -f "$(EVENT)" || { echo "invoke: $(EVENT): no such file (the events are in events/)" >&2; exit 2; }
	@if ($(LAMBDABASE) -probe) 2>/dev/null; then \
		echo "invoke: a Docker engine answers: sam local invoke KeygateFunction -e $(EVENT) ($(TEMPLATE_ARCH))"; \
		$(MAKE) --no-print-directory invoke-sam EVENT='$(EVENT)'; \
	else \
		echo "invoke: no Docker engine answers: running $(EVENT) under the Runtime Interface Emulator (test/go.mod's tool), the bootstrap built for this machine"; \
		$(MAKE) --no-print-directory invoke-rie EVENT='$(EVENT)'; \
	fi

invoke-sam: venv
	@$(LAMBDABASE) -prefix invoke -arch $(TEMPLATE_ARCH)
	$(SAM) build
	$(SAM) local invoke KeygateFunction -e $(EVENT) --skip-pull-image

invoke-rie:
	CGO_ENABLED=0 $(GO) build -trimpath -tags lambda.norpc -o bin/invoke/bootstrap ./cmd/api
	cd test && CGO_ENABLED=0 $(GO) build -o ../bin/invoke/aws-lambda-rie github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
	cd test && $(GO) run ./cmd/rieinvoke -rie ../bin/invoke/aws-lambda-rie -bootstrap ../bin/invoke/bootstrap -env ../events/env.json -event $(abspath $(EVENT))

# `sam local` for real (test/samlocal): the engine (dockerd started, and
# stopped again, only when none answers; docker.io and qemu-user-static
# from apt-get when missing: root), the base images, sam build for arm64
# and this machine, sam local invoke on every file of events/, sam local
# start-api over the README's behaviour table, keygate as the authorizer of
# a REST and an HTTP API in front of a Lambda backend.
TESTFLAGS ?=
test-sam: venv ## sam build, sam local invoke on every event, sam local start-api, the authorizer chain (Docker; root installs and starts it)
	cd test && $(GO) test -tags samlocal -count=1 -timeout 30m $(TESTFLAGS) ./samlocal

# `sam deploy` for real (test/samdeploy) against LocalStack in host mode
# (no Docker, offline): localstack-core pinned in test/localstack/
# constraints.txt, in a venv of its own, with keygate's plugin
# (test/localstack/plugin). localstack-core 2026.3.0 needs Python 3.13;
# LOCALSTACK_PYTHON names one, else pyenv's or python3.13 on the PATH.
LOCALSTACK_VENV := .venv-localstack
LOCALSTACK_PINS := test/localstack/constraints.txt
LOCALSTACK_PLUGIN := test/localstack/plugin/pyproject.toml $(wildcard test/localstack/plugin/keygate_localstack/*.py test/localstack/plugin/keygate_localstack/*.json)
LOCALSTACK_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3) $(shell command -v python3.13 2>/dev/null))
# Record what the venv holds: new pins reinstall it, a changed plugin only
# the plugin.
LOCALSTACK_STAMP := $(LOCALSTACK_VENV)/keygate-pins.sha256
LOCALSTACK_PLUGIN_STAMP := $(LOCALSTACK_VENV)/keygate-plugin.sha256

localstack-venv: ## LocalStack (pinned) and keygate's plugin in .venv-localstack, for make test-deploy
	@pins="$$(sha256sum < $(LOCALSTACK_PINS) | cut -c1-64)"; \
	if [ "$$(cat $(LOCALSTACK_STAMP) 2>/dev/null)" != "$$pins" ]; then \
		py='$(LOCALSTACK_PYTHON)'; \
		if [ -z "$$py" ] || ! "$$py" -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; then \
			echo "localstack-venv: LocalStack 2026.3 needs Python 3.13 or later (it imports warnings.deprecated: 3.12 fails), and none was found (LOCALSTACK_PYTHON='$$py'; tried ~/.pyenv/versions/3.13*, python3.13 on the PATH)." >&2; \
			echo "localstack-venv: install one (pyenv install 3.13; or uv python install 3.13), or set LOCALSTACK_PYTHON=/path/to/python3.13." >&2; \
			exit 1; \
		fi; \
		echo "localstack-venv: installing $(LOCALSTACK_PINS) into $(LOCALSTACK_VENV) with $$py ($$("$$py" --version 2>&1))"; \
		rm -rf $(LOCALSTACK_VENV); \
		"$$py" -m venv $(LOCALSTACK_VENV); \
		$(LOCALSTACK_VENV)/bin/pip install --quiet --disable-pip-version-check -c $(LOCALSTACK_PINS) 'localstack-core[runtime]' cbor2 pyopenssl cryptography service_identity setuptools; \
		echo "$$pins" > $(LOCALSTACK_STAMP); \
	fi; \
	plugin="$$(cat $(LOCALSTACK_PLUGIN) | sha256sum | cut -c1-64)"; \
	if [ "$$(cat $(LOCALSTACK_PLUGIN_STAMP) 2>/dev/null)" != "$$plugin" ]; then \
		echo "localstack-venv: installing test/localstack/plugin into $(LOCALSTACK_VENV)"; \
		tmp="$$(mktemp -d)"; cp -r test/localstack/plugin/. "$$tmp"; \
		$(LOCALSTACK_VENV)/bin/pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps "$$tmp"; \
		rm -rf "$$tmp"; \
		echo "$$plugin" > $(LOCALSTACK_PLUGIN_STAMP); \
	fi

test-deploy: venv localstack-venv ## the real sam deploy (defaults, rotation + Function URL, BackendUrl) and sam delete against LocalStack, every resource checked
	cd test && $(GO) test -tags samdeploy -count=1 -timeout 30m $(TESTFLAGS) ./samdeploy

deploy: venv ## sam build, then sam deploy with samconfig.toml (needs AWS credentials)
	$(SAM) build
	$(SAM) deploy

# The emulator tests build bootstraps into the user cache, one tree per
# clone (test/rie): this clone's goes too.
clean: ## remove bin/, .aws-sam/ and this clone's emulator build cache
	rm -rf bin .aws-sam
	rm -rf "$${XDG_CACHE_HOME:-$$HOME/.cache}/keygate-test/$$(printf %s "$(CURDIR)" | sha256sum | cut -c1-12)"
