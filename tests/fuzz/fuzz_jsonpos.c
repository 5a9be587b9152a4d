/* fuzz_jsonpos.c: libFuzzer target for the JSON position scanner on arbitrary
 * bytes (it must stop cleanly on anything, not only on valid JSON). */
#include <stddef.h>
#include <stdint.h>

#include "model/jsonpos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jpos_index idx;
    jpos_build((const char *)data, size, &idx);
    jpos_find(&idx, "testGroups[0].destinations[1]");
    jpos_free(&idx);
    return 0;
}
