/* fuzz_json.h: the entry point of fuzz targets whose input is one JSON
 * document (fuzz_agent_body, fuzz_result): the bytes are parsed with
 * jansson (input that is not JSON ends there), handed to the target's
 * fuzz_json_one(), and freed.  Include once, from the target's .c. */
#ifndef CMON_FUZZ_JSON_H
#define CMON_FUZZ_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The target's work on one parsed document; j stays owned by the caller. */
static void fuzz_json_one(json_t *j);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (!j)
        return 0;
    fuzz_json_one(j);
    json_decref(j);
    return 0;
}

#endif
