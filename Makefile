# keygate — build, run and test.
#
# `make run`   the local HTTP server on 127.0.0.1:3000 (no AWS, no Docker)
# `make test`  everything CI runs
# `make bench` the performance table (README "Performance")
#
# Edit with care: several targets are used by `sam build` (build-<LogicalId>)
# and by the tests.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go

# Lambda build: static, stripped, reproducible, without the RPC mode the
# provided.al2023 runtime never uses (lambda.norpc keeps net/rpc out).
LAMBDA_GOARCH ?= arm64
LAMBDA_BUILD := CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_GOARCH) $(GO) build -trimpath -tags lambda.norpc -ldflags='-s -w -buildid='

# Python tools, pinned, in a project-local virtual environment.
PYTHON ?= python3
VENV := .venv
SAM_CLI_VERSION := 1.170.0
CFN_LINT_VERSION := 1.58.0
MOTO_VERSION := 5.2.5
VENV_PINS := aws-sam-cli==$(SAM_CLI_VERSION) cfn-lint==$(CFN_LINT_VERSION) moto[server]==$(MOTO_VERSION)
# Records the pins the venv holds: a change of version reinstalls.
VENV_STAMP := $(VENV)/keygate-pins.txt
SAM := SAM_CLI_TELEMETRY=$${SAM_CLI_TELEMETRY:-0} $(VENV)/bin/sam

.PHONY: all build run test vet unit bench bench-smoke fuzz fuzz-smoke venv deploy local-api clean

all: build

build:
	$(LAMBDA_BUILD) -o bin/bootstrap ./cmd/api

# sam build (BuildMethod: makefile) calls these with ARTIFACTS_DIR set.
build-KeygateFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./cmd/api

build-KeygateRotationFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./cmd/rotate

# The SAM CLI, cfn-lint and moto, installed on first use and whenever the
# pins above change; otherwise the venv is reused as it is.
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || { echo "venv: '$(PYTHON) -m venv' failed: install Python 3.10 to 3.14 with its venv module (Debian/Ubuntu: apt-get install python3-venv), or set PYTHON=" >&2; exit 1; }

venv: $(VENV)/bin/python
	@if [ "$$(cat $(VENV_STAMP) 2>/dev/null)" != "$(VENV_PINS)" ]; then \
		echo "venv: installing $(VENV_PINS) into $(VENV)"; \
		$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(foreach p,$(VENV_PINS),'$(p)'); \
		echo "$(VENV_PINS)" > $(VENV_STAMP); \
	fi

# sam local runs the function in a Docker container (an arm64 one: on an
# x86 machine Docker needs arm64 emulation, as Docker Desktop has).
# `make run` is the same handler without Docker or AWS.
local-api: venv
	@docker info >/dev/null 2>&1 || { echo "local-api: sam local start-api needs a running Docker engine, and 'docker info' found none. Start Docker and retry, or use 'make run' (the same handler on 127.0.0.1:3000, no Docker, no AWS)." >&2; exit 1; }
	$(SAM) build
	$(SAM) local start-api --env-vars events/env.json

# Deploys with samconfig.toml (stack keygate; confirms the change set). Needs
# AWS credentials and a region in your AWS configuration.
deploy: venv
	$(SAM) build
	$(SAM) deploy

run:
	$(GO) run ./cmd/local

vet:
	$(GO) vet ./...

test: vet venv
	$(GO) test -race -count=1 ./...
	$(GO) test -run '^$$' -bench . -benchtime=1x ./...
	$(MAKE) bench-smoke
	$(MAKE) fuzz-smoke

# The performance table (README "Performance"): keygate against a hello-world
# bootstrap, a hand-written handler and the seed's Flask app. Flask and
# gunicorn, pinned in internal/bench/flask/requirements.txt, get their own venv.
# bench-smoke runs every step once with tiny counts (for make test).
BENCH_VENV := bin/bench/venv

$(BENCH_VENV)/bin/gunicorn: internal/bench/flask/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q -r internal/bench/flask/requirements.txt
	touch $@

bench: $(BENCH_VENV)/bin/gunicorn
	$(GO) run ./internal/bench/cmd/benchtable -venv $(BENCH_VENV)

bench-smoke: $(BENCH_VENV)/bin/gunicorn
	$(GO) run ./internal/bench/cmd/benchtable -smoke -venv $(BENCH_VENV)

# Fuzz targets (package:target; go test -fuzz takes one at a time). New
# failing inputs land in the package's testdata/fuzz/: commit them with the
# fix. fuzz-smoke (part of make test) runs each briefly.
FUZZ_TARGETS := ./internal/frontdoor:FuzzInvoke ./internal/apikey:FuzzParse ./internal/apikey:FuzzMatch
FUZZTIME ?= 2m
FUZZ_SMOKE_TIME ?= 10s
# Minimizing each new interesting input may take this long (Go's default,
# 60s, can eat a whole smoke run and makes runs hard to compare).
FUZZ_MINIMIZE_TIME ?= 5s

# A target that finds a failure stops the loop and fails make: a loop's
# status is otherwise only its last command's.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $$t for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime=$(FUZZTIME) \
			-fuzzminimizetime=$(FUZZ_MINIMIZE_TIME) "$${t%%:*}" || exit 1; \
	done

fuzz-smoke:
	$(MAKE) fuzz FUZZTIME=$(FUZZ_SMOKE_TIME)

# The emulator tests build bootstraps into the user cache, one tree per
# clone (internal/rie): this clone's goes too.
clean:
	rm -rf bin .aws-sam
	rm -rf "$${XDG_CACHE_HOME:-$$HOME/.cache}/keygate-test/$$(printf %s "$(CURDIR)" | sha256sum | cut -c1-12)"
