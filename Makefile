# Two commands on a fresh machine: `make run` (the whole system) and `make test` (every test).
SHELL := /bin/bash
.DEFAULT_GOAL := help
# uv reaches the package registry through the machine's CA bundle.
export UV_SYSTEM_CERTS := 1
UV := uv

.PHONY: help setup run test test-unit test-e2e test-faults test-cluster test-browser bench bench-keycloak lint format clean

help:
	@echo "make run    - install what is missing, start infrastructure + services, demo account"
	@echo "make test   - install what is missing, lint, run every test (unit, integration, e2e)"
	@echo "make test-faults - only the fault tests (Kafka/SMTP/PostgreSQL outages, kills; ~2-3 min)"
	@echo "make test-cluster - the cluster fault tests (Kafka brokers killed and rolled, services rolled, PostgreSQL failover; 15-25 min; not in make test)"
	@echo "make test-browser - the pages in Debian's Chromium; screenshots in artifacts/screenshots/"
	@echo "make bench  - the performance targets beside their references (~7 min; not in make test)"
	@echo "make bench-keycloak - the same reset and login work on Keycloak, same run (~10 min)"
	@echo "make lint   - ruff, mypy --strict, and the layering contracts (import-linter)"
	@echo "make clean  - remove local run state (.run/)"

setup:
	bash scripts/install-system-deps.sh
	bash scripts/install-go-tools.sh
	$(UV) sync --all-packages --frozen
	$(UV) run --frozen python -m devinfra fetch-kafka

run: setup
	$(UV) run --frozen python -m devinfra.run_local

lint:
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports --no-cache

format:
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

# The `cluster` tests (replicated infrastructure, rolling restarts) are left to `make test-cluster`,
# which .ci/run runs after this.
test: setup lint
	$(UV) run --frozen pytest -m "not cluster"

test-unit:
	$(UV) run --frozen pytest -m "not e2e and not integration and not faults and not cluster"

test-e2e:
	$(UV) run --frozen pytest tests/e2e

# Also part of `make test` (and so of .ci/run): pytest collects tests/faults with the rest.
test-faults: setup
	$(UV) run --frozen pytest tests/faults -m "not cluster"

# Not part of `make test` (.ci/run runs it after): three Kafka brokers, one killed under load,
# then all rolled one by one; each service rolled; PostgreSQL failed over (docs/delivery.md).
test-cluster: setup
	$(UV) run --frozen pytest -m cluster

test-browser:
	$(UV) run --frozen pytest tests/browser

# Not part of `make test`: it takes the whole machine for about 7 minutes (docs/benchmarks.md).
# wrk (Debian's package) drives the throughput runs; installed here when missing.
bench: setup
	@command -v wrk >/dev/null 2>&1 || { \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends wrk; }
	$(UV) run --frozen python -m bench.run

# Not part of `make test` either: Keycloak (its server zip, fetched by Maven once into the cache
# beside Kafka's jars) on the bench's PostgreSQL and SMTP sink, driven by the same load generator
# as the platform (docs/benchmarks.md, "Keycloak as the anchor"). Runs on the newest JDK found.
bench-keycloak: setup
	$(UV) run --frozen python -m bench.keycloak

clean:
	rm -rf .run
