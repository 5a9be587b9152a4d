/* test_server_alerts.c: the server's alert wiring over a real store (SQLite,
 * or PostgreSQL with CMON_TEST_STORE_URL: see test_store_url.h) --
 * the series snapshot (split per agent, window, stopped agents) and
 * server_alerts_tick driven with explicit times: fire, restore after a
 * restart without re-firing, resolve when the window empties, resolve when
 * the rule is deleted, state rules from stored test states, and an agent
 * that cannot probe raising one AgentUnavailable alert instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "server/alerts.h"
#include "store/store.h"
#include "test_store_url.h"
#include "test_support.h"
#include "test_alert_rows.h"

#define T0 1767323040000000000LL /* 2026-01-02T03:04:00Z, a minute boundary */
#define SEC CMON_NS_PER_SEC
#define ID1 "aaaaaaaaaaaaaaa1"
#define ID2 "aaaaaaaaaaaaaaa2"

struct fixture {
    char dir[64];
    struct store *s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char url[256];
    assert_int_equal(
        test_store_url("/tmp/cmon-salerts-XXXXXX", f->dir, sizeof f->dir, url, sizeof url), 0);
    struct cmon_errbuf eb;
    if (store_open(url, STORE_READ_WRITE, &f->s, &eb))
        fail_msg("store_open: %s", eb.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    assert_int_equal(test_rm_rf(f->dir), 0);
    free(f);
    return 0;
}

static struct store_test make_test(const char *id, int number, const char *dst)
{
    return (struct store_test){.id = id,
                               .number = number,
                               .group = "wan",
                               .source = "a",
                               .source_address = "agent-a",
                               .source_type = "Agent",
                               .destination = dst,
                               .destination_address = "198.18.1.2",
                               .destination_type = "ExternalAddress",
                               .config = "ping",
                               .protocol = CMON_PROTO_ICMP,
                               .target = "198.18.1.2",
                               .frequency_sec = 30};
}

static void put_monitor(struct store *s)
{
    struct store_test t[2] = {make_test(ID1, 1, "router"), make_test(ID2, 2, "dns")};
    struct cmon_errbuf eb;
    assert_int_equal(
        s->ops->monitor_put(s, "edge", "{}", t, 2, NULL, 0, T0 - 3600 * SEC, NULL, &eb), CMON_OK);
}

static void add_round(struct store *s, const char *id, const char *agent, int64_t t, int failed)
{
    struct store_result r = {.agent = agent};
    snprintf(r.r.test_id, sizeof r.r.test_id, "%s", id);
    r.r.start_ns = t;
    r.r.checks_total = 10;
    r.r.checks_failed = (uint32_t)failed;
    r.r.has_rtt = failed < 10;
    r.r.rtt_min_ms = r.r.rtt_avg_ms = r.r.rtt_max_ms = 5;
    struct cmon_errbuf eb;
    assert_int_equal(s->ops->tx_begin(s, &eb), CMON_OK);
    assert_int_equal(s->ops->ingest_result(s, &r, &eb), CMON_OK);
    assert_int_equal(s->ops->tx_commit(s, &eb), CMON_OK);
}

static void put_rule(struct store *s, const char *json)
{
    struct cmon_errbuf eb;
    assert_int_equal(test_rule_put(s, json, NULL, NULL, &eb), CMON_OK);
}

static json_t *query(struct store *s, const char *state, const char *rule, const char *monitor)
{
    struct store_alert_filter f = {state, rule, monitor};
    json_t *out = NULL;
    bool more = false;
    struct cmon_errbuf eb;
    assert_int_equal(s->ops->alert_query(s, &f, 0, 100, &out, &more, &eb), CMON_OK);
    assert_false(more);
    return out;
}

static const char *str(const json_t *j, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(j, i), key));
}

static const struct cmon_alert_series *find_series(const struct alert_snapshot *sn, const char *dst,
                                                   const char *agent)
{
    for (size_t i = 0; i < sn->n; i++) {
        if (strcmp(sn->series[i].dims[CMON_DIM_DESTINATION], dst) == 0 &&
            strcmp(sn->series[i].agent, agent) == 0)
            return &sn->series[i];
    }
    fail_msg("no series %s/%s", dst, agent);
    return NULL;
}

static void snapshot_per_agent(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    put_monitor(s);
    add_round(s, ID1, "agent-a", T0 - 90 * SEC, 10); /* outside the 60 s window */
    add_round(s, ID1, "agent-a", T0 - 30 * SEC, 2);
    add_round(s, ID1, "agent-a", T0, 10);
    add_round(s, ID1, "agent-b", T0 - 10 * SEC, 5);
    /* both registered with 10 s heartbeats: a was heard from just now, b's
     * last contact is 31 s old (> 3 heartbeats: stopped, as the agents API
     * and the test states say) */
    int64_t seq;
    assert_int_equal(
        s->ops->agent_register(s, "agent-a", "aa", "1", "[]", "", 10, T0 - 200 * SEC, &seq, &eb),
        CMON_OK);
    assert_int_equal(
        s->ops->agent_register(s, "agent-b", "bb", "1", "[]", "", 10, T0 - 200 * SEC, &seq, &eb),
        CMON_OK);
    assert_int_equal(s->ops->agent_seen(s, "agent-a", T0, &eb), CMON_OK);
    assert_int_equal(s->ops->agent_seen(s, "agent-b", T0 - 31 * SEC, &eb), CMON_OK);
    struct alert_snapshot sn;
    assert_int_equal(alert_snapshot_build(s, NULL, T0, 60 * SEC, &sn, &eb), CMON_OK);
    assert_int_equal(sn.n, 3);
    const struct cmon_alert_series *a = find_series(&sn, "router", "agent-a");
    assert_int_equal(a->n_failed_pct, 2);
    assert_int_equal(a->n_rtt_ms, 1); /* the 100 % round has no RTT */
    assert_string_equal(a->dims[CMON_DIM_MONITOR], "edge");
    assert_string_equal(a->dims[CMON_DIM_PROTOCOL], "Icmp");
    assert_false(a->agent_stopped);
    const struct cmon_alert_series *b = find_series(&sn, "router", "agent-b");
    assert_int_equal(b->n_failed_pct, 1);
    assert_true(b->failed_pct[0].value == 50.0);
    assert_true(b->agent_stopped);
    const struct cmon_alert_series *d = find_series(&sn, "dns", "agent-a");
    assert_int_equal(d->n_failed_pct, 0); /* no results: under its source's address */
    assert_false(d->agent_stopped);
    alert_snapshot_free(&sn);
}

#define LOSS_RULE                                                                                  \
    "{\"name\":\"loss\",\"metric\":\"ChecksFailedPercent\",\"operator\":\"GreaterThan\","          \
    "\"threshold\":40,\"windowSizeSec\":60,\"evaluationFrequencySec\":10,"                         \
    "\"dimensions\":{\"destination\":\"*\"}}"

static size_t n_transitions(struct store *s, const char *key)
{
    json_t *h = NULL;
    struct cmon_errbuf eb;
    assert_int_equal(s->ops->alert_transitions(s, key, &h, &eb), CMON_OK);
    size_t n = json_array_size(h);
    json_decref(h);
    return n;
}

static void expect_alerts(struct store *s, const char *state, size_t n)
{
    json_t *q = query(s, state, NULL, NULL);
    assert_int_equal(json_array_size(q), n);
    json_decref(q);
}

static struct server_alerts *start(void)
{
    struct server_alerts *a = NULL;
    struct cmon_errbuf eb;
    assert_int_equal(server_alerts_start(NULL, 0, true, NULL, NULL, &a, &eb), CMON_OK);
    return a;
}

static void tick_fire_restore_resolve(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    put_monitor(s);
    put_rule(s, LOSS_RULE);
    add_round(s, ID1, "agent-a", T0, 8);
    struct server_alerts *a = start();
    server_alerts_tick(a, s, T0 + SEC);
    expect_alerts(s, "firing", 1);
    json_t *q = query(s, "firing", "loss", "edge");
    assert_string_equal(str(q, 0, "key"), "loss{destination=\"router\"}");
    assert_string_equal(str(q, 0, "summary"), "ChecksFailedPercent Average 80 > 40 (window 60s)");
    json_decref(q);
    server_alerts_stop(a);

    /* a restart: restored, still firing, not fired again */
    a = start();
    server_alerts_tick(a, s, T0 + 11 * SEC);
    expect_alerts(s, "firing", 1);
    assert_int_equal(n_transitions(s, "loss{destination=\"router\"}"), 1);
    /* forgetting (a regained leadership) restores from the store again */
    server_alerts_forget(a);
    server_alerts_tick(a, s, T0 + 21 * SEC);
    expect_alerts(s, "firing", 1);
    assert_int_equal(n_transitions(s, "loss{destination=\"router\"}"), 1);
    /* the sample leaves the window (T0 + 60 s is out): resolved */
    server_alerts_tick(a, s, T0 + 55 * SEC);
    expect_alerts(s, "firing", 1);
    server_alerts_tick(a, s, T0 + 61 * SEC);
    expect_alerts(s, "firing", 0);
    expect_alerts(s, "resolved", 1);
    assert_int_equal(n_transitions(s, "loss{destination=\"router\"}"), 2);
    /* a new breach is a new episode; the old one stays history */
    add_round(s, ID1, "agent-a", T0 + 65 * SEC, 10);
    server_alerts_tick(a, s, T0 + 71 * SEC);
    expect_alerts(s, "firing", 1);
    expect_alerts(s, "resolved", 1);
    server_alerts_stop(a);
}

static void tick_rule_deleted_resolves(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    put_monitor(s);
    put_rule(s, LOSS_RULE);
    add_round(s, ID1, "agent-a", T0, 8);
    struct server_alerts *a = start();
    server_alerts_tick(a, s, T0 + SEC);
    expect_alerts(s, "firing", 1);
    assert_int_equal(s->ops->alert_rule_delete(s, "loss", &eb), CMON_OK);
    server_alerts_tick(a, s, T0 + 2 * SEC); /* not a due time: resolved anyway */
    expect_alerts(s, "firing", 0);
    expect_alerts(s, "resolved", 1);
    server_alerts_stop(a);
}

static void tick_state_rule(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    put_monitor(s);
    put_rule(s, "{\"name\":\"failing\",\"kind\":\"state\",\"scope\":\"test\",\"states\":[\"Fail\"],"
                "\"forEvaluations\":2,\"evaluationFrequencySec\":10}");
    bool changed;
    assert_int_equal(s->ops->test_set_state(s, ID2, CMON_STATE_FAIL, "ChecksFailedPercent 100 > 5",
                                            T0, &changed, &eb),
                     CMON_OK);
    struct server_alerts *a = start();
    server_alerts_tick(a, s, T0 + SEC);
    expect_alerts(s, "pending", 1);
    expect_alerts(s, "firing", 0);
    server_alerts_tick(a, s, T0 + 5 * SEC); /* not due: unchanged */
    expect_alerts(s, "pending", 1);
    server_alerts_tick(a, s, T0 + 11 * SEC);
    expect_alerts(s, "firing", 1);
    json_t *q = query(s, "firing", "failing", NULL);
    assert_string_equal(str(q, 0, "summary"), "test state Fail");
    json_decref(q);
    assert_int_equal(
        s->ops->test_set_state(s, ID2, CMON_STATE_PASS, "", T0 + 12 * SEC, &changed, &eb), CMON_OK);
    server_alerts_tick(a, s, T0 + 21 * SEC);
    expect_alerts(s, "resolved", 1);
    server_alerts_stop(a);
}

/* Every test of agent-a fails with a local diagnostic: its destinations'
 * alerts are suppressed and one AgentUnavailable alert names the agent. */
static void tick_agent_suppression(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    put_monitor(s);
    put_rule(s, LOSS_RULE);
    const char *ids[2] = {ID1, ID2};
    for (int i = 0; i < 2; i++) {
        struct store_result r = {.agent = "agent-a"};
        snprintf(r.r.test_id, sizeof r.r.test_id, "%s", ids[i]);
        r.r.start_ns = T0;
        r.r.checks_total = r.r.checks_failed = 10;
        r.r.diagnostic = CMON_DIAG_PERMISSION_DENIED;
        assert_int_equal(s->ops->tx_begin(s, &eb), CMON_OK);
        assert_int_equal(s->ops->ingest_result(s, &r, &eb), CMON_OK);
        assert_int_equal(s->ops->tx_commit(s, &eb), CMON_OK);
        bool changed;
        assert_int_equal(s->ops->test_set_state(s, ids[i], CMON_STATE_FAIL, "x", T0, &changed, &eb),
                         CMON_OK);
    }
    struct server_alerts *a = start();
    server_alerts_tick(a, s, T0 + SEC);
    json_t *q = query(s, NULL, NULL, NULL);
    assert_int_equal(json_array_size(q), 1);
    assert_string_equal(str(q, 0, "key"), "AgentUnavailable{agent=\"agent-a\"}");
    assert_string_equal(str(q, 0, "state"), "firing");
    json_decref(q);
    server_alerts_stop(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(snapshot_per_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(tick_fire_restore_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(tick_rule_deleted_resolves, setup, teardown),
        cmocka_unit_test_setup_teardown(tick_state_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(tick_agent_suppression, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
