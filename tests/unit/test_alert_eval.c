/* test_alert_eval.c: the pure alert evaluator driven with explicit times --
 * every rule kind, window boundaries, aggregations, pending -> firing after N
 * evaluations, resolution, dedup, "*" fan-out, exact filters, suppression of
 * a stopped or locally broken agent, legacy metric names, evaluation
 * frequency, and the instance JSON round trip. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alert/eval.h"
#include "test_support.h"

#define SEC 1000000000LL
#define T0 (1700001000LL * SEC) /* a multiple of every evaluation frequency used */

/* The evaluator's running state across calls, as the server keeps it. */
struct world {
    struct cmon_alert_rule *rules[8];
    size_t n_rules;
    struct cmon_alert_series series[8];
    size_t n_series;
    struct cmon_alert_eval_out cur;
    int64_t last_ns;
};

static void add_rule(struct world *w, const char *json)
{
    struct cmon_problems probs = {0};
    struct cmon_alert_rule *r = NULL;
    if (cmon_alert_rule_parse(json, strlen(json), &r, &probs) != CMON_OK)
        fail_msg("rule: %s: %s", probs.items[0].path, probs.items[0].message);
    w->rules[w->n_rules++] = r;
}

static struct cmon_alert_series *add_series(struct world *w, const char *monitor,
                                            const char *group, const char *source,
                                            const char *dest, const char *config,
                                            const char *proto, const char *agent)
{
    struct cmon_alert_series *s = &w->series[w->n_series++];
    *s = (struct cmon_alert_series){.dims = {monitor, group, source, dest, config, proto},
                                    .agent = agent, .state = CMON_STATE_PASS};
    return s;
}

/* Evaluate at now; returns the number of transitions. */
static size_t eval_at(struct world *w, int64_t now)
{
    struct cmon_alert_eval_in in = {
        .rules = (const struct cmon_alert_rule *const *)w->rules, .n_rules = w->n_rules,
        .series = w->series, .n_series = w->n_series, .prev = w->cur.items,
        .n_prev = w->cur.n_items, .prev_eval_ns = w->last_ns, .now_ns = now};
    struct cmon_alert_eval_out out;
    assert_int_equal(cmon_alert_evaluate(&in, &out), CMON_OK);
    cmon_alert_eval_free(&w->cur);
    w->cur = out;
    w->last_ns = now;
    return out.n_transitions;
}

static const struct cmon_alert_instance *find(struct world *w, const char *key)
{
    long i = cmon_alert_eval_find(&w->cur, key);
    return i < 0 ? NULL : &w->cur.items[i];
}

static const struct cmon_alert_instance *transition(struct world *w, size_t i,
                                                    enum cmon_alert_transition_kind kind)
{
    assert_true(i < w->cur.n_transitions);
    assert_int_equal(w->cur.transitions[i].kind, kind);
    return &w->cur.items[w->cur.transitions[i].instance];
}

static void world_free(struct world *w)
{
    for (size_t i = 0; i < w->n_rules; i++)
        cmon_alert_rule_free(w->rules[i]);
    cmon_alert_eval_free(&w->cur);
}

#define LOSS_RULE_F(freq, extra)                                                              \
    "{\"name\": \"loss\", \"metric\": \"ChecksFailedPercent\", \"operator\": \"GreaterThan\", " \
    "\"threshold\": 10, \"windowSizeSec\": 300, \"evaluationFrequencySec\": " freq extra "}"
#define LOSS_RULE(extra) LOSS_RULE_F("60", extra)

static void test_window_boundaries(void **state)
{
    (void)state;
    struct world w = {0};
    add_rule(&w, LOSS_RULE(""));
    struct cmon_alert_series *s = add_series(&w, "web", "tg", "a", "shop", "http", "Http", "a");
    /* exactly one window old: out; at now: in; in the future: out */
    struct cmon_alert_sample samples[] = {{T0 - 300 * SEC, 100}, {T0, 20}, {T0 + SEC, 100}};
    s->failed_pct = samples;
    s->n_failed_pct = 3;
    assert_int_equal(eval_at(&w, T0), 1);
    const struct cmon_alert_instance *a = transition(&w, 0, CMON_ALERT_FIRED);
    assert_string_equal(a->key, "loss{}");
    assert_int_equal(a->state, CMON_ALERT_FIRING);
    assert_true(a->value == 20.0 && a->fired_value == 20.0);
    assert_int_equal(a->fired_ns, T0);
    assert_int_equal(a->pending_ns, T0);
    assert_string_equal(a->summary, "ChecksFailedPercent Average 20 > 10 (window 300s)");
    assert_int_equal(a->n_labels, 1);
    assert_string_equal(a->labels[0].name, "alertname");
    assert_string_equal(a->labels[0].value, "loss");
    /* a minute later the window still holds the sample at T0 */
    assert_int_equal(eval_at(&w, T0 + 60 * SEC), 0);
    assert_int_equal(find(&w, "loss{}")->state, CMON_ALERT_FIRING);
    /* 300 s after T0 the T0 sample is out; the T0+1 s sample (100) is in */
    assert_int_equal(eval_at(&w, T0 + 300 * SEC), 0);
    assert_true(find(&w, "loss{}")->value == 100.0);
    /* 301 s after: no data in the window, which is not a breach: resolved */
    assert_int_equal(eval_at(&w, T0 + 360 * SEC), 1);
    a = transition(&w, 0, CMON_ALERT_RESOLVED_NOW);
    assert_int_equal(a->state, CMON_ALERT_RESOLVED);
    assert_int_equal(a->resolved_ns, T0 + 360 * SEC);
    assert_int_equal(a->fired_ns, T0);
    assert_true(a->fired_value == 20.0);
    /* the resolved instance is history: not carried into the next call */
    assert_int_equal(eval_at(&w, T0 + 420 * SEC), 0);
    assert_int_equal(w.cur.n_items, 0);
    world_free(&w);
}

/* One series with samples 5, 15, 40; the rule's aggregation and operator. */
static double agg_value(const char *agg, const char *op, double threshold, bool *fired)
{
    struct world w = {0};
    char rule[512];
    snprintf(rule, sizeof rule,
             "{\"name\": \"r\", \"metric\": \"RoundTripTimeMs\", \"operator\": \"%s\", "
             "\"threshold\": %g, \"aggregation\": \"%s\"}",
             op, threshold, agg);
    add_rule(&w, rule);
    struct cmon_alert_series *s = add_series(&w, "m", "g", "a", "d", "c", "Tcp", "a");
    struct cmon_alert_sample samples[] = {{T0 - 10 * SEC, 15}, {T0 - 100 * SEC, 5}, {T0, 40}};
    s->rtt_ms = samples;
    s->n_rtt_ms = 3;
    eval_at(&w, T0);
    *fired = w.cur.n_transitions == 1;
    double v = w.cur.n_items ? w.cur.items[0].value : -1;
    world_free(&w);
    return v;
}

static void test_aggregations_and_operators(void **state)
{
    (void)state;
    bool fired;
    /* 20 > 20 is false: no instance at all */
    assert_true(agg_value("Average", "GreaterThan", 20, &fired) == -1);
    assert_false(fired);
    assert_true(agg_value("Average", "GreaterThanOrEqual", 20, &fired) == 20.0 && fired);
    assert_true(agg_value("Minimum", "LessThan", 5.5, &fired) == 5.0 && fired);
    assert_true(agg_value("Minimum", "LessThanOrEqual", 5, &fired) == 5.0 && fired);
    assert_true(agg_value("Maximum", "GreaterThan", 39, &fired) == 40.0 && fired);
    agg_value("Maximum", "LessThan", 40, &fired);
    assert_false(fired);
}

static void test_pending_then_firing_then_resolved(void **state)
{
    (void)state;
    struct world w = {0};
    add_rule(&w, LOSS_RULE(", \"forEvaluations\": 3, \"severity\": 1"));
    struct cmon_alert_series *s = add_series(&w, "web", "tg", "a", "shop", "http", "Http", "a");
    struct cmon_alert_sample bad[] = {{T0, 50}}, good[] = {{T0, 0}};
    s->failed_pct = bad;
    s->n_failed_pct = 1;
    assert_int_equal(eval_at(&w, T0), 0);
    assert_int_equal(find(&w, "loss{}")->state, CMON_ALERT_PENDING);
    assert_int_equal(find(&w, "loss{}")->breaches, 1);
    /* a healthy evaluation ends the pending episode silently */
    s->failed_pct = good;
    assert_int_equal(eval_at(&w, T0 + 60 * SEC), 0);
    assert_int_equal(w.cur.n_items, 0);
    s->failed_pct = bad;
    bad[0].t_ns = T0 + 120 * SEC;
    assert_int_equal(eval_at(&w, T0 + 120 * SEC), 0);
    assert_int_equal(eval_at(&w, T0 + 180 * SEC), 0);
    const struct cmon_alert_instance *a = find(&w, "loss{}");
    assert_int_equal(a->state, CMON_ALERT_PENDING);
    assert_int_equal(a->breaches, 2);
    assert_int_equal(a->pending_ns, T0 + 120 * SEC);
    assert_int_equal(eval_at(&w, T0 + 240 * SEC), 1);
    a = transition(&w, 0, CMON_ALERT_FIRED);
    assert_int_equal(a->state, CMON_ALERT_FIRING);
    assert_int_equal(a->severity, 1);
    assert_int_equal(a->pending_ns, T0 + 120 * SEC);
    assert_int_equal(a->fired_ns, T0 + 240 * SEC);
    /* still breaching: no new transition, one instance (dedup) */
    assert_int_equal(eval_at(&w, T0 + 300 * SEC), 0);
    assert_int_equal(w.cur.n_items, 1);
    assert_int_equal(find(&w, "loss{}")->breaches, 4);
    good[0].t_ns = T0 + 700 * SEC;
    s->failed_pct = good;
    assert_int_equal(eval_at(&w, T0 + 720 * SEC), 1);
    a = transition(&w, 0, CMON_ALERT_RESOLVED_NOW);
    assert_int_equal(a->resolved_ns, T0 + 720 * SEC);
    assert_true(a->value == 0.0);
    world_free(&w);
}

static void test_fan_out_and_filters(void **state)
{
    (void)state;
    struct world w = {0};
    add_rule(&w, LOSS_RULE(", \"dimensions\": {\"monitor\": \"web\", \"destination\": \"*\"}"));
    struct cmon_alert_sample bad[] = {{T0, 50}}, worse[] = {{T0, 100}}, good[] = {{T0, 0}};
    struct cmon_alert_series *s;
    s = add_series(&w, "web", "tg", "a", "shop", "http", "Http", "a");
    s->failed_pct = bad, s->n_failed_pct = 1;
    s = add_series(&w, "web", "tg", "b", "shop", "http", "Http", "b");
    s->failed_pct = good, s->n_failed_pct = 1;
    s = add_series(&w, "web", "tg", "a", "db", "tcp", "Tcp", "a");
    s->failed_pct = worse, s->n_failed_pct = 1;
    s = add_series(&w, "web", "tg", "a", "cache", "tcp", "Tcp", "a");
    s->failed_pct = good, s->n_failed_pct = 1;
    s = add_series(&w, "other", "tg", "a", "shop", "http", "Http", "a"); /* filtered out */
    s->failed_pct = worse, s->n_failed_pct = 1;
    assert_int_equal(eval_at(&w, T0), 2);
    /* shop: the two agents' samples combine: (50 + 0) / 2 = 25 */
    const struct cmon_alert_instance *shop = find(&w, "loss{monitor=\"web\",destination=\"shop\"}");
    const struct cmon_alert_instance *db = find(&w, "loss{monitor=\"web\",destination=\"db\"}");
    assert_non_null(shop);
    assert_non_null(db);
    assert_null(find(&w, "loss{monitor=\"web\",destination=\"cache\"}"));
    assert_int_equal(w.cur.n_items, 2);
    assert_true(shop->value == 25.0);
    assert_true(db->value == 100.0);
    assert_int_equal(db->n_labels, 3);
    assert_string_equal(db->labels[1].name, "monitor");
    assert_string_equal(db->labels[1].value, "web");
    assert_string_equal(db->labels[2].name, "destination");
    assert_string_equal(db->labels[2].value, "db");
    /* exact protocol filter: only the Tcp series */
    struct world w2 = {0};
    add_rule(&w2, LOSS_RULE(", \"dimensions\": {\"protocol\": \"Tcp\", \"source\": \"*\"}"));
    memcpy(w2.series, w.series, sizeof w.series);
    w2.n_series = w.n_series;
    assert_int_equal(eval_at(&w2, T0), 1);
    /* source a, Tcp: db (100) and cache (0) average 50 */
    const struct cmon_alert_instance *a = find(&w2, "loss{source=\"a\",protocol=\"Tcp\"}");
    assert_non_null(a);
    assert_true(a->value == 50.0);
    world_free(&w2);
    world_free(&w);
}

static void test_state_rules(void **state)
{
    (void)state;
    struct world w = {0};
    add_rule(&w, "{\"name\": \"t\", \"kind\": \"state\", \"scope\": \"test\", "
                 "\"dimensions\": {\"monitor\": \"web\"}}");
    add_rule(&w, "{\"name\": \"g\", \"kind\": \"state\", \"scope\": \"testGroup\", \"states\": "
                 "[\"Warning\", \"Fail\"], \"forEvaluations\": 2}");
    add_rule(&w, "{\"name\": \"m\", \"kind\": \"state\", \"scope\": \"monitor\", \"states\": "
                 "[\"Warning\"]}");
    struct cmon_alert_series *s1 = add_series(&w, "web", "tg1", "a", "shop", "http", "Http", "a");
    struct cmon_alert_series *s2 = add_series(&w, "web", "tg2", "a", "db", "tcp", "Tcp", "a");
    s1->state = CMON_STATE_FAIL;
    s2->state = CMON_STATE_WARNING;
    assert_int_equal(eval_at(&w, T0), 1);
    const struct cmon_alert_instance *a = transition(&w, 0, CMON_ALERT_FIRED);
    assert_string_equal(a->key, "t{monitor=\"web\",testGroup=\"tg1\",source=\"a\",destination="
                                "\"shop\",testConfiguration=\"http\",protocol=\"Http\"}");
    assert_true(a->value == CMON_STATE_FAIL);
    assert_string_equal(a->summary, "test state Fail");
    assert_int_equal(a->n_labels, 7);
    /* group rule pending (2 evaluations), both groups; monitor rolls up to Fail, not Warning */
    assert_int_equal(find(&w, "g{monitor=\"web\",testGroup=\"tg1\"}")->state, CMON_ALERT_PENDING);
    assert_int_equal(find(&w, "g{monitor=\"web\",testGroup=\"tg2\"}")->state, CMON_ALERT_PENDING);
    assert_null(find(&w, "m{monitor=\"web\"}"));
    /* s1 recovers: test alert resolves, tg1 pending ends, tg2 fires, monitor is Warning */
    s1->state = CMON_STATE_PASS;
    assert_int_equal(eval_at(&w, T0 + 60 * SEC), 3);
    assert_string_equal(transition(&w, 0, CMON_ALERT_RESOLVED_NOW)->rule, "t");
    a = transition(&w, 1, CMON_ALERT_FIRED);
    assert_string_equal(a->key, "g{monitor=\"web\",testGroup=\"tg2\"}");
    assert_true(a->value == CMON_STATE_WARNING);
    assert_string_equal(transition(&w, 2, CMON_ALERT_FIRED)->key, "m{monitor=\"web\"}");
    assert_null(find(&w, "g{monitor=\"web\",testGroup=\"tg1\"}"));
    world_free(&w);
}

static void test_suppression(void **state)
{
    (void)state;
    struct world w = {0};
    add_rule(&w, LOSS_RULE(", \"dimensions\": {\"destination\": \"*\"}, \"severity\": 3, "
                           "\"actionGroups\": [\"ops\"]"));
    add_rule(&w, "{\"name\": \"t\", \"kind\": \"state\", \"scope\": \"test\", \"severity\": 1, "
                 "\"actionGroups\": [\"pager\", \"ops\"], \"dimensions\": {\"source\": \"a\"}}");
    struct cmon_alert_sample bad[] = {{T0, 100}};
    struct cmon_alert_series *s;
    for (int i = 0; i < 2; i++) {
        s = add_series(&w, "web", "tg", "a", i ? "db" : "shop", "tcp", "Tcp", "agent-a");
        s->failed_pct = bad, s->n_failed_pct = 1;
        s->state = CMON_STATE_FAIL;
        s->diagnostic = i ? "permission_denied" : "socket_error";
    }
    /* a disabled group's test does not count against "every test" */
    s = add_series(&w, "web", "off", "a", "cache", "tcp", "Tcp", "agent-a");
    s->state = CMON_STATE_NOT_RUNNING;
    s = add_series(&w, "web", "tg", "b", "shop", "tcp", "Tcp", "agent-b");
    s->failed_pct = bad, s->n_failed_pct = 1;
    s->state = CMON_STATE_FAIL;
    s->diagnostic = "connection_refused";
    assert_int_equal(eval_at(&w, T0), 2);
    /* agent-a is left out: shop fires on agent-b alone; no alert for db, no test alert */
    const struct cmon_alert_instance *a = transition(&w, 0, CMON_ALERT_FIRED);
    assert_string_equal(a->key, "loss{destination=\"shop\"}");
    a = transition(&w, 1, CMON_ALERT_FIRED);
    assert_string_equal(a->key, "AgentUnavailable{agent=\"agent-a\"}");
    assert_string_equal(a->rule, CMON_ALERT_AGENT_RULE);
    assert_int_equal(a->severity, 1);
    assert_int_equal(a->n_action_groups, 2);
    assert_string_equal(a->action_groups[0], "ops");
    assert_string_equal(a->action_groups[1], "pager");
    assert_int_equal(a->n_labels, 2);
    assert_string_equal(a->labels[1].name, "agent");
    assert_string_equal(a->labels[1].value, "agent-a");
    assert_int_equal(a->n_monitors, 1);
    assert_string_equal(a->monitors[0], "web");
    assert_string_equal(a->summary, "agent agent-a cannot probe: every test fails with "
                                    "socket_error; alerts for its 3 tests are suppressed");
    assert_int_equal(w.cur.n_items, 2);
    /* agent-a stops instead: still one agent alert, no new transition */
    w.series[0].agent_stopped = w.series[1].agent_stopped = true;
    w.series[0].state = w.series[1].state = CMON_STATE_INDETERMINATE;
    assert_int_equal(eval_at(&w, T0 + 60 * SEC), 0);
    assert_string_equal(find(&w, "AgentUnavailable{agent=\"agent-a\"}")->summary,
                        "agent agent-a stopped; alerts for its 3 tests are suppressed");
    /* agent-a back, one test fails remotely: the agent alert resolves and its
     * destination alerts evaluate again */
    w.series[0].agent_stopped = w.series[1].agent_stopped = false;
    w.series[0].state = CMON_STATE_PASS;
    w.series[1].state = CMON_STATE_FAIL;
    w.series[1].diagnostic = "timeout";
    assert_int_equal(eval_at(&w, T0 + 120 * SEC), 3);
    assert_string_equal(transition(&w, 0, CMON_ALERT_FIRED)->key, "loss{destination=\"db\"}");
    assert_string_equal(transition(&w, 1, CMON_ALERT_FIRED)->rule, "t");
    assert_string_equal(transition(&w, 2, CMON_ALERT_RESOLVED_NOW)->key,
                        "AgentUnavailable{agent=\"agent-a\"}");
    world_free(&w);
}

static void test_only_suppressed_series_freeze_alert(void **state)
{
    (void)state;
    struct world w = {0};
    add_rule(&w, LOSS_RULE(""));
    struct cmon_alert_sample bad[] = {{T0, 100}};
    struct cmon_alert_series *s = add_series(&w, "web", "tg", "a", "shop", "tcp", "Tcp", "a");
    s->failed_pct = bad, s->n_failed_pct = 1;
    assert_int_equal(eval_at(&w, T0), 1);
    /* its only agent stops: the firing alert is neither resolved nor re-fired */
    s->agent_stopped = true;
    assert_int_equal(eval_at(&w, T0 + 60 * SEC), 1);
    assert_string_equal(transition(&w, 0, CMON_ALERT_FIRED)->rule, CMON_ALERT_AGENT_RULE);
    assert_int_equal(find(&w, "loss{}")->state, CMON_ALERT_FIRING);
    assert_int_equal(find(&w, "loss{}")->last_eval_ns, T0);
    world_free(&w);
}

static void test_legacy_names_match(void **state)
{
    (void)state;
    struct world w = {0};
    add_rule(&w, "{\"name\": \"new\", \"metric\": \"RoundTripTimeMs\", \"operator\": "
                 "\"GreaterThan\", \"threshold\": 100}");
    add_rule(&w, "{\"name\": \"old\", \"metric\": \"AverageRoundtripMs\", \"operator\": "
                 "\"GreaterThan\", \"threshold\": 100}");
    add_rule(&w, "{\"name\": \"oldloss\", \"metric\": \"ProbesFailedPercent\", \"operator\": "
                 "\"GreaterThan\", \"threshold\": 100}");
    struct cmon_alert_sample rtt[] = {{T0, 150}}, loss[] = {{T0, 0}};
    struct cmon_alert_series *s = add_series(&w, "m", "g", "a", "d", "c", "Icmp", "a");
    s->rtt_ms = rtt, s->n_rtt_ms = 1;
    s->failed_pct = loss, s->n_failed_pct = 1;
    for (int i = 0; i < 2; i++) {
        s = add_series(&w, i ? "m" : "a-mon", "g", "b", "d", "c", "Icmp", "b");
        s->rtt_ms = rtt, s->n_rtt_ms = 1;
    }
    assert_int_equal(eval_at(&w, T0), 2);
    assert_true(find(&w, "new{}")->value == 150.0);
    assert_int_equal(find(&w, "new{}")->n_monitors, 2); /* sorted, each once */
    assert_string_equal(find(&w, "new{}")->monitors[0], "a-mon");
    assert_string_equal(find(&w, "new{}")->monitors[1], "m");
    assert_true(find(&w, "old{}")->value == 150.0);
    assert_string_equal(find(&w, "old{}")->summary,
                        "RoundTripTimeMs Average 150 > 100 (window 300s)");
    world_free(&w);
}

static void test_frequency_and_removed_rules(void **state)
{
    (void)state;
    struct world w = {0};
    add_rule(&w, LOSS_RULE_F("300", ""));
    struct cmon_alert_sample bad[] = {{T0, 100}}, good[] = {{T0 + 100 * SEC, 0}};
    struct cmon_alert_series *s = add_series(&w, "web", "tg", "a", "shop", "tcp", "Tcp", "a");
    s->failed_pct = bad, s->n_failed_pct = 1;
    assert_int_equal(eval_at(&w, T0), 1);
    /* not due before T0 + 300 s: carried unchanged although the data is good */
    s->failed_pct = good;
    assert_int_equal(eval_at(&w, T0 + 100 * SEC), 0);
    assert_int_equal(eval_at(&w, T0 + 299 * SEC), 0);
    assert_int_equal(find(&w, "loss{}")->state, CMON_ALERT_FIRING);
    assert_int_equal(find(&w, "loss{}")->last_eval_ns, T0);
    assert_int_equal(eval_at(&w, T0 + 300 * SEC), 1);
    assert_int_equal(transition(&w, 0, CMON_ALERT_RESOLVED_NOW)->resolved_ns, T0 + 300 * SEC);
    /* fire again, then delete the rule: resolved */
    bad[0].t_ns = T0 + 550 * SEC;
    s->failed_pct = bad;
    assert_int_equal(eval_at(&w, T0 + 600 * SEC), 1);
    /* disabling the rule resolves its alert */
    w.rules[0]->enabled = false;
    assert_int_equal(eval_at(&w, T0 + 605 * SEC), 1);
    assert_int_equal(transition(&w, 0, CMON_ALERT_RESOLVED_NOW)->resolved_ns, T0 + 605 * SEC);
    /* enabled again: it fires again, as a new episode */
    w.rules[0]->enabled = true;
    assert_int_equal(eval_at(&w, T0 + 900 * SEC), 0); /* the bad sample left the window */
    bad[0].t_ns = T0 + 1150 * SEC;
    assert_int_equal(eval_at(&w, T0 + 1200 * SEC), 1);
    assert_int_equal(transition(&w, 0, CMON_ALERT_FIRED)->pending_ns, T0 + 1200 * SEC);
    /* deleting the rule resolves its alert too */
    cmon_alert_rule_free(w.rules[0]);
    w.n_rules = 0;
    assert_int_equal(eval_at(&w, T0 + 1210 * SEC), 1);
    assert_int_equal(transition(&w, 0, CMON_ALERT_RESOLVED_NOW)->resolved_ns, T0 + 1210 * SEC);
    world_free(&w);
}

static void test_instance_json_roundtrip(void **state)
{
    (void)state;
    struct world w = {0};
    add_rule(&w, LOSS_RULE(", \"dimensions\": {\"destination\": \"*\"}, \"actionGroups\": "
                           "[\"ops\"]"));
    struct cmon_alert_sample bad[] = {{T0, 40}};
    struct cmon_alert_series *s = add_series(&w, "web", "tg", "a", "sh\"op", "tcp", "Tcp", "a");
    s->failed_pct = bad, s->n_failed_pct = 1;
    eval_at(&w, T0);
    json_t *j = cmon_alert_instance_to_json(&w.cur.items[0]);
    char *text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(
        text, "{\"actionGroups\":[\"ops\"],\"breaches\":1,\"endsAt\":null,\"firedAt\":"
              "\"2023-11-14T22:30:00.000Z\",\"firedValue\":40.0,\"key\":"
              "\"loss{destination=\\\"sh\\\\\\\"op\\\"}\",\"labels\":{\"alertname\":\"loss\","
              "\"destination\":\"sh\\\"op\"},\"monitors\":[\"web\"],\"rule\":\"loss\",\"severity\":2,\"startsAt\":"
              "\"2023-11-14T22:30:00.000Z\",\"state\":\"firing\",\"summary\":"
              "\"ChecksFailedPercent Average 40 > 10 (window 300s)\",\"timesNs\":{\"fired\":"
              "1700001000000000000,\"lastEval\":1700001000000000000,\"pending\":"
              "1700001000000000000,\"resolved\":0},\"value\":40.0}");
    struct cmon_alert_instance back;
    assert_int_equal(cmon_alert_instance_from_json(j, &back), CMON_OK);
    json_t *j2 = cmon_alert_instance_to_json(&back);
    assert_true(json_equal(j, j2));
    /* the restored instance continues the episode */
    cmon_alert_eval_free(&w.cur);
    w.cur.items = &back;
    w.cur.n_items = 1;
    struct cmon_alert_eval_in in = {.rules = (const struct cmon_alert_rule *const *)w.rules,
                                    .n_rules = 1, .series = w.series, .n_series = 1,
                                    .prev = &back, .n_prev = 1, .prev_eval_ns = T0,
                                    .now_ns = T0 + 60 * SEC};
    struct cmon_alert_eval_out out;
    assert_int_equal(cmon_alert_evaluate(&in, &out), CMON_OK);
    assert_int_equal(out.n_transitions, 0);
    assert_int_equal(out.items[0].breaches, 2);
    cmon_alert_eval_free(&out);
    cmon_alert_instance_clear(&back);
    w.cur.items = NULL;
    w.cur.n_items = 0;
    json_decref(j2);
    json_decref(j);
    free(text);
    world_free(&w);
}

/* Many series: one alert per destination, each found again next time. */
static void test_many_series(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct cmon_alert_series *series = calloc(N, sizeof *series);
    char (*names)[16] = calloc(N, sizeof *names);
    struct cmon_alert_sample bad = {T0, 50};
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "d%zu", i / 2); /* two agents per destination */
        series[i] = (struct cmon_alert_series){
            .dims = {"web", "tg", i % 2 ? "a" : "b", names[i], "tcp", "Tcp"},
            .agent = i % 2 ? "a" : "b", .state = CMON_STATE_PASS, .failed_pct = &bad,
            .n_failed_pct = 1};
    }
    struct cmon_problems probs = {0};
    struct cmon_alert_rule *r = NULL;
    const char *text = LOSS_RULE(", \"forEvaluations\": 2, \"dimensions\": {\"destination\": \"*\"}");
    assert_int_equal(cmon_alert_rule_parse(text, strlen(text), &r, &probs), CMON_OK);
    const struct cmon_alert_rule *rules[] = {r};
    struct cmon_alert_eval_in in = {.rules = rules, .n_rules = 1, .series = series,
                                    .n_series = N, .now_ns = T0};
    struct cmon_alert_eval_out a, b;
    assert_int_equal(cmon_alert_evaluate(&in, &a), CMON_OK);
    assert_int_equal(a.n_items, N / 2);
    assert_int_equal(a.n_transitions, 0);
    in.prev = a.items;
    in.n_prev = a.n_items;
    in.prev_eval_ns = T0;
    in.now_ns = T0 + 60 * SEC;
    assert_int_equal(cmon_alert_evaluate(&in, &b), CMON_OK);
    assert_int_equal(b.n_items, N / 2);
    assert_int_equal(b.n_transitions, N / 2);
    for (size_t i = 0; i < b.n_items; i++) {
        assert_int_equal(b.items[i].state, CMON_ALERT_FIRING);
        assert_int_equal(b.items[i].pending_ns, T0);
    }
    assert_true(cmon_alert_eval_find(&b, "loss{destination=\"d2499\"}") >= 0);
    cmon_alert_eval_free(&a);
    cmon_alert_eval_free(&b);
    cmon_alert_rule_free(r);
    free(names);
    free(series);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_boundaries),
        cmocka_unit_test(test_aggregations_and_operators),
        cmocka_unit_test(test_pending_then_firing_then_resolved),
        cmocka_unit_test(test_fan_out_and_filters),
        cmocka_unit_test(test_state_rules),
        cmocka_unit_test(test_suppression),
        cmocka_unit_test(test_only_suppressed_series_freeze_alert),
        cmocka_unit_test(test_legacy_names_match),
        cmocka_unit_test(test_frequency_and_removed_rules),
        cmocka_unit_test(test_instance_json_roundtrip),
        cmocka_unit_test(test_many_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
