/* tests/fuzz: libFuzzer harness for the policy parser and compiler
 * (target_policy.h). Built and run by `make fuzz` (tests/fuzz/fuzz.mk). */
#include <stdint.h>
#include <stdlib.h>

#include "tests/fuzz/target_policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_policy_ctx ctx;

static void cleanup(void)
{
	fuzz_policy_fini(&ctx);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (fuzz_policy_init(&ctx) < 0)
		abort();
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int r = fuzz_policy_one(&ctx, data, size);
	if (r == FUZZ_BUG)
		abort(); /* libFuzzer saves the input as a crash */
	/* -1 keeps filtered inputs out of the corpus. */
	return r == FUZZ_SKIPPED ? -1 : 0;
}
