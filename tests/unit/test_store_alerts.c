/* test_store_alerts.c: the backend-neutral store suite, alerting: action
 * groups, the alert rules a monitor manages, and alert episodes (query by state, rule and monitor).
 * The fixture: store_suite.h. */
#include "store_suite.h"
#include "test_alert_rows.h"

static const char *str(const json_t *j, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(j, i), key));
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

static json_t *instance(const char *key, const char *rule, const char *state, int64_t pending,
                        const char *monitor)
{
    return json_pack("{s:s, s:s, s:s, s:{}, s:i, s:i, s:f, s:f, s:s, s:[], s:[s], "
                     "s:{s:I, s:I, s:I, s:I}}",
                     "key", key, "rule", rule, "state", state, "labels", "severity", 1, "breaches",
                     1, "value", 50.0, "firedValue", 50.0, "summary", "x", "actionGroups",
                     "monitors", monitor, "timesNs", "pending", (json_int_t)pending, "fired",
                     (json_int_t)0, "resolved", (json_int_t)0, "lastEval", (json_int_t)pending);
}

#define GROUP_JSON(name, url)                                                                      \
    "{\"name\":\"" name "\",\"webhooks\":[{\"url\":\"" url "\",\"secret\":\"s3\"}]}"

static void test_action_groups(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    bool created = false;
    assert_int_equal(test_group_put(s, GROUP_JSON("ops", "http://127.0.0.1:9/a"), &created, &eb),
                     CMON_OK);
    assert_true(created);
    assert_int_equal(test_group_put(s, GROUP_JSON("ops", "http://127.0.0.1:9/b"), &created, &eb),
                     CMON_OK);
    assert_false(created);
    assert_int_equal(test_group_put(s, GROUP_JSON("a", "http://127.0.0.1:9/"), NULL, &eb), CMON_OK);
    struct cmon_action_group_list list;
    assert_int_equal(s->ops->action_group_list(s, &list, &eb), CMON_OK);
    assert_int_equal(list.n, 2);
    assert_string_equal(list.items[0]->name, "a");
    assert_string_equal(list.items[1]->webhooks[0].url, "http://127.0.0.1:9/b");
    assert_string_equal(list.items[1]->webhooks[0].secret, "s3"); /* kept for the sender */
    cmon_action_group_list_free(&list);
    assert_int_equal(s->ops->action_group_delete(s, "a", &eb), CMON_OK);
    assert_int_equal(s->ops->action_group_delete(s, "a", &eb), CMON_ERR_NOTFOUND);
    assert_string_equal(eb.msg, "action group 'a' not found");
}

/* The names of the stored rules and their managers, "name@monitor ..." */
static void expect_rules(struct store *s, const char *want)
{
    struct cmon_alert_rule_list l;
    struct cmon_errbuf eb;
    assert_int_equal(s->ops->alert_rule_list(s, &l, &eb), CMON_OK);
    char got[512] = "";
    for (size_t i = 0; i < l.n; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s@%s", i ? " " : "",
                 l.items[i]->name, l.items[i]->monitor ? l.items[i]->monitor : "api");
    cmon_alert_rule_list_free(&l);
    assert_string_equal(got, want);
}

static enum cmon_err put_with_rules(struct store *s, const char *monitor, const char *const *json,
                                    size_t n, struct cmon_errbuf *eb)
{
    struct cmon_alert_rule *rules[4] = {0};
    for (size_t i = 0; i < n; i++)
        rules[i] = test_rule(json[i]);
    enum cmon_err err = s->ops->monitor_put(
        s, monitor, "{}", NULL, 0, (const struct cmon_alert_rule *const *)rules, n, T0, NULL, eb);
    for (size_t i = 0; i < n; i++)
        cmon_alert_rule_free(rules[i]);
    return err;
}

static int no_monitor(void *arg, const struct store_monitor *m)
{
    (void)arg, (void)m;
    fail_msg("monitor %s should not exist", m->name);
    return 1;
}

/* Rules a monitor file holds: written and dropped with the monitor, in its
 * transaction; nobody else may take or change them. */
static void test_monitor_rules(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    const char *both[] = {TEST_RULE_JSON("loss", 10), TEST_RULE_JSON("more", 50)};
    assert_int_equal(put_with_rules(s, "m", both, 2, &eb), CMON_OK);
    assert_int_equal(test_rule_put(s, TEST_RULE_JSON("api", 5), NULL, NULL, &eb), CMON_OK);
    expect_rules(s, "api@api loss@m more@m");
    /* the alerts API cannot change or delete a managed rule */
    assert_int_equal(test_rule_put(s, TEST_RULE_JSON("loss", 1), NULL, NULL, &eb), CMON_ERR_EXISTS);
    assert_non_null(strstr(eb.msg, "alert rule 'loss' is managed by monitor 'm'"));
    assert_int_equal(s->ops->alert_rule_delete(s, "loss", &eb), CMON_ERR_EXISTS);
    assert_non_null(strstr(eb.msg, "managed by monitor 'm'"));
    /* another monitor taking m's rule, or the API's: refused whole */
    const char *taken[] = {TEST_RULE_JSON("fresh", 1), TEST_RULE_JSON("loss", 1)};
    assert_int_equal(put_with_rules(s, "m2", taken, 2, &eb), CMON_ERR_EXISTS);
    assert_non_null(strstr(eb.msg, "monitor 'm2' cannot take it"));
    assert_int_equal(s->ops->monitor_get(s, "m2", no_monitor, NULL, &eb), CMON_ERR_NOTFOUND);
    const char *api[] = {TEST_RULE_JSON("api", 1)};
    assert_int_equal(put_with_rules(s, "m", api, 1, &eb), CMON_ERR_EXISTS);
    assert_non_null(strstr(eb.msg, "already exists as an alerts API rule"));
    expect_rules(s, "api@api loss@m more@m");
    /* applied again with one rule: the other goes; its threshold changes */
    const char *one[] = {TEST_RULE_JSON("loss", 20)};
    assert_int_equal(put_with_rules(s, "m", one, 1, &eb), CMON_OK);
    expect_rules(s, "api@api loss@m");
    struct cmon_alert_rule_list l;
    assert_int_equal(s->ops->alert_rule_list(s, &l, &eb), CMON_OK);
    assert_float_equal(cmon_alert_rule_find(&l, "loss")->threshold, 20, 0);
    cmon_alert_rule_list_free(&l);
    /* deleting the monitor deletes its rules, not the API's */
    assert_int_equal(s->ops->monitor_delete(s, "m", &eb), CMON_OK);
    expect_rules(s, "api@api");
}

static void test_alert_episodes(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    json_t *items = json_pack("[o, o, o]", instance("r{x=\"1\"}", "r", "firing", T0, "edge"),
                              instance("r{x=\"2\"}", "r", "pending", T0 + SEC, "core"),
                              instance("q", "q", "firing", T0 + 2 * SEC, "edge"));
    json_t *tr = json_pack("[{s:s, s:s, s:s, s:I, s:f}]", "key", "q", "rule", "q", "event",
                           "firing", "atNs", (json_int_t)(T0 + 2 * SEC), "value", 50.0);
    assert_int_equal(s->ops->alert_save(s, items, tr, T0 + 2 * SEC, &eb), CMON_OK);
    json_t *all = query(s, NULL, NULL, NULL);
    assert_int_equal(json_array_size(all), 3);
    assert_string_equal(str(all, 0, "key"), "q"); /* newest first */
    json_decref(all);
    json_t *q = query(s, "firing", "r", "edge");
    assert_int_equal(json_array_size(q), 1);
    assert_string_equal(str(q, 0, "key"), "r{x=\"1\"}");
    json_decref(q);
    q = query(s, NULL, NULL, "core");
    assert_int_equal(json_array_size(q), 1);
    json_decref(q);
    /* paging */
    struct store_alert_filter f = {0};
    bool more = false;
    assert_int_equal(s->ops->alert_query(s, &f, 1, 1, &q, &more, &eb), CMON_OK);
    assert_true(more);
    assert_string_equal(str(q, 0, "key"), "r{x=\"2\"}");
    json_decref(q);

    /* next evaluation: the pending one ended silently, q resolved */
    json_decref(items);
    json_decref(tr);
    items = json_pack("[o, o]", instance("r{x=\"1\"}", "r", "firing", T0, "edge"),
                      instance("q", "q", "resolved", T0 + 2 * SEC, "edge"));
    tr = json_pack("[{s:s, s:s, s:s, s:I, s:f}]", "key", "q", "rule", "q", "event", "resolved",
                   "atNs", (json_int_t)(T0 + 12 * SEC), "value", 0.0);
    assert_int_equal(s->ops->alert_save(s, items, tr, T0 + 12 * SEC, &eb), CMON_OK);
    all = query(s, NULL, NULL, NULL);
    assert_int_equal(json_array_size(all), 2);
    json_decref(all);
    json_t *active = NULL;
    assert_int_equal(s->ops->alert_active(s, &active, &eb), CMON_OK);
    assert_int_equal(json_array_size(active), 1);
    assert_string_equal(str(active, 0, "key"), "r{x=\"1\"}");
    json_decref(active);
    json_t *hist = NULL;
    assert_int_equal(s->ops->alert_transitions(s, "q", &hist, &eb), CMON_OK);
    assert_int_equal(json_array_size(hist), 2);
    assert_string_equal(str(hist, 0, "event"), "firing");
    assert_string_equal(str(hist, 1, "event"), "resolved");
    assert_string_equal(str(hist, 1, "at"), "2026-01-02T03:04:12.000Z");
    json_decref(hist);
    /* retention: the resolved episode and transitions before the cut go */
    int64_t deleted = 0;
    assert_int_equal(s->ops->alert_prune(s, T0 + 13 * SEC, &deleted, &eb), CMON_OK);
    assert_int_equal(deleted, 3); /* q's episode and its two transitions */
    all = query(s, NULL, NULL, NULL);
    assert_int_equal(json_array_size(all), 1);
    assert_string_equal(str(all, 0, "state"), "firing");
    json_decref(all);
    json_decref(items);
    json_decref(tr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_action_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_episodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitor_rules, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
