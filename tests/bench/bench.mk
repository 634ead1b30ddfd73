# tests/bench/bench.mk: the C helpers of `make bench` (tests/bench/README.md),
# included by the top Makefile. They link the same libwsbox.a as the binary,
# so they time the code wsbox runs. run.sh builds them itself (same flags)
# when it is called without make.
BENCH_TOOLS := $(BUILD)/bench/dag_bench $(BUILD)/bench/capture_bench

$(BUILD)/bench/%: tests/bench/%.c $(BUILD)/libwsbox.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libwsbox.a $(PKG_LIBS)

bench: $(BENCH_TOOLS)
