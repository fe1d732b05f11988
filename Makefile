# Parley's front door. A newcomer on a fresh Debian machine runs `make run`
# or `make test`; both install what is missing first.

SHELL := /bin/bash
.DEFAULT_GOAL := help

GO         ?= go
BIN        := bin
ADDR       ?= 127.0.0.1:8787
SERVER_URL ?= http://$(ADDR)
STATICCHECK_VERSION := v0.8.2
NFPM_VERSION        := v2.45.2

# The desktop app (Wails, no CLI needed): the UI is built into
# frontend/dist, then embedded by a cgo build against WebKitGTK 4.1.
APP_BIN   := build/bin/parley
APP_TAGS  := desktop,production,webkit2_41
PARLEY_VERSION ?= 0.1.0

# Debian packages. BUILD_APT_PACKAGES are what building needs (make run
# installs only these); TEST_APT_PACKAGES are the tests' own (make test,
# make bench): servers, browsers and a headless desktop a developer's
# machine should not get from make run.
# The desktop app's build (installed with their Recommends: WebKit's codecs) ...
BUILD_APT_PACKAGES := libgtk-3-dev libwebkit2gtk-4.1-dev pkg-config build-essential
# ... calls (VP8 via libvpx) ...
BUILD_APT_PACKAGES += libvpx-dev
# ... screen sharing: the X11 headers (libX11, libXext, libXfixes for the
# pointer and, for one window, libXcomposite are opened at run time, not
# linked: app/call/screen_x11.go) ...
BUILD_APT_PACKAGES += libx11-dev libxext-dev libxfixes-dev libxcomposite-dev
# ... and Wayland's: the PipeWire and RandR headers (libpipewire and
# libXrandr are opened at run time: app/call/screen_pipewire.go,
# screen_x11.go).
BUILD_APT_PACKAGES += libpipewire-0.3-dev libspa-0.2-dev libxrandr-dev

# The tests: a real OS keyring in a D-Bus session ...
TEST_APT_PACKAGES := gnome-keyring dbus libsecret-tools
# ... the real-window test (Xvfb, input, screenshots) and the UI's browser flows ...
TEST_APT_PACKAGES += xvfb xdotool imagemagick x11-apps chromium
# ... the GTK drag source that drops a file on the window (app/windowtest/testdata/dragsource.py) ...
TEST_APT_PACKAGES += python3-gi gir1.2-gtk-3.0
# ... the multi-node signaling tests (a real Redis) and the NAT test
# (namespaces, veth, masquerade) ...
TEST_APT_PACKAGES += redis-server iproute2 iptables
# ... screen sharing under a real window manager (frames, _NET_CLIENT_LIST) ...
TEST_APT_PACKAGES += openbox x11-utils
# ... and on a private headless Wayland desktop (internal/waylandtest),
# without their Recommends (a whole desktop's worth that no test uses).
TEST_APT_PACKAGES_BARE := sway swaybg pipewire wireplumber xdg-desktop-portal xdg-desktop-portal-wlr xwayland x11-xserver-utils

APT_PACKAGES := $(BUILD_APT_PACKAGES) $(TEST_APT_PACKAGES) $(TEST_APT_PACKAGES_BARE)

# The keyring recipe from shared/PLATFORM.md: a private session bus with an
# unlocked gnome-keyring; dbus-run-session tears both down afterwards. The
# keyring files and sockets live in a throwaway dir, so tests never touch
# (or need the password of) the developer's own login keyring.
define in_keyring_session
tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && mkdir -m 0700 "$$tmp/run" "$$tmp/data" && \
XDG_DATA_HOME="$$tmp/data" XDG_RUNTIME_DIR="$$tmp/run" \
dbus-run-session -- sh -c 'printf parley-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && $(1)'
endef

# need_apt installs the Debian packages $(1) that are missing (the tools
# of one target, not every test's), with apt-get's further options $(2).
define need_apt
missing=""; for p in $(1); do \
  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
done; \
if [ -n "$$missing" ]; then \
  echo "installing:$$missing"; SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $(2) $$missing; \
fi
endef

.PHONY: help deps deps-build check-toolchain build build-cli build-app frontend test-frontend run package test test-go test-window test-nat test-link lint fmt-check bench bench-go bench-signal bench-transfer bench-call bench-history bench-net clean

help: ## List the targets.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

deps: ## Install missing Debian packages, the tests' too (apt only when something is missing).
	@$(call need_apt,$(BUILD_APT_PACKAGES) $(TEST_APT_PACKAGES))
	@$(call need_apt,$(TEST_APT_PACKAGES_BARE),--no-install-recommends)
	@$(MAKE) --no-print-directory check-toolchain

deps-build: ## Install missing Debian packages that building needs (what make run installs).
	@$(call need_apt,$(BUILD_APT_PACKAGES))
	@$(MAKE) --no-print-directory check-toolchain

check-toolchain:
	@command -v $(GO) >/dev/null || { echo "Go is required: https://go.dev/doc/install (Go 1.26)"; exit 1; }
	@command -v npm >/dev/null || { echo "Node.js 20+ and npm are required for the UI: https://nodejs.org"; exit 1; }

build: build-cli build-app ## Build parley-signal and parley-cli into ./bin and the desktop app into build/bin/parley.

build-cli:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)/parley-signal ./signaling/cmd/parley-signal
	$(GO) build -trimpath -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)/parley-cli ./app/cmd/parley-cli

# The UI's packages, exactly as locked; reinstalled only when the lock file changes.
frontend/node_modules/.parley-stamp: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

# The UI, built by Vite into frontend/dist.
frontend: frontend/node_modules/.parley-stamp
	cd frontend && npm run build

# The UI's own tests: type check, vitest, then flows in Debian chromium
# against the fake backend.
test-frontend: frontend/node_modules/.parley-stamp
	cd frontend && npm run check && npm test && npm run test:e2e

# The .deb on a clean Debian 12 root (debootstrap): installed with apt-get,
# --version, the window under Xvfb, the parley:// handler, and a purge that
# leaves nothing (build/linux/test-package.sh). Root; about 5 min cold. The
# clean root and the downloaded .debs are cached in /var/cache/parley-ci
# (PARLEY_CI_CACHE), outside the checkout, for the next run.
PACKAGE_TEST_TOOLS := debootstrap zstd imagemagick
.PHONY: test-package vet-cross dist
test-package: package ## Install the .deb on a clean Debian root (debootstrap) and use it there (root, minutes).
	@[ "$$(id -u)" = 0 ] || { echo "test-package needs root (debootstrap, chroot): sudo make test-package"; exit 1; }
	@$(call need_apt,$(PACKAGE_TEST_TOOLS))
	SHOT=$(SHOT) build/linux/test-package.sh build/bin/parley_$(PARLEY_VERSION)_$$($(GO) env GOARCH).deb

# Release binaries into dist/ with SHA256SUMS: parley-signal (pure Go) for
# every server platform; parley-cli for Linux: amd64 with cgo (calls need
# libvpx/libopus), arm64 with cgo when Debian's arm64 cross toolchain and
# libvpx-dev:arm64 are installed (docs/platforms.md), otherwise without cgo
# (file name ..._nocalls: chat and files; calls answer ErrNoCodecs).
ARM64_PKGCONFIG := /usr/lib/aarch64-linux-gnu/pkgconfig
DIST       := dist
DIST_OSES  := linux darwin windows
DIST_ARCHS := amd64 arm64
dist: ## Build parley-signal for linux/darwin/windows x amd64/arm64 and parley-cli for linux into dist/, with SHA256SUMS.
	rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for os in $(DIST_OSES); do for arch in $(DIST_ARCHS); do \
	  ext=""; [ $$os = windows ] && ext=.exe; \
	  echo "parley-signal $$os/$$arch"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w $(VERSION_LDFLAGS)" \
	    -o $(DIST)/parley-signal_$(PARLEY_VERSION)_$${os}_$$arch$$ext ./signaling/cmd/parley-signal; \
	done; done
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags "-s -w $(VERSION_LDFLAGS)" \
	  -o $(DIST)/parley-cli_$(PARLEY_VERSION)_linux_amd64 ./app/cmd/parley-cli
	@if command -v aarch64-linux-gnu-gcc >/dev/null && PKG_CONFIG_LIBDIR=$(ARM64_PKGCONFIG) pkg-config --exists vpx; then \
	  echo "parley-cli linux/arm64 with cgo (calls)"; \
	  CC=aarch64-linux-gnu-gcc PKG_CONFIG_LIBDIR=$(ARM64_PKGCONFIG) CGO_ENABLED=1 GOOS=linux GOARCH=arm64 \
	    $(GO) build -trimpath -ldflags "-s -w $(VERSION_LDFLAGS)" -o $(DIST)/parley-cli_$(PARLEY_VERSION)_linux_arm64 ./app/cmd/parley-cli; \
	else \
	  echo "parley-cli linux/arm64 without cgo (no calls): see docs/platforms.md for the arm64 cross packages"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags "-s -w $(VERSION_LDFLAGS)" \
	    -o $(DIST)/parley-cli_$(PARLEY_VERSION)_linux_arm64_nocalls ./app/cmd/parley-cli; \
	fi
	cd $(DIST) && sha256sum parley-* > SHA256SUMS && sha256sum -c --quiet SHA256SUMS
	@ls -l $(DIST)

# The version and commit shown by --version and About ("-dirty" when the
# checkout has uncommitted changes).
PARLEY_COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell test -z "$$(git status --porcelain --untracked-files=no 2>/dev/null)" || echo -dirty)
VERSION_LDFLAGS := -X github.com/parley-chat/parley/internal/buildinfo.version=$(PARLEY_VERSION) -X github.com/parley-chat/parley/internal/buildinfo.commit=$(PARLEY_COMMIT)

build-app: frontend
	$(GO) build -tags $(APP_TAGS) -trimpath -ldflags "-w -s $(VERSION_LDFLAGS)" -o $(APP_BIN) .

run: deps-build build ## Build, start parley-signal on 127.0.0.1:8787 and open the desktop app on it (ARGS=... for its flags).
	@if (exec 3<>/dev/tcp/$(subst :,/,$(ADDR))) 2>/dev/null; then \
	  echo "Something already listens on $(ADDR) (an earlier make run?). Stop it, or pick another address: make run ADDR=127.0.0.1:8788"; exit 1; \
	fi; \
	$(BIN)/parley-signal --addr $(ADDR) --state-dir "$${XDG_STATE_HOME:-$$HOME/.local/state}/parley/make-run-signal" & sig=$$!; trap 'kill $$sig 2>/dev/null; wait $$sig 2>/dev/null' EXIT; \
	echo "parley-signal on $(SERVER_URL) (pid $$sig). A second person: $(BIN)/parley-cli --secret-store file --profile bob chat LINK"; \
	if [ -z "$$DBUS_SESSION_BUS_ADDRESS" ] && [ -z "$$PARLEY_SECRET_STORE" ]; then \
	  echo "No desktop session (D-Bus) here, so no OS keyring: keeping this run's keys in a 0600 file (profile make-run)."; \
	  export PARLEY_SECRET_STORE=file PARLEY_PROFILE=$${PARLEY_PROFILE:-make-run}; \
	fi; \
	PARLEY_SERVER=$(SERVER_URL) $(APP_BIN) $(ARGS)

# The desktop packages: .deb (Depends computed from the binary by
# dpkg-shlibdeps), .rpm (Fedora names) and Arch .pkg.tar.zst, from one nfpm
# config; check-packages.sh then fails when the binary links a library
# that a package does not declare.
NFPM := $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
PACKAGE_TOOLS := dpkg-dev binutils rpm zstd
package: build-app ## Build the desktop app's .deb, .rpm and Arch package into build/bin (nfpm), and check their dependencies.
	@$(call need_apt,$(PACKAGE_TOOLS))
	rm -f build/bin/parley_*.deb build/bin/parley-*.rpm build/bin/parley-*.pkg.tar.zst
	deps="$$(build/linux/debdepends.sh $(APP_BIN))" && \
	for p in deb rpm archlinux; do \
	  PARLEY_DEB_DEPENDS="$$deps" PARLEY_VERSION=$(PARLEY_VERSION) PARLEY_ARCH=$$($(GO) env GOARCH) \
	    $(NFPM) package --config build/nfpm.yaml --packager $$p --target build/bin/ || exit 1; \
	done
	build/linux/check-packages.sh $(APP_BIN) build/bin/parley_*.deb build/bin/parley-*.rpm build/bin/parley-*.pkg.tar.zst
	@ls -l build/bin/parley_*.deb build/bin/parley-*.rpm build/bin/parley-*.pkg.tar.zst

test: deps fmt-check build-app ## Install what is missing, build the app and run every test (incl. the UI in chromium and the real window under Xvfb).
	$(GO) vet ./...
	$(MAKE) --no-print-directory vet-cross
	$(MAKE) --no-print-directory test-frontend test-browser-real
	$(call in_keyring_session,$(MAKE) --no-print-directory test-go test-window)
	$(MAKE) --no-print-directory test-nat test-link

# Runs inside the keyring session set up by `make test`. app/call and
# app/e2e run afterwards, one package at a time (-p 1): their tests check
# real-time video (frames per second, freezes), which failed on 2 cores
# while other packages' tests ran beside them.
REALTIME_PKGS = ./app/call ./app/e2e
test-go:
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v -e '/app/call$$' -e '/app/e2e$$')
	$(GO) test -race -count=1 -timeout 15m -p 1 $(REALTIME_PKGS)
	cd third_party/pion-sctp && $(GO) test -race -count=1 ./...

# The real-window end-to-end test: needs $(APP_BIN) (fails loudly without it).
# SCREENSHOT=docs/screenshots/room.png also saves the window's picture there.
test-window:
	PARLEY_SCREENSHOT_OUT=$(if $(SCREENSHOT),$(abspath $(SCREENSHOT))) \
	  $(GO) test -tags windowtest -count=1 -timeout 5m -v ./app/windowtest

# Two peers behind separate NATs in network namespaces, the server on the
# "public" side: direct, relayed, and after a link drop. Needs root (ip netns,
# iptables), which `make test` has on a clean machine and in CI.
test-nat:
	@[ "$$(id -u)" = 0 ] || { echo "test-nat needs root (network namespaces); run: sudo make test-nat"; exit 1; }
	$(GO) test -tags nattest -count=1 -timeout 10m -v ./app/nattest

# Two parley-cli processes in namespaces joined by an emulated real link
# (internal/linkem): a transfer over a lossy link, one across a 10 s link
# drop, and both processes exiting promptly after verification. Needs root
# (ip netns, /dev/net/tun), like test-nat.
test-link:
	@[ "$$(id -u)" = 0 ] || { echo "test-link needs root (network namespaces, /dev/net/tun); run: sudo make test-link"; exit 1; }
	$(GO) test -tags linktest -count=1 -timeout 5m -v ./app/linktest

# The portable core: every package vets for Windows and macOS, and for Linux
# without cgo (what a cross-compile without a C toolchain gets: calls are
# stubbed, see app/call/media_nocgo.go). Left out, Linux by nature: the
# benchmark harnesses in scripts/ (getrusage, namespaces, linkem) and
# internal/netns (network namespaces for root-only tests).
VET_CROSS_PKGS = $$(GOOS=$$os $(GO) list ./... | grep -v -e '/scripts/' -e '/internal/netns$$')
.PHONY: vet-cross
vet-cross: ## go vet for GOOS=windows and darwin, and Linux without cgo.
	@set -e; for os in windows darwin linux; do \
	  echo "go vet GOOS=$$os CGO_ENABLED=0"; \
	  GOOS=$$os CGO_ENABLED=0 $(GO) vet $(VET_CROSS_PKGS); \
	done
	CGO_ENABLED=0 $(GO) test -count=1 -run NoCodecs ./app/call

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

lint: fmt-check ## gofmt, go vet and staticcheck.
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

bench: deps bench-go bench-signal bench-transfer bench-call bench-history ## Run the benchmarks (Go benchmarks, then whole-process signaling load, file transfer, calls and long histories).

bench-go:
	$(call in_keyring_session,$(GO) test -run '^$$' -bench . -benchmem ./...)

bench-signal:
	./scripts/bench-signal.sh

# A room with 100,000 messages: the store's page reads (Go, against reading
# the whole history); the UI opening it in chromium on the fake backend (time
# to the newest message painted, idle CPU, JS heap) against a 3-message room,
# same run; then on the real backend (wails dev browser mode, the profile
# seeded by scripts/seedhistory): time to the newest painted and idle CPU of
# the page and of the Go side against the home screen.
# LONG=N messages, RUNS=N alternating rounds.
bench-history: deps build-cli frontend/node_modules/.parley-stamp ## A room with 100,000 messages: page reads in Go, the UI opening it in chromium (fake and real backend).
	$(GO) test -run '^$$' -bench BenchmarkOpenLongRoom -benchtime 20x ./app/history/
	cd frontend && npm run build && node e2e/bench-history.mjs
	$(GO) build -o $(BIN)/seedhistory ./scripts/seedhistory
	@test -x $(WAILS_CLI) || GOBIN=$(abspath $(dir $(WAILS_CLI))) $(GO) install github.com/wailsapp/wails/v2/cmd/wails@v2.15.0
	PARLEY_E2E_LONG=$${LONG:-100000} WAILS=$(WAILS_CLI) node frontend/e2e-real/run.mjs

# 1 GiB between two parley-cli processes vs raw TCP in the same run (SIZE=bytes to change).
bench-transfer:
	./scripts/bench-transfer.sh

# Two parley-cli processes in a 640x480 and a 1280x720 synthetic video call:
# decoded fps, glass-to-glass latency, CPU per side vs the codec work alone.
bench-call:
	./scripts/bench-call.sh

# Parley vs croc over emulated real links between network namespaces (the
# table of issue #20), the shared-link row against one TCP CUBIC flow, and
# calls on weak links. Root only; about 15 minutes. RUNS=N rounds per link,
# ROWS=... to pick rows (scripts/bench-net.sh says which).
bench-net:
	@[ "$$(id -u)" = 0 ] || { echo "bench-net needs root (network namespaces, /dev/net/tun, sysctl); run: sudo make bench-net"; exit 1; }
	./scripts/bench-net.sh

clean: ## Remove build outputs.
	rm -rf $(BIN) build/bin

# The create/join/send flow against the real Go backend: `wails dev` in
# browser mode (on a private Xvfb display) driven by Debian's chromium, a real
# parley-signal, and parley-cli as the other person (frontend/e2e-real). Then
# the flows of frontend/e2e/flows.mjs listed in realBackendFlows, the same
# bodies the fake backend runs, on two real apps (wails dev's build, on the
# built UI in frontend/dist, rebuilt here when older than frontend/src).
# About 35 s + 10 s per shared flow warm; the first dev build (cgo,
# unoptimised) takes 1-3 min.
WAILS_CLI ?= $(HOME)/go/bin/wails
.PHONY: test-browser-real
test-browser-real: deps build-cli frontend/node_modules/.parley-stamp ## The UI on the real Go backend (wails dev + chromium + parley-cli), and the shared flows on two real apps.
	@test -x $(WAILS_CLI) || GOBIN=$(abspath $(dir $(WAILS_CLI))) $(GO) install github.com/wailsapp/wails/v2/cmd/wails@v2.15.0
	@[ -f frontend/dist/index.html ] && [ -z "$$(find frontend/src frontend/index.html -newer frontend/dist/index.html -print -quit)" ] || $(MAKE) --no-print-directory frontend
	WAILS=$(WAILS_CLI) node frontend/e2e-real/run.mjs
