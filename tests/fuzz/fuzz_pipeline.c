/* tests/fuzz: libFuzzer harness for the pipeline file of `wsbox run`
 * (target_pipeline.h). Built and run by `make fuzz` (tests/fuzz/fuzz.mk). */
#include <stdint.h>
#include <stdlib.h>

#include "tests/fuzz/target_pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fuzz_pipeline_one(data, size) == FUZZ_BUG)
		abort(); /* libFuzzer saves the input as a crash */
	return 0;
}
