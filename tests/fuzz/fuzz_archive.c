/* tests/fuzz: libFuzzer harness for the archive importer (target_archive.h):
 * layer import into a scratch store and rootfs extraction, with checks that
 * nothing is written outside the scratch directory. The process runs with
 * its cwd in SCRATCH/cwd so a relative write would be caught too. Built and
 * run by `make fuzz` (tests/fuzz/fuzz.mk). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/fuzz/target_archive.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_archive_ctx ctx;

static void cleanup(void)
{
	fuzz_archive_fini(&ctx);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (fuzz_archive_init(&ctx) < 0)
		abort();
	atexit(cleanup);
	/* libFuzzer has already resolved its own paths (corpus, artifacts)
	 * by now only if they are absolute: fuzz.mk passes absolute ones. */
	_cleanup_free_ char *cwd = xasprintf("%s/cwd", ctx.dir);
	if (chdir(cwd) < 0) {
		perror("fuzz: chdir");
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fuzz_archive_one(&ctx, data, size) == FUZZ_BUG)
		abort(); /* libFuzzer saves the input as a crash */
	return 0;
}
