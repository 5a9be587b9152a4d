/* fuzz_result.c: libFuzzer target for the agent protocol's round result
 * decoder (what a remote agent sends the server). */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "model/result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (!j)
        return 0;
    struct cmon_round_result r;
    struct cmon_errbuf eb;
    if (cmon_round_from_json(j, &r, &eb) == CMON_OK) {
        json_t *back = cmon_round_to_json(&r);
        json_decref(back);
    }
    json_decref(j);
    return 0;
}
