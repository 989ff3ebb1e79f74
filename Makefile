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

.PHONY: all build run test vet unit bench bench-smoke fuzz venv deploy local-api clean

all: build

build:
	$(LAMBDA_BUILD) -o bin/bootstrap ./cmd/api

# sam build (BuildMethod: makefile) calls these with ARTIFACTS_DIR set.
build-KeygateFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./cmd/api

build-KeygateRotationFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./cmd/rotate

run:
	$(GO) run ./cmd/local

vet:
	$(GO) vet ./...

test: vet venv
	$(GO) test -race -count=1 ./...
	$(GO) test -run '^$$' -bench . -benchtime=1x ./...
	$(MAKE) bench-smoke

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

clean:
	rm -rf bin .aws-sam
