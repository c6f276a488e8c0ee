# traceledger: `make run` sets everything up and serves the API; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# anvil from npm (.bin/anvil) must be on PATH for brownie's development network
export PATH := $(CURDIR)/.bin:$(BIN):$(PATH)
HOST ?= 127.0.0.1
PORT ?= 8000
# API processes, each with its own listening socket on PORT (api/serve.py)
WORKERS ?= 2
# anvil mines one block per transaction and never reorgs; a PoA network wants more
INDEXER_CONFIRMATIONS ?= 1

.PHONY: zk system-deps setup compile node consortium database deploy run stop lint test test-contracts test-python bench soak soak-hosts audit clean

$(VENV)/.installed: requirements.txt requirements-nodeps.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools
	BROWNIE_LIB=1 $(BIN)/pip install -q --no-binary eth-brownie -r requirements.txt
	$(BIN)/pip install -q --no-deps -r requirements-nodeps.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

.venv-schemathesis/.installed: requirements-schemathesis.txt
	$(PYTHON) -m venv .venv-schemathesis
	.venv-schemathesis/bin/pip install -q -r requirements-schemathesis.txt
	touch $@

# The EPCIS event hash reference implementation, to check ours against (tests only)
.venv-epcis-ref/.installed: requirements-epcis-ref.txt
	$(PYTHON) -m venv .venv-epcis-ref
	.venv-epcis-ref/bin/pip install -q -r requirements-epcis-ref.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

.bin/anvil: node_modules/.installed
	mkdir -p .bin
	ln -sf ../node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil .bin/anvil

# Debian packages the tests look with: zbar decodes rendered QR codes, chromium renders the
# consumer page, Ghostscript rasterises label sheets as a printer would; PostgreSQL and Redis
# servers the tests start themselves (tests/python/conftest.py; root on CI machines); iproute2's `ip`
# makes the consortium's hosts (network namespaces: docs/consortium.md); Mosquitto is the devices'
# MQTT broker (TLS-PSK), mosquitto-clients its `mosquitto_pub` baseline
SYSTEM_PACKAGES := libzbar0 chromium ghostscript postgresql redis-server iproute2 mosquitto mosquitto-clients
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# the EPCIS hash path compiled with Cython into build/native (ledger/native.py; ~40 % more hash IDs a
# second); without a C compiler it says so and the same Python runs uncompiled
setup: $(VENV)/.installed node_modules/.installed .bin/anvil
	$(BIN)/python -m ledger.chain.toolchain
	$(BIN)/python -m ledger compile
	$(BIN)/python -m ledger.native

compile: setup

# the purchase circuit's proving artefacts (circom2, snarkjs) built once into build/zk, rebuilt when
# the circuit or the tools change; the powers-of-tau it makes on its first run (build/zk/ptau, a few
# minutes) is for DEVELOPMENT ONLY: a consortium uses a public ceremony's (LEDGER_ZK_PTAU, docs/zk.md)
zk: setup
	$(BIN)/python -m ledger.privacy.build

# DATABASE=postgres: a PostgreSQL of our own under the data dir (127.0.0.1:5433) instead of SQLite
DATABASE ?= sqlite
ifeq ($(DATABASE),postgres)
export LEDGER_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5433/postgres
endif

# geth 1.13.15 (Clique) for the consortium network, built once from the Go module proxy
.bin/geth: $(VENV)/.installed
	$(BIN)/python -m ledger.devnet.geth

# LEDGER_NETWORK=consortium: three validator nodes (geth Clique, 2 s blocks) instead of anvil,
# the API and the indexer failing over between them; its own manifest; 3 confirmations (Clique
# reorgs are 1-2 blocks deep)
# (its nodes, manifest, database and the operator's sealed keys are the defaults of every
# `ledger` command run with LEDGER_NETWORK=consortium: ledger/paths.py; ports: LEDGER_NETWORK_PORT)
export LEDGER_NETWORK ?= anvil
ifeq ($(LEDGER_NETWORK),consortium)
INDEXER_CONFIRMATIONS := $(or $(LEDGER_CONFIRMATIONS),3)
# each organisation's node votes validators in and out as executed governance proposals decide
FOLLOW_GOVERNANCE = $(BIN)/python -m ledger network follow-governance --follow >> $$data/validators.log 2>&1 & follower=$$!;
node: setup .bin/geth
	$(BIN)/python -m ledger network start
else
node: setup
	$(BIN)/python -m ledger node start
endif

# the consortium network, deployed, without the API (`LEDGER_NETWORK=consortium make run` serves it too)
consortium:
	$(MAKE) LEDGER_NETWORK=consortium deploy

database: setup
	@if [ "$(DATABASE)" = postgres ]; then $(BIN)/python -m ledger postgres start; fi

deploy: node database zk
	$(BIN)/python -m ledger deploy
	$(BIN)/python -m ledger zk deploy
	$(BIN)/python -m ledger migrate

# DEVICES=1: also the devices' Mosquitto broker (TLS-PSK) and the ingester (ledger/devices/serve.py)
DEVICES ?= 0
ifeq ($(DEVICES),1)
RUN_DEVICES = $(BIN)/python -m ledger.devices.serve >> $$data/devices.log 2>&1 & devices=$$!;
endif
run: deploy
	@echo "serving the API on http://$(HOST):$(PORT) (docs at /docs), indexing and the background loops"
	@echo "(ledger worker) beside it; the chain ($(LEDGER_NETWORK)) keeps running after Ctrl-C: 'make stop' ends it"
	@data=$${LEDGER_DATA_DIR:-.data}; \
	$(BIN)/python -m ledger index --follow --confirmations $(INDEXER_CONFIRMATIONS) >> $$data/indexer.log 2>&1 & \
	indexer=$$!; $(BIN)/python -m ledger worker >> $$data/worker.log 2>&1 & worker=$$!; \
	$(FOLLOW_GOVERNANCE) $(RUN_DEVICES) \
	LEDGER_BACKGROUND_IN_WEB=0 $(BIN)/python -m api.serve --host $(HOST) --port $(PORT) --workers $(WORKERS) & api=$$!; \
	echo $$api $$indexer $$worker $$follower $$devices > $$data/run.pids; \
	trap 'kill $$api $$indexer $$worker $$follower $$devices 2>/dev/null; rm -f "$$data/run.pids"' EXIT INT TERM; \
	wait $$api

# what a `make run` left running (in the background, or in another terminal) first: its API, indexer and
# worker, by the pids it wrote (each checked to be ours: a pid from before a reboot may be anyone's)
stop:
	@pids=$${LEDGER_DATA_DIR:-.data}/run.pids; if [ -f $$pids ]; then \
	  for p in $$(cat $$pids); do ps -p $$p -o args= | grep -q -e api.serve -e 'ledger' && kill $$p; done; \
	  rm -f $$pids; fi; true
	$(BIN)/python -m ledger node stop
	@if [ -f $${LEDGER_DATA_DIR:-.data}/network/network.json ]; then $(BIN)/python -m ledger network stop; fi
	@if [ -f $${LEDGER_DATA_DIR:-.data}/postgresql/data/postmaster.pid ]; then $(BIN)/python -m ledger postgres stop; fi

lint:
	$(BIN)/ruff check ledger api bench tests scripts tools
	$(BIN)/ruff format --check ledger api bench tests scripts tools

test: setup system-deps zk .bin/geth .venv-schemathesis/.installed .venv-epcis-ref/.installed lint test-contracts test-python

# brownie's confirmation wait once hung for good on a transaction anvil no longer held (seen once in
# a fresh-clone run, under heavy load; the rerun passed): a run that outlasts 15 minutes (they take
# 1-2) is stopped and run once more, saying so, rather than holding CI to its limit. Under heavy load
# (load average 15 on 2 cores) brownie also took anvil's answer "no such transaction", given while
# the transaction was being mined, for a dropped one ("Tx dropped without known replacement", two
# tests in one fresh-clone run, both passing alone): the failed tests, and only they, run once more,
# and only for that message; any other failure fails at once.
test-contracts:
	mkdir -p build/brownie
	@set -o pipefail; timeout 900 $(BIN)/python -m pytest tests/contracts 2>&1 | tee build/contract-tests.log; status=$$?; \
	if [ $$status -eq 124 ]; then \
	  echo "contract tests hung (brownie waiting on a transaction): running them once more"; \
	  pkill -f "anvil --quiet --port 8546" || true; \
	  $(BIN)/python -m pytest tests/contracts; \
	elif [ $$status -ne 0 ] && grep -q "Tx dropped without known replacement" build/contract-tests.log && \
	  ! grep -E "^(FAILED|ERROR) " build/contract-tests.log | grep -vq "Tx dropped without known replacement"; then \
	  echo "brownie took a transaction being mined for a dropped one: running the failed tests once more"; \
	  $(BIN)/python -m pytest tests/contracts --last-failed; \
	else exit $$status; fi

# LEDGER_REQUIRE_SERVERS: a PostgreSQL or Redis server that cannot be started fails, never skips.
# The modules run on TEST_WORKERS pytest-xdist processes, each module whole on one (its module
# fixtures, a network of nodes or a browser, made once; conftest.py starts the slowest first); each
# worker has its own anvil, deployment and servers. Most tests wait (on blocks, servers, windows),
# so 3 workers beat 2 on 2 cores. TEST_WORKERS=0: one process, as before.
TEST_WORKERS ?= 3
test-python:
	LEDGER_REQUIRE_SERVERS=1 $(BIN)/python -m pytest -p no:pytest-brownie -n $(TEST_WORKERS) \
	  $(if $(filter-out 0,$(TEST_WORKERS)),--dist loadfile --no-loadscope-reorder) tests/python

# wrk loads the resolver for the scan benchmark (a Python client on the same cores measured itself);
# the peers part runs GS1's reference hasher (.venv-epcis-ref) and OpenEPCIS's (Java, Maven); the
# consortium part runs geth validators on hosts of their own (network namespaces)
bench: setup system-deps .bin/geth .venv-epcis-ref/.installed build/openepcis/target/openepcis-peer-1.jar
	@dpkg -s wrk >/dev/null 2>&1 || { echo "installing wrk (apt)"; apt-get install -y -qq wrk >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }; }
	$(BIN)/python -m bench.run

build/openepcis/target/openepcis-peer-1.jar: bench/openepcis/pom.xml bench/openepcis/src/main/java/bench/PeerHash.java
	@command -v mvn >/dev/null && command -v javac >/dev/null || { echo "installing maven, openjdk-17 (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven openjdk-17-jdk-headless >/dev/null; }
	mvn -q -B -f bench/openepcis/pom.xml package

# a mixed load with injected faults (killed workers, indexer and anchorer, PostgreSQL restarted, the
# chain stopped, the data filesystem filled) for SOAK_SECONDS, then every acknowledged write checked
# (bench/soak); SOAK_SEED replays a run. The test suite runs a 60 s one (tests/python/test_soak.py).
SOAK_SECONDS ?= 600
soak: setup system-deps
	$(BIN)/python -m bench.soak --seconds $(SOAK_SECONDS) $(if $(SOAK_SEED),--seed $(SOAK_SEED)) --out build/soak.json

# the consortium's namespaced topology (root) with the platform's API on two hosts and PostgreSQL and
# Redis on a third: an API host SIGKILLed, PostgreSQL crashed and restarted, a validator SIGKILLed and
# the carrier partitioned while the consortium's load runs for SOAK_HOSTS_SECONDS; then lost and
# duplicated orders against the chain (bench/soak_hosts.py, figures in build/soak-hosts.json)
SOAK_HOSTS_SECONDS ?= 180
soak-hosts: setup system-deps
	$(BIN)/python -m bench.soak_hosts --seconds $(SOAK_HOSTS_SECONDS) --out build/soak-hosts.json

# known vulnerabilities in the pinned Python and npm dependencies. Needs PyPI's JSON API (or
# api.osv.dev) and the npm registry's advisory endpoint: neither answers on these build machines
# (the PyPI mirror serves packages only; npm's bulk advisory POST is refused), so CI cannot run it.
audit:
	@test -x .venv-audit/bin/pip-audit || { $(PYTHON) -m venv .venv-audit && .venv-audit/bin/pip install -q pip-audit; }
	.venv-audit/bin/pip-audit -r requirements.txt -r requirements-nodeps.txt --no-deps --progress-spinner off
	npm audit --omit=dev

clean:
	rm -rf build .bin .hypothesis .pytest_cache
