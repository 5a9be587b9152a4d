/* test_store_alerts.c: the backend-neutral store suite, alerting: action
 * groups and alert episodes (query by state, rule and monitor).  The
 * fixture: store_suite.h. */
#include "store_suite.h"

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

static void test_action_groups(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    bool created = false;
    assert_int_equal(s->ops->action_group_put(s, "ops", "{\"name\":\"ops\"}", &created, &eb),
                     CMON_OK);
    assert_true(created);
    assert_int_equal(
        s->ops->action_group_put(s, "ops", "{\"name\":\"ops\",\"v\":2}", &created, &eb), CMON_OK);
    assert_false(created);
    assert_int_equal(s->ops->action_group_put(s, "a", "{\"name\":\"a\"}", NULL, &eb), CMON_OK);
    json_t *list = NULL;
    assert_int_equal(s->ops->action_group_list(s, &list, &eb), CMON_OK);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(str(list, 0, "name"), "a");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(json_array_get(list, 1), "group"), "v")),
        2);
    json_decref(list);
    assert_int_equal(s->ops->action_group_delete(s, "a", &eb), CMON_OK);
    assert_int_equal(s->ops->action_group_delete(s, "a", &eb), CMON_ERR_NOTFOUND);
    assert_string_equal(eb.msg, "action group 'a' not found");
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
