# wsbox build. Every library is found with pkg-config; objects go to $(BUILD)
# so parallel builds (make BUILD=/tmp/x) never collide.
CC      ?= cc
BUILD   ?= build
# The binary; parallel builds set BIN=$(BUILD)/wsbox so they never share it.
BIN     ?= wsbox
PREFIX  ?= /usr/local
PKGS    := libseccomp libcap-ng libarchive libnl-3.0 libnl-route-3.0 libcrypto jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
# libarchive is dlopen()ed by layers/archive_dl.c on first use, not linked:
# every `wsbox exec` would otherwise load it and its dozen dependencies.
LINK_PKGS  := $(filter-out libarchive,$(PKGS))
# LINK=static (the default) links the archives Debian ships for these into
# the binary; LINK=shared their .so files. Static saves 2.5 ms of every
# process's start (libcrypto alone: ~2,000 symbol relocations bound at load)
# and most of its RSS; the price is a rebuild to pick up a security update
# of one of them (README "Building").
LINK       ?= static
ifeq ($(LINK),static)
LINK_L     := $(shell pkg-config --libs-only-l $(LINK_PKGS))
PKG_LIBS   := $(shell pkg-config --libs-only-L $(LINK_PKGS)) \
              -Wl,-Bstatic $(LINK_L) -Wl,-Bdynamic \
              $(sort $(filter-out $(LINK_L),$(shell pkg-config --static --libs $(LINK_PKGS))))
else
PKG_LIBS   := $(shell pkg-config --libs $(LINK_PKGS))
endif
ARCHIVE_SONAME := $(shell objdump -p $$(pkg-config --variable=libdir libarchive)/libarchive.so 2>/dev/null | awk '/SONAME/ {print $$2}')

CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral \
           -Wstrict-prototypes -Wmissing-prototypes -Wvla
override CFLAGS += -std=gnu11 $(WARN) -D_GNU_SOURCE -I. $(PKG_CFLAGS) \
           -DWSBOX_LIBARCHIVE_SONAME='"$(or $(ARCHIVE_SONAME),libarchive.so.13)"' \
           -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE -MMD -MP
override LDFLAGS += -pie -Wl,-z,relro,-z,now
# `wsbox --version`: git describe in a checkout, else VERSION. The stamp
# changes only with the string, so main.o is rebuilt exactly then.
VERSION ?= 0.2.0
WSBOX_VERSION := $(or $(if $(wildcard .git),$(shell git describe --always --dirty 2>/dev/null)),$(VERSION))
$(BUILD)/version: FORCE
	@mkdir -p $(BUILD); echo '$(WSBOX_VERSION)' | cmp -s - $@ || echo '$(WSBOX_VERSION)' >$@
$(BUILD)/sandbox/cli/main.o: $(BUILD)/version
$(BUILD)/sandbox/cli/main.o: override CFLAGS += -DWSBOX_VERSION='"$(WSBOX_VERSION)"'
FORCE:

# One directory per part of the architecture (see README "Design").
LIB_SRC := $(sort $(wildcard sandbox/util/*.c sandbox/*.c sandbox/cli/*.c \
             sandbox/cli/doctor/*.c init/*.c policy/*.c layers/*.c))
LIB_SRC := $(filter-out sandbox/cli/main.c,$(LIB_SRC))
# Assembly stubs that .incbin data files (the shipped policy profiles) so the
# binary is self-contained.
LIB_ASM := $(sort $(wildcard policy/*.S))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(LIB_ASM:%.S=$(BUILD)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all clean test check unit integration asan lint check-layering install demo deps rootfs probe bench fuzz

all: $(BIN)

$(BIN): $(BUILD)/sandbox/cli/main.o $(BUILD)/libwsbox.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/libwsbox.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) -I. -MMD -MP -c -o $@ $<

# Unit tests share tests/unit/fixture.c (temporary store, tree builder,
# test selection).
UNIT_FIXTURE := $(BUILD)/tests/unit/fixture.o
$(BUILD)/tests/test_%: tests/unit/test_%.c $(UNIT_FIXTURE) $(BUILD)/libwsbox.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(UNIT_FIXTURE) $(BUILD)/libwsbox.a $(PKG_LIBS) $$(pkg-config --libs cmocka)

# The in-sandbox probe is static so it runs on the minimal busybox rootfs.
probe: $(BUILD)/probe
$(BUILD)/probe: tests/probe/probe.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -static -o $@ $<

rootfs: $(BUILD)/rootfs/.stamp
$(BUILD)/rootfs/.stamp: rootfs/build.sh $(BUILD)/probe
	sh rootfs/build.sh $(BUILD)/rootfs $(BUILD)/probe

unit: $(UNIT_BIN)
	@sh tests/unit/run.sh $(UNIT_BIN)

# The README's test command. Unit tests, then the integration and security
# suites against the real binary, as the current user and (when root) again
# as an unprivileged user.
test: $(BIN) $(UNIT_BIN) rootfs
	@WSBOX_BIN=$(abspath $(BIN)) sh tests/run.sh $(BUILD) $(UNIT_BIN)

# The integration and security suites only, as `make test` runs them (as
# root, then rootless).
integration: $(BIN) rootfs
	@WSBOX_BIN=$(abspath $(BIN)) sh tests/run.sh --no-unit $(BUILD)

# `make check T=NAME`: one suite (t_cache, test_store) or one test
# (t_cache:test_hit..., test_store:test_..., or a bare test name), as
# `make test` runs it; TEST_FILTER=REGEX narrows by "suite:test" name
# (tests/README.md).
check: $(BIN) $(UNIT_BIN) rootfs
	@WSBOX_BIN=$(abspath $(BIN)) T="$(T)" sh tests/run.sh $(BUILD) $(UNIT_BIN)

asan:
	$(MAKE) BUILD=build-asan BIN=build-asan/wsbox CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" test

# Install the build dependencies (Debian 12) when something is missing.
deps:
	@if ! pkg-config --exists $(PKGS) cmocka 2>/dev/null || [ ! -x /bin/busybox ]; then \
	    echo "installing build dependencies (sudo apt-get)"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$(cat .ci/packages); \
	fi

demo: deps
	@$(MAKE) --no-print-directory wsbox rootfs

	@sh tests/demo.sh $(BUILD)

# `make bench`: wsbox against bwrap, unshare, tar, cp, sha256sum (tests/bench/).
-include tests/bench/bench.mk
bench: $(BIN)
	@WSBOX_BIN=$(abspath $(BIN)) sh tests/bench/run.sh $(BUILD)

# layers/ includes only itself and sandbox/util/; the kernel side never the
# store nor the verbs (tests/check-layering.sh).
check-layering:
	@sh tests/check-layering.sh

lint: check-layering
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	    --suppress=missingIncludeSystem -I. -D_GNU_SOURCE $(LIB_SRC) sandbox/cli/main.c

install: wsbox
	install -D -m 0755 wsbox $(DESTDIR)$(PREFIX)/bin/wsbox
	install -d $(DESTDIR)$(PREFIX)/share/wsbox/policy
	install -m 0644 policy/profiles/*.policy $(DESTDIR)$(PREFIX)/share/wsbox/policy/

clean:
	rm -rf build build-asan build-fuzz wsbox

# `make fuzz`: libFuzzer harnesses (tests/fuzz/).
-include tests/fuzz/fuzz.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# .incbin inputs are invisible to -MMD: rebuild the embedded profiles when a
# profile changes.
$(BUILD)/policy/profiles.o: $(wildcard policy/profiles/*.policy)
