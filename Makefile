# wsbox build. Every library is found with pkg-config; objects go to $(BUILD)
# so parallel builds (make BUILD=/tmp/x) never collide.
CC      ?= cc
BUILD   ?= build
# The binary; parallel builds set BIN=$(BUILD)/wsbox so they never share it.
BIN     ?= wsbox
PREFIX  ?= /usr/local
PKGS    := libseccomp libcap-ng libarchive libnl-3.0 libnl-route-3.0 libcrypto jansson yaml-0.1 libcurl
# stderr is dropped so a machine without pkg-config or the -dev packages gets
# one hint from need-deps, not a `pkg-config: not found` per line here.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libarchive is dlopen()ed by layers/archive_dl.c on first use, not linked:
# every `wsbox exec` would otherwise load it and its dozen dependencies.
# libcurl likewise (layers/curl_dl.c): only a remote needs it.
LINK_PKGS  := $(filter-out libarchive libcurl,$(PKGS))
# LINK=static (the default) links the archives Debian ships for these into
# the binary; LINK=shared their .so files. Static saves 2.5 ms of every
# process's start (libcrypto alone: ~2,000 symbol relocations bound at load)
# and most of its RSS; the price is a rebuild to pick up a security update
# of one of them (README "Building").
LINK       ?= static
ifeq ($(LINK),static)
LINK_L     := $(shell pkg-config --libs-only-l $(LINK_PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs-only-L $(LINK_PKGS) 2>/dev/null) \
              -Wl,-Bstatic $(LINK_L) -Wl,-Bdynamic \
              $(sort $(filter-out $(LINK_L),$(shell pkg-config --static --libs $(LINK_PKGS) 2>/dev/null)))
else
PKG_LIBS   := $(shell pkg-config --libs $(LINK_PKGS) 2>/dev/null)
endif
ARCHIVE_SONAME := $(shell objdump -p $$(pkg-config --variable=libdir libarchive 2>/dev/null)/libarchive.so 2>/dev/null | awk '/SONAME/ {print $$2}')
CURL_SONAME := $(shell objdump -p $$(pkg-config --variable=libdir libcurl 2>/dev/null)/libcurl.so 2>/dev/null | awk '/SONAME/ {print $$2}')

CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral \
           -Wstrict-prototypes -Wmissing-prototypes -Wvla
override CFLAGS += -std=gnu11 $(WARN) -D_GNU_SOURCE -I. $(PKG_CFLAGS) \
           -DWSBOX_LIBARCHIVE_SONAME='"$(or $(ARCHIVE_SONAME),libarchive.so.13)"' \
           -DWSBOX_LIBCURL_SONAME='"$(or $(CURL_SONAME),libcurl.so.4)"' \
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

.PHONY: all clean test check unit integration asan lint check-layering install uninstall \
	demo deps need-deps rootfs probe bench fuzz man deb check-fresh remote-drive

all: $(BIN)

$(BIN): $(BUILD)/sandbox/cli/main.o $(BUILD)/libwsbox.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/libwsbox.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c | need-deps
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

# The registry test driver (tests/integration/t_remote.sh runs it).
remote-drive: $(BUILD)/tests/remote_drive
$(BUILD)/tests/remote_drive: tests/remote/remote_drive.c $(BUILD)/libwsbox.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libwsbox.a $(PKG_LIBS)

# The in-sandbox probe is static so it runs on the minimal busybox rootfs.
probe: $(BUILD)/probe
$(BUILD)/probe: tests/probe/probe.c | need-deps
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
test: $(BIN) $(UNIT_BIN) $(BUILD)/tests/remote_drive rootfs
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

# `make asan`: `make test` under ASan+UBSan. ASAN_GOAL=unit (or
# integration, check T=...) runs that goal instead; check-fresh's fresh root
# runs the unit tests only, to prove the sanitizer runtimes install.
ASAN_GOAL ?= test
asan:
	$(MAKE) BUILD=build-asan BIN=build-asan/wsbox CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" $(ASAN_GOAL)

# The README's first command is `sh .ci/setup` (no make on a fresh Debian):
# install what .ci/packages lists and is missing, build, run the demo.
# `make deps` is its first stage only.
deps:
	@sh .ci/setup --deps

demo:
	@sh .ci/setup

# Every compile waits for this: without a compiler, pkg-config or the -dev
# packages, one hint instead of `cc: No such file` or a missing header.
need-deps:
	@miss=; command -v $(firstword $(CC)) >/dev/null 2>&1 || miss="$$miss $(firstword $(CC))"; \
	if command -v pkg-config >/dev/null 2>&1; then \
	    for p in $(PKGS); do pkg-config --exists $$p || miss="$$miss $$p"; done; \
	else miss="$$miss pkg-config"; fi; \
	if [ -n "$$miss" ]; then \
	    echo "wsbox: build dependencies missing:$$miss" >&2; \
	    echo "wsbox: run \`sh .ci/setup\` first (README \"Two commands\"): it installs .ci/packages" >&2; \
	    exit 1; \
	fi

# `make bench`: wsbox against bwrap, unshare, tar, cp, sha256sum (tests/bench/).
-include tests/bench/bench.mk
# The busybox rootfs is scenario 12's (strategies.sh): without it a fresh
# BUILD gave that scenario an empty root (`exec sh: No such file`).
bench: $(BIN) rootfs
	@WSBOX_BIN=$(abspath $(BIN)) sh tests/bench/run.sh $(BUILD)

# layers/ includes only itself and sandbox/util/; the kernel side never the
# store nor the verbs (tests/check-layering.sh).
check-layering:
	@sh tests/check-layering.sh

lint: check-layering
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	    --suppress=missingIncludeSystem -I. -D_GNU_SOURCE $(LIB_SRC) sandbox/cli/main.c

# `make install PREFIX=/usr DESTDIR=/tmp/x`; `make uninstall` removes exactly
# these files. The AppArmor profile (contrib/apparmor/wsbox, `userns,` for
# the installed binary) goes in only where AppArmor knows that rule
# (abi/4.0): AppArmor 3 (Debian 12) rejects it and would fail to load every
# profile at boot. WITH_APPARMOR=yes|no overrides the probe.
BINDIR       ?= $(PREFIX)/bin
MANDIR       ?= $(PREFIX)/share/man
DATADIR      ?= $(PREFIX)/share/wsbox
BASHCOMPDIR  ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR   ?= $(PREFIX)/share/zsh/$(if $(filter /usr,$(PREFIX)),vendor-completions,site-functions)
APPARMORDIR  ?= /etc/apparmor.d
WITH_APPARMOR ?= $(if $(wildcard $(APPARMORDIR)/abi/4.0),yes,no)
POLICIES     := $(notdir $(wildcard policy/profiles/*.policy))

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/wsbox
	install -D -m 0644 docs/man/wsbox.1 $(DESTDIR)$(MANDIR)/man1/wsbox.1
	install -D -m 0644 docs/man/wsbox-run.1 $(DESTDIR)$(MANDIR)/man1/wsbox-run.1
	install -D -m 0644 docs/man/wsbox.yml.5 $(DESTDIR)$(MANDIR)/man5/wsbox.yml.5
	install -D -m 0644 contrib/completion/wsbox.bash $(DESTDIR)$(BASHCOMPDIR)/wsbox
	install -D -m 0644 contrib/completion/_wsbox $(DESTDIR)$(ZSHCOMPDIR)/_wsbox
	install -d $(DESTDIR)$(DATADIR)/policy
	install -m 0644 $(POLICIES:%=policy/profiles/%) $(DESTDIR)$(DATADIR)/policy/
ifeq ($(WITH_APPARMOR),yes)
	install -d $(DESTDIR)$(APPARMORDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' contrib/apparmor/wsbox > $(DESTDIR)$(APPARMORDIR)/wsbox
	chmod 0644 $(DESTDIR)$(APPARMORDIR)/wsbox
	@if [ -z "$(DESTDIR)" ] && [ -d /sys/kernel/security/apparmor ] && command -v apparmor_parser >/dev/null; then \
	    apparmor_parser -r -W $(APPARMORDIR)/wsbox || echo "wsbox: loading $(APPARMORDIR)/wsbox failed (see above)" >&2; fi
endif

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/wsbox $(DESTDIR)$(MANDIR)/man1/wsbox.1 \
	    $(DESTDIR)$(MANDIR)/man1/wsbox-run.1 $(DESTDIR)$(MANDIR)/man5/wsbox.yml.5 \
	    $(DESTDIR)$(BASHCOMPDIR)/wsbox $(DESTDIR)$(ZSHCOMPDIR)/_wsbox \
	    $(POLICIES:%=$(DESTDIR)$(DATADIR)/policy/%)
	-rmdir $(DESTDIR)$(DATADIR)/policy $(DESTDIR)$(DATADIR) 2>/dev/null
	@if [ -f $(DESTDIR)$(APPARMORDIR)/wsbox ]; then \
	    if [ -z "$(DESTDIR)" ] && [ -d /sys/kernel/security/apparmor ] && command -v apparmor_parser >/dev/null; then \
	        apparmor_parser -R $(APPARMORDIR)/wsbox 2>/dev/null || :; fi; \
	    echo "rm -f $(DESTDIR)$(APPARMORDIR)/wsbox"; rm -f $(DESTDIR)$(APPARMORDIR)/wsbox; fi

# The man pages are plain roff; this renders each in the C locale (what a
# fresh machine has: no UTF-8 glyphs) and fails on any warning.
MAN_PAGES := docs/man/wsbox.1 docs/man/wsbox-run.1 docs/man/wsbox.yml.5
man:
	@for p in $(MAN_PAGES); do \
	    out=$$(LC_ALL=C MANWIDTH=80 man --warnings -l $$p 2>&1 >/dev/null); \
	    if [ -n "$$out" ]; then echo "$$p: $$out" >&2; exit 1; fi; \
	    echo "$$p: renders without warnings"; done

# `make deb`: a binary .deb in $(DEB_OUT) from contrib/debian/ (the top level
# has no debian/), built by dpkg-buildpackage in a copy of the tree, then
# checked by lintian (errors fail the target).
DEB_OUT  ?= $(BUILD)/deb
DEB_TREE := Makefile README.md sandbox layers init policy tests rootfs docs contrib .ci
deb:
	rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)/wsbox
	cp -a $(DEB_TREE) $(DEB_OUT)/wsbox/
	cp -a contrib/debian $(DEB_OUT)/wsbox/debian
	cd $(DEB_OUT)/wsbox && dpkg-buildpackage -us -uc -b
	lintian --fail-on error $(DEB_OUT)/wsbox_*.deb
	@ls $(DEB_OUT)/*.deb

# `make check-fresh`: the README's two commands in a fresh debootstrap'd
# Debian 12, as root, as a sudoer and as a plain user (.ci/check-fresh).
check-fresh:
	sh .ci/check-fresh

clean:
	rm -rf build build-asan build-fuzz wsbox

# `make fuzz`: libFuzzer harnesses (tests/fuzz/).
-include tests/fuzz/fuzz.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# .incbin inputs are invisible to -MMD: rebuild the embedded profiles when a
# profile changes.
$(BUILD)/policy/profiles.o: $(wildcard policy/profiles/*.policy)
