/* fuzz_agent_body.c: libFuzzer target for the agent protocol's body decoders
 * (model/agent_body.h): one input is tried as a results batch (rounds and
 * paths), a registration and a heartbeat, as the server's handlers would. */
#include "fuzz_json.h"
#include "model/agent_body.h"

static void fuzz_json_one(json_t *j)
{
    struct cmon_agent_err e;
    struct cmon_agent_batch b;
    if (cmon_agent_batch_decode(j, &b, &e) == CMON_OK) {
        for (size_t i = 0; i < b.n_results; i++)
            json_decref(cmon_round_to_json(&b.results[i]));
        cmon_agent_batch_free(&b);
    }
    struct cmon_agent_facts f;
    cmon_agent_register_decode(j, &f, &e);
    cmon_agent_facts_free(&f);
    cmon_agent_heartbeat_decode(j, &f, &e);
    cmon_agent_facts_free(&f);
}
