# Porcelain over CMake/CTest. `make test` works on a fresh Debian bookworm machine:
# it installs what it needs (make deps), builds, and runs every suite.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the build and the tests need.
DEB_PACKAGES := build-essential cmake ninja-build pkg-config ccache git \
  libyaml-cpp-dev libcli11-dev libgit2-dev libcpp-httplib-dev libssl-dev libsqlite3-dev \
  nlohmann-json3-dev doctest-dev libqrencode-dev zlib1g-dev libboost-dev \
  iproute2 iptables wireguard-tools wireguard-go python3 python3-yaml time curl openssl gzip chromium zbar-tools \
  dpkg-dev lintian debootstrap systemd systemd-container busybox-static

.PHONY: all build deps configure test bench run demo package clean wwctl-bundle

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja

configure: $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: deps
	$(MAKE) build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

bench: deps
	$(MAKE) build
	$(BUILD_DIR)/tests/bench/schema_bench
	@# Needs root (namespaces, WireGuard, iptables); prints a SKIP line otherwise.
	bash tests/bench/agent_bench.sh $(BUILD_DIR)/cli/wwctl $(BUILD_DIR)/agent/wirewarp-agent
	$(BUILD_DIR)/tests/bench/controlplane_bench --reconciler $(BUILD_DIR)/reconciler/daemon/wirewarp-reconciler

# The reconciler with embedded defaults: SQLite and the CA in ./wirewarp-data, following
# examples/homelab of this checkout, the status page on http://127.0.0.1:8080/.
# Builds only the three programs it runs and the wwctl bundle it serves (not the tests).
# Variables: scripts/run.sh's header.
RUN_TARGETS := wirewarp-reconciler wirewarp-agent wwctl wwctl-bundle
run: deps
	$(MAKE) configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target $(RUN_TARGETS)
	bash scripts/run.sh $(BUILD_DIR)

# The whole fleet in network namespaces, following a local git repository (root; Ctrl-C ends it).
demo: deps
	$(MAKE) build
	$(SUDO) bash scripts/demo.sh $(BUILD_DIR)

# Debian packages of wirewarp-reconciler, wirewarp-agent and wwctl (this machine's architecture)
# from the Release build in $(BUILD_DIR), into $(BUILD_DIR)/debs. Builds only the three programs.
package: deps
	$(MAKE) configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target debs

# wwctl for CI runners: BUILD_DIR/artifacts/wwctl-linux-ARCH, one file with its libraries.
wwctl-bundle: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target wwctl-bundle

clean:
	rm -rf $(BUILD_DIR)
