/* fuzz_result.c: libFuzzer target for the agent protocol's round result
 * decoder (what a remote agent sends the server). */
#include "fuzz_json.h"
#include "model/result.h"

static void fuzz_json_one(json_t *j)
{
    struct cmon_round_result r;
    struct cmon_errbuf eb;
    if (cmon_round_from_json(j, &r, &eb) == CMON_OK) {
        json_t *back = cmon_round_to_json(&r);
        json_decref(back);
    }
}
