# tend - top-level entry points.  The build itself is meson + ninja.
#
#   make deps     install missing build/test packages (Debian, apt-get)
#   make build    release-ish build in build/
#   make check    deps, -Werror build, ASan+UBSan build, every test
#   make demo     deps, build, plan/apply/plan of examples/ in a temp root
#   make fuzz     fuzz every parser of untrusted input (FUZZ_SECONDS=60 each)
#   make install  PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
ASAN_BUILD ?= build-asan
MESON_WERROR = -Dwerror=true

DEB_PACKAGES = gcc pkg-config meson ninja-build libyaml-dev libjansson-dev \
	libssl-dev libgit2-dev libcurl4-openssl-dev libcmocka-dev python3 procps \
	util-linux coreutils findutils passwd apt-utils dpkg-dev rpm dnf createrepo-c \
	systemd strace debootstrap libmicrohttpd-dev libsqlite3-dev sqlite3 git curl \
	libnats-dev nats-server libevent-dev

.PHONY: all deps build build-asan check test demo install clean bench fuzz

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "deps: need root to install:$$missing" >&2; exit 1; fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq >/dev/null && \
		apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX) $(MESON_WERROR) >/dev/null

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) $(MESON_WERROR) -Db_sanitize=address,undefined \
		-Db_lundef=false -Dc_args=-fno-sanitize-recover=all -Dbuildtype=debug >/dev/null

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

check: deps
	@$(MAKE) --no-print-directory build build-asan
	@tests/run-tests.sh $(BUILD) $(ASAN_BUILD)

test: build build-asan
	@tests/run-tests.sh $(BUILD) $(ASAN_BUILD)

demo: deps
	@$(MAKE) --no-print-directory build
	@examples/demo.sh $(BUILD)/src/tend/tend
	@examples/ssh-node/demo.sh $(BUILD)/src/tend/tend
	@examples/server/demo.sh $(BUILD)
	@examples/fleet/demo.sh $(BUILD)

bench: deps
	@bench/run.sh

fuzz: deps
	@fuzz/run.sh

install: build
	DESTDIR=$(DESTDIR) meson install -C $(BUILD) --no-rebuild

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
