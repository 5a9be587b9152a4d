/* test_store.c: the backend-neutral store suite, monitors and tests: put,
 * list, filters, a re-apply keeping states, the state history and a test
 * field's distinct values.  The fixture and how to run the suite over
 * PostgreSQL: store_suite.h. */
#include "store_suite.h"

static void test_monitor_crud(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    bool created = false;
    put_two(s, "m1", &created);
    assert_true(created);
    put_two(s, "m1", &created);
    assert_false(created);
    put_two(s, "m0", &created);

    struct collect c = {0};
    assert_int_equal(s->ops->monitor_list(s, collect_monitor, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.names[0], "m0");
    assert_string_equal(c.names[1], "m1");
    assert_string_equal(c.bodies[1], "{\"x\":1}");
    assert_true(c.running[1]);

    assert_int_equal(s->ops->monitor_set_running(s, "m1", false, T0, &eb), CMON_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(s->ops->monitor_get(s, "m1", collect_monitor, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 1);
    assert_false(c.running[0]);
    /* versions: the list's rows, the bodies unread */
    struct collect full = {0};
    assert_int_equal(s->ops->monitor_list(s, collect_monitor, &full, &eb), CMON_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(s->ops->monitor_versions(s, collect_monitor, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.updated[0], full.updated[0]);
    assert_int_equal(c.updated[1], full.updated[1]);
    assert_int_equal(c.updated[1], T0); /* set_running stamped it */
    assert_string_equal(c.names[0], "m0");
    assert_string_equal(c.names[1], "m1");
    assert_string_equal(c.bodies[1], "");
    assert_true(c.running[0]);
    assert_false(c.running[1]);

    size_t n = 0;
    assert_int_equal(s->ops->monitor_count(s, &n, &eb), CMON_OK);
    assert_int_equal(n, 2);
    assert_int_equal(s->ops->monitor_delete(s, "m1", &eb), CMON_OK);
    assert_int_equal(s->ops->monitor_delete(s, "m1", &eb), CMON_ERR_NOTFOUND);
    assert_string_equal(eb.msg, "connection monitor 'm1' not found");
    assert_int_equal(s->ops->monitor_get(s, "m1", collect_monitor, &c, &eb), CMON_ERR_NOTFOUND);
    assert_int_equal(s->ops->monitor_set_running(s, "nope", true, T0, &eb), CMON_ERR_NOTFOUND);
    /* the deleted monitor's tests are gone; the other's remain */
    memset(&c, 0, sizeof c);
    assert_int_equal(s->ops->test_query(s, NULL, collect_test, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 2);
}

static void test_tests_filters(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    put_two(s, "m1", NULL);
    struct collect c = {0};
    struct store_test_filter flt = {
        .monitor = "m1", .has_protocol = true, .protocol = CMON_PROTO_ICMP};
    assert_int_equal(s->ops->test_query(s, &flt, collect_test, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.ids[0], "aaaaaaaaaaaaaaa2");
    assert_int_equal(c.tests[0].state, CMON_STATE_INDETERMINATE);
    assert_string_equal(c.bodies[0], "no result yet");
    assert_false(c.tests[0].has_result);
    assert_true(c.tests[0].monitor_running);

    memset(&c, 0, sizeof c);
    struct store_test_filter search = {.search = "TG1", .scope = STORE_SCOPE_TEST_GROUPS};
    assert_int_equal(s->ops->test_query(s, &search, collect_test, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.names[0], "tg1");

    memset(&c, 0, sizeof c);
    search.search = "tg1";
    search.scope = STORE_SCOPE_DESTINATIONS; /* no destination is called tg1 */
    assert_int_equal(s->ops->test_query(s, &search, collect_test, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 0);

    /* a source search also finds the tests of the agents given (the ones
     * whose reported addresses contain the text), case-insensitively */
    struct store_test_filter by_addr = {
        .search = "10.192.64.56", .scope = STORE_SCOPE_SOURCES, .source_agents = "[\"LOCAL\"]"};
    memset(&c, 0, sizeof c);
    assert_int_equal(s->ops->test_query(s, &by_addr, collect_test, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 2);
    by_addr.source_agents = "[\"other\"]";
    memset(&c, 0, sizeof c);
    assert_int_equal(s->ops->test_query(s, &by_addr, collect_test, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 0);

    bool changed = false;
    assert_int_equal(s->ops->test_set_state(s, "aaaaaaaaaaaaaaa1", CMON_STATE_FAIL,
                                            "ChecksFailedPercent 100 > 5", T0, &changed, &eb),
                     CMON_OK);
    assert_true(changed);
    memset(&c, 0, sizeof c);
    struct store_test_filter failing = {.has_state = true, .state = CMON_STATE_FAIL};
    assert_int_equal(s->ops->test_query(s, &failing, collect_test, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.bodies[0], "ChecksFailedPercent 100 > 5");
    assert_int_equal(c.tests[0].state_since_ns, T0);
}

static void test_reapply_keeps_state(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    put_two(s, "m1", NULL);
    bool changed;
    assert_int_equal(
        s->ops->test_set_state(s, "aaaaaaaaaaaaaaa1", CMON_STATE_PASS, "", T0, &changed, &eb),
        CMON_OK);
    assert_true(changed);
    assert_int_equal(
        s->ops->test_set_state(s, "aaaaaaaaaaaaaaa1", CMON_STATE_PASS, "", T0 + MIN, &changed, &eb),
        CMON_OK);
    assert_false(changed);
    /* re-apply with test 2 gone and a new test 3 */
    struct store_test t[2] = {
        make_test("aaaaaaaaaaaaaaa1", 1, "tg1", "web", CMON_PROTO_TCP, 80),
        make_test("aaaaaaaaaaaaaaa3", 2, "tg1", "web", CMON_PROTO_ICMP, 0),
    };
    assert_int_equal(s->ops->monitor_put(s, "m1", "{}", t, 2, NULL, 0, T0 + 2 * MIN, NULL, &eb),
                     CMON_OK);
    struct collect c = {0};
    assert_int_equal(s->ops->test_query(s, NULL, collect_test, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.ids[0], "aaaaaaaaaaaaaaa1");
    assert_int_equal(c.tests[0].state, CMON_STATE_PASS);
    assert_int_equal(c.tests[0].state_since_ns, T0);
    assert_string_equal(c.ids[1], "aaaaaaaaaaaaaaa3");
    assert_int_equal(c.tests[1].state, CMON_STATE_INDETERMINATE);
    assert_int_equal(s->ops->test_set_state(s, "zzzz", CMON_STATE_PASS, "", T0, &changed, &eb),
                     CMON_ERR_NOTFOUND);
}

static int collect_change(void *arg, const struct store_state_change *ch)
{
    struct collect *c = arg;
    snprintf(c->bodies[c->n++], 64, "%d->%d %s", ch->from, ch->to, ch->reason);
    return 0;
}

static void test_state_history(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    put_two(s, "m1", NULL);
    bool changed;
    const char *id = "aaaaaaaaaaaaaaa1";
    s->ops->test_set_state(s, id, CMON_STATE_PASS, "", T0, &changed, &eb);
    s->ops->test_set_state(s, id, CMON_STATE_PASS, "", T0 + 1, &changed, &eb);
    s->ops->test_set_state(s, id, CMON_STATE_FAIL, "ChecksFailedPercent 40 > 5", T0 + 2, &changed,
                           &eb);
    struct collect c = {0};
    assert_int_equal(s->ops->state_changes(s, id, 0, INT64_MAX, collect_change, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.bodies[0], "0->1 ");
    assert_string_equal(c.bodies[1], "1->3 ChecksFailedPercent 40 > 5");
}

static int count_ids(void *arg, const struct store_test *t)
{
    int *seen = arg; /* seen[k]: test number k+1 given this many times */
    seen[t->number - 1]++;
    return 0;
}

/* test_query_ids gives each listed test once and no other, with a few ids
 * (SQLite: a lookup each), more (one statement over the list) and a large
 * share of all tests (one scan). */
static void test_query_ids(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    enum { N = 60 };
    char ids[N][17];
    struct store_test t[N];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "%016x", 0xb000 + i);
        t[i] = make_test(ids[i], i + 1, "g", "web", CMON_PROTO_TCP, 80);
    }
    bool created;
    assert_int_equal(s->ops->monitor_put(s, "m", "{}", t, N, NULL, 0, T0, &created, &eb), CMON_OK);
    const size_t sizes[] = {3, 12, 25};
    for (size_t k = 0; k < 3; k++) {
        const char *want[25]; /* every other test, sorted; plus an unknown id */
        size_t n = 0;
        for (int i = 0; n + 1 < sizes[k]; i += 2)
            want[n++] = ids[i];
        want[n++] = "ffffffffffffffff";
        int seen[N] = {0};
        assert_int_equal(s->ops->test_query_ids(s, want, n, count_ids, seen, &eb), CMON_OK);
        for (int i = 0; i < N; i++)
            assert_int_equal(seen[i], i % 2 == 0 && (size_t)i / 2 < n - 1 ? 1 : 0);
    }
}

/* Values joined with '|', in the order the store gave them. */
struct joined {
    char text[256];
};

static int join_value(void *arg, const char *v)
{
    struct joined *j = arg;
    size_t len = strlen(j->text);
    snprintf(j->text + len, sizeof j->text - len, "%s%s", len ? "|" : "", v);
    return 0;
}

static const char *distinct(struct store *s, enum store_test_field field, size_t limit,
                            struct joined *j)
{
    struct cmon_errbuf eb;
    j->text[0] = '\0';
    assert_int_equal(s->ops->test_distinct(s, field, limit, join_value, j, &eb), CMON_OK);
    return j->text;
}

/* test_distinct: each field's distinct non-empty values over every monitor,
 * case kept (one per spelling), in byte order, at most limit. */
static void test_distinct_values(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    struct joined j;
    assert_string_equal(distinct(s, STORE_TF_GROUP, 10, &j), "");
    put_two(s, "m1", NULL); /* tg1 -> web (tcp), tg2 -> db (ping) */
    struct store_test t[3] = {
        make_test("bbbbbbbbbbbbbbb1", 1, "tg1", "Web", CMON_PROTO_TCP, 80),
        make_test("bbbbbbbbbbbbbbb2", 2, "Zeta", "web", CMON_PROTO_ICMP, 0),
        make_test("bbbbbbbbbbbbbbb3", 3, "", "db", CMON_PROTO_ICMP, 0),
    };
    t[0].destination_type = "Agent";
    t[1].source = "agent-b";
    t[2].config = "";
    bool created;
    assert_int_equal(s->ops->monitor_put(s, "m2", "{}", t, 3, NULL, 0, T0, &created, &eb), CMON_OK);
    assert_string_equal(distinct(s, STORE_TF_GROUP, 10, &j), "Zeta|tg1|tg2");
    assert_string_equal(distinct(s, STORE_TF_SOURCE, 10, &j), "agent-b|local");
    assert_string_equal(distinct(s, STORE_TF_DESTINATION, 10, &j), "Web|db|web");
    assert_string_equal(distinct(s, STORE_TF_DEST_TYPE, 10, &j), "Agent|ExternalAddress");
    assert_string_equal(distinct(s, STORE_TF_CONFIG, 10, &j), "ping|tcp");
    assert_string_equal(distinct(s, STORE_TF_DESTINATION, 2, &j), "Web|db");
    assert_int_equal(s->ops->test_distinct(s, (enum store_test_field)99, 10, join_value, &j, &eb),
                     CMON_ERR_INVALID);
    /* a deleted monitor's values go with its tests */
    assert_int_equal(s->ops->monitor_delete(s, "m2", &eb), CMON_OK);
    assert_string_equal(distinct(s, STORE_TF_GROUP, 10, &j), "tg1|tg2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_monitor_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tests_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reapply_keeps_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_distinct_values, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
