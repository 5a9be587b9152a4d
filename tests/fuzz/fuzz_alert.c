/* fuzz_alert.c: libFuzzer target for the alert rule and action group parsers,
 * the rule's JSON round trip, and the evaluator over a fixed set of series --
 * no input may crash, leak or trip a sanitizer. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "alert/eval.h"
#include "model/alert_rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void evaluate(const struct cmon_alert_rule *r)
{
    static const struct cmon_alert_sample samples[] = {{1000, 50}, {2000, 0}, {3000, 100}};
    const struct cmon_alert_series series[] = {
        {.dims = {"web", "tg", "a", "shop", "http", "Http"}, .agent = "a",
         .state = CMON_STATE_FAIL, .failed_pct = samples, .n_failed_pct = 3, .rtt_ms = samples,
         .n_rtt_ms = 2},
        {.dims = {"web", "tg", "b", "db", "tcp", "Tcp"}, .agent = "b", .agent_stopped = true,
         .state = CMON_STATE_INDETERMINATE},
        {.dims = {"x", "tg", "c", "db", "tcp", "Tcp"}, .agent = "c", .state = CMON_STATE_FAIL,
         .diagnostic = "socket_error"},
    };
    const struct cmon_alert_rule *rules[] = {r};
    struct cmon_alert_eval_in in = {.rules = rules, .n_rules = 1, .series = series,
                                    .n_series = 3, .now_ns = 3000};
    struct cmon_alert_eval_out a, b;
    if (cmon_alert_evaluate(&in, &a) != CMON_OK)
        return;
    in.prev = a.items;
    in.n_prev = a.n_items;
    in.prev_eval_ns = 3000;
    in.now_ns = 3000 + 3600LL * 1000000000LL;
    if (cmon_alert_evaluate(&in, &b) == CMON_OK)
        cmon_alert_eval_free(&b);
    cmon_alert_eval_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cmon_problems probs = {0};
    struct cmon_alert_rule *r = NULL;
    if (cmon_alert_rule_parse((const char *)data, size, &r, &probs) == CMON_OK) {
        json_t *j = cmon_alert_rule_to_json(r);
        struct cmon_alert_rule *r2 = NULL;
        struct cmon_problems p2 = {0};
        if (j && cmon_alert_rule_from_json(j, "", &r2, &p2) != CMON_OK)
            __builtin_trap(); /* what to_json writes must parse back */
        json_decref(j);
        cmon_alert_rule_free(r2);
        cmon_problems_free(&p2);
        evaluate(r);
    }
    cmon_problems_free(&probs);
    cmon_alert_rule_free(r);
    struct cmon_action_group *g = NULL;
    if (cmon_action_group_parse((const char *)data, size, &g, &probs) == CMON_OK)
        json_decref(cmon_action_group_to_json(g));
    cmon_problems_free(&probs);
    cmon_action_group_free(g);
    return 0;
}
