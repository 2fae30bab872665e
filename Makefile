# hookd's developer commands. `make` alone lists them; each target's `## `
# comment is its help line.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

GO      ?= go
BIN     := bin/hookd
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.Version=$(VERSION)
IMAGE   ?= hookd

# make run keeps a generated admin key here, so it stays the same across runs.
DEV_DIR      := .hookd
DEV_KEY_FILE := $(DEV_DIR)/dev-admin-key

# db/reset: the local server as the tests and the default HOOKD_DB_DSN use it.
PSQL         ?= psql -h 127.0.0.1 -U postgres -d postgres -X -q -v ON_ERROR_STOP=1
DEV_DB       ?= hookd
TEST_DB_LIKE ?= hookd\_test\_%
BENCH_DB_LIKE ?= hookd\_bench\_%

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help
help: ## Show this help
	@echo 'Usage: make <target>'
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_\/-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: build ## Build and run `hookd serve` on the local Postgres and Redis
	@if [ -z "$${HOOKD_ADMIN_API_KEY:-}" ]; then \
		if [ ! -s $(DEV_KEY_FILE) ]; then \
			mkdir -p $(DEV_DIR); \
			printf '*\n' > $(DEV_DIR)/.gitignore; \
			(umask 077; head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40 > $(DEV_KEY_FILE)); \
		fi; \
		HOOKD_ADMIN_API_KEY=$$(cat $(DEV_KEY_FILE)); \
		shown=$$HOOKD_ADMIN_API_KEY; \
		where="generated once, kept in $(DEV_KEY_FILE)"; \
	else \
		shown='$$HOOKD_ADMIN_API_KEY'; \
		where="from your environment"; \
	fi; \
	export HOOKD_ADMIN_API_KEY; \
	export HOOKD_WHITELIST_SUBNETS=$${HOOKD_WHITELIST_SUBNETS-127.0.0.0/8}; \
	addr=$${HOOKD_LISTEN_ADDRESS:-127.0.0.1:8071}; \
	case $$addr in :*) addr=127.0.0.1$$addr;; 0.0.0.0:*) addr=127.0.0.1:$${addr#0.0.0.0:};; esac; \
	url="http://$$addr"; \
	echo; \
	echo "  hookd (dev) on $$url"; \
	echo "  admin API key: $$shown ($$where)"; \
	echo; \
	echo "  curl -H \"Authorization: Bearer $$shown\" $$url/api/v1/app/"; \
	echo "  web console: $$url/  (sign in with the key)"; \
	echo "  deliveries may reach: $$HOOKD_WHITELIST_SUBNETS (HOOKD_WHITELIST_SUBNETS, for local receivers)"; \
	echo; \
	exec $(BIN) serve

.PHONY: build
build: ## Build bin/hookd
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/hookd

# bench: `hookd bench` starts its own `hookd serve` on a fresh hookd_bench_*
# database and queue unless BENCH_FLAGS has -url and -key; see
# `bin/hookd bench -h` for the flags (-scenarios, -messages, -concurrency, ...).
BENCH_FLAGS ?=

.PHONY: bench
bench: build ## Run hookd bench against a fresh local hookd (BENCH_FLAGS=... to pass flags)
	$(BIN) bench $(BENCH_FLAGS)

.PHONY: bench/go
bench/go: ## Run the Go benchmarks of the hot paths (signing, matching, store, delivery)
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/... ./worker/...

# go_test runs the test suite with extra flags $(1) and prints a summary of
# the packages; the exit status is go test's.
define go_test
	@log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	status=0; \
	$(GO) test -count=1 -p 4 -timeout 14m $(1) ./... 2>&1 | tee "$$log" || status=$$?; \
	passed=$$(grep -c '^ok ' "$$log" || true); \
	failed=$$(grep -c '^FAIL[[:space:]]' "$$log" || true); \
	notests=$$(grep -c '\[no test files\]$$' "$$log" || true); \
	echo; \
	echo "== summary ($$notests packages without tests)"; \
	grep -E '^(FAIL[[:space:]]|[[:space:]]*--- FAIL: )' "$$log" || true; \
	if [ "$$status" -ne 0 ] && [ "$$failed" -eq 0 ]; then echo "go test exited with status $$status"; fi; \
	echo "packages: $$passed passed, $$failed failed"; \
	exit $$status
endef

.PHONY: test
test: ## Run all tests (needs Postgres and Redis on 127.0.0.1)
	$(call go_test,)

.PHONY: test/race
test/race: ## Run all tests with the race detector
	$(call go_test,-race)

# The tests behind the cluster build tag start their own Redis Cluster and
# Sentinel processes (redis-server, redis-cli), a PostgreSQL primary and
# streaming replica (initdb, pg_basebackup), and run the real binary under
# faults, one at a time (about four minutes). Their names start with
# TestCluster, TestSentinel or TestManyProcesses; -run keeps the rest of the
# packages' tests, which make test runs, out.
.PHONY: test/cluster
test/cluster: ## Run the Redis Cluster, Sentinel, read replica and many-process tests (needs redis-server)
	$(GO) test -count=1 -tags cluster -p 1 -timeout 14m -v \
		-run '^Test(Cluster|Sentinel|ManyProcesses)' ./internal/redistest/ ./pkg/postgres/ ./cmd/hookd/

# The Go files to format and check: tracked and new ones, not ignored ones.
GO_FILES = $$(git ls-files -co --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*')

.PHONY: lint
lint: ## Check formatting (gofmt), go vet and staticcheck
	@unformatted=$$(gofmt -l $(GO_FILES)); \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files need formatting (run make fmt):"; \
		echo "$$unformatted" | sed 's/^/  /'; \
		exit 1; \
	fi
	$(GO) vet ./...
	$(GO) vet -tags cluster ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags cluster ./...

.PHONY: fmt
fmt: ## Format every Go file with gofmt
	@gofmt -l -w $(GO_FILES)

.PHONY: tidy
tidy: ## Tidy go.mod and go.sum
	$(GO) mod tidy

.PHONY: db/reset
db/reset: ## Drop the local hookd database and every hookd_test_* and hookd_bench_* database
	@dbs=$$($(PSQL) -At -c "SELECT datname FROM pg_database WHERE datname = '$(DEV_DB)' OR datname LIKE '$(TEST_DB_LIKE)' OR datname LIKE '$(BENCH_DB_LIKE)' ORDER BY 1"); \
	if [ -z "$$dbs" ]; then echo "nothing to drop"; exit 0; fi; \
	for db in $$dbs; do \
		echo "dropping $$db"; \
		$(PSQL) -c "DROP DATABASE IF EXISTS \"$$db\" WITH (FORCE)"; \
	done

.PHONY: docker/build
docker/build: ## Build the container image (hookd:<version> and hookd:latest)
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE):$(VERSION) -t $(IMAGE):latest .

.PHONY: clean
clean: ## Remove build output (bin/, dist/); keeps the dev key in .hookd/
	rm -rf bin dist
