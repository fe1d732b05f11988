# Parley's front door. A newcomer on a fresh Debian machine runs `make run`
# or `make test`; both install what is missing first.

SHELL := /bin/bash
.DEFAULT_GOAL := help

GO         ?= go
BIN        := bin
ADDR       ?= 127.0.0.1:8787
SERVER_URL ?= http://$(ADDR)
STATICCHECK_VERSION := v0.8.2

# Debian packages the tests need: a real OS keyring in a D-Bus session.
APT_PACKAGES := gnome-keyring dbus libsecret-tools

# The keyring recipe from shared/PLATFORM.md: a private session bus with an
# unlocked gnome-keyring; dbus-run-session tears both down afterwards. The
# keyring files and sockets live in a throwaway dir, so tests never touch
# (or need the password of) the developer's own login keyring.
define in_keyring_session
tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && mkdir -m 0700 "$$tmp/run" "$$tmp/data" && \
XDG_DATA_HOME="$$tmp/data" XDG_RUNTIME_DIR="$$tmp/run" \
dbus-run-session -- sh -c 'printf parley-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && $(1)'
endef

.PHONY: help deps build run test test-go lint fmt-check bench bench-go bench-signal clean

help: ## List the targets.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

deps: ## Install missing Debian packages (apt only when something is missing).
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi
	@command -v $(GO) >/dev/null || { echo "Go is required: https://go.dev/doc/install (Go 1.26)"; exit 1; }

build: ## Build parley-signal and parley-cli into ./bin.
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/parley-signal ./signaling/cmd/parley-signal
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/parley-cli ./app/cmd/parley-cli

run: deps build ## Build and start a local signaling server (the desktop app joins it once it lands).
	@echo "parley-signal on $(SERVER_URL). In another terminal try:"
	@echo "  link=\$$($(BIN)/parley-cli --secret-store file --profile alice create --server $(SERVER_URL))"
	@echo "  $(BIN)/parley-cli --secret-store file --profile alice chat \"\$$link\"   # and the same with --profile bob"
	$(BIN)/parley-signal --addr $(ADDR)

test: deps fmt-check ## Install what is missing and run every test.
	$(GO) vet ./...
	$(call in_keyring_session,$(MAKE) --no-print-directory test-go)

# Runs inside the keyring session set up by `make test`.
test-go:
	$(GO) test -race -count=1 -timeout 20m ./...

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

lint: fmt-check ## gofmt, go vet and staticcheck.
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

bench: deps bench-go bench-signal ## Run the benchmarks (Go benchmarks, then whole-process load).

bench-go:
	$(call in_keyring_session,$(GO) test -run '^$$' -bench . -benchmem ./...)

bench-signal:
	./scripts/bench-signal.sh

clean: ## Remove build outputs.
	rm -rf $(BIN) build/bin
