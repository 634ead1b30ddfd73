# tests/fuzz/fuzz.mk: libFuzzer harnesses (included by the top Makefile).
#   make fuzz      build every harness and run each FUZZ_SECONDS (60) seconds
#   make fuzz-ci   the same for 10 seconds each (CI)
# The library is compiled a second time, with clang and the fuzzer and
# sanitizer instrumentation, into $(FUZZ_BUILD) (never the normal $(BUILD)).
# Each harness runs over $(FUZZ_BUILD)/corpus/<harness>, seeded from the
# checked-in tests/fuzz/seeds/<harness> and tests/fuzz/regress/<harness>;
# crashes land in $(FUZZ_BUILD)/artifacts/<harness>/ and fail the target.
FUZZ_CC       ?= clang
FUZZ_BUILD    ?= build-fuzz
FUZZ_SECONDS  ?= 60
FUZZ_HARNESSES := policy manifest archive oci pipeline
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all \
                 -fno-omit-frame-pointer
FUZZ_CFLAGS   := -std=gnu11 -O1 -g $(WARN) -D_GNU_SOURCE -I. $(PKG_CFLAGS) \
                 $(FUZZ_SAN)
# Library objects drop -Werror: a warning clang raises in code no harness
# exercises must not stop the fuzzers (the normal build enforces warnings).
FUZZ_LIB_CFLAGS := $(filter-out -Werror,$(FUZZ_CFLAGS)) -fsanitize=fuzzer-no-link
FUZZ_LIB_OBJ  := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o) \
                 $(LIB_ASM:%.S=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BINS     := $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz-build fuzz-ci

fuzz: $(FUZZ_BINS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh $(FUZZ_BUILD) \
	    $(FUZZ_HARNESSES)

fuzz-ci:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

fuzz-build: $(FUZZ_BINS)

# Library objects: coverage instrumentation without libFuzzer's main.
$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_LIB_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/obj/%.o: %.S
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -I. -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/obj/policy/profiles.o: $(wildcard policy/profiles/*.policy)

$(FUZZ_BUILD)/libwsbox-fuzz.a: $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/target_%.h \
                      tests/fuzz/fuzz_common.h $(FUZZ_BUILD)/libwsbox-fuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_BUILD)/libwsbox-fuzz.a $(PKG_LIBS)

# The archive target also uses the manifest checks.
$(FUZZ_BUILD)/fuzz_archive: tests/fuzz/target_manifest.h

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
