/* test_store_access.c: the backend-neutral store suite, who may do what:
 * tokens, agents and their paths, the read-only store and the SQL role,
 * registration rotating an agent's token, heartbeats, listing and deleting
 * agents.  The fixture: store_suite.h. */
#include "store_suite.h"
#include "test_alert_rows.h"

static void test_tokens(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    char tok[64], hash[65];
    assert_int_equal(store_token_new(tok, &eb), CMON_OK);
    assert_int_equal(strlen(tok), 45);
    assert_memory_equal(tok, "cmon_", 5);
    store_token_hash("abc", hash);
    assert_string_equal(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    size_t n = 9;
    assert_int_equal(s->ops->token_count(s, &n, &eb), CMON_OK);
    assert_int_equal(n, 0);
    store_token_hash(tok, hash);
    assert_int_equal(s->ops->token_add(s, hash, STORE_ROLE_READER, "ci", T0, &eb), CMON_OK);
    enum store_role role = STORE_ROLE_ADMIN;
    char name[16];
    assert_int_equal(s->ops->token_lookup(s, hash, &role, name, sizeof name, &eb), CMON_OK);
    assert_int_equal(role, STORE_ROLE_READER);
    assert_string_equal(name, "ci");
    store_token_hash("cmon_wrong", hash);
    assert_int_equal(s->ops->token_lookup(s, hash, &role, NULL, 0, &eb), CMON_ERR_NOTFOUND);
    assert_int_equal(s->ops->token_count(s, &n, &eb), CMON_OK);
    assert_int_equal(n, 1);
    assert_true(store_role_parse("agent", &role));
    assert_int_equal(role, STORE_ROLE_AGENT);
    assert_false(store_role_parse("root", &role));
}

static void test_agents_paths_alerts(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    int64_t ns = 0;
    assert_int_equal(s->ops->agent_last_seen(s, "a", &ns, &eb), CMON_ERR_NOTFOUND);
    assert_int_equal(s->ops->agent_seen(s, "a", T0 + 5, &eb), CMON_OK);
    assert_int_equal(s->ops->agent_seen(s, "a", T0, &eb), CMON_OK); /* never goes back */
    assert_int_equal(s->ops->agent_last_seen(s, "a", &ns, &eb), CMON_OK);
    assert_int_equal(ns, T0 + 5);

    char *hops = NULL;
    assert_int_equal(s->ops->path_latest(s, "t", &hops, &ns, &eb), CMON_ERR_NOTFOUND);
    assert_int_equal(s->ops->path_put(s, "t", T0, "[1]", &eb), CMON_OK);
    assert_int_equal(s->ops->path_put(s, "t", T0 + 1, "[1,2]", &eb), CMON_OK);
    assert_int_equal(s->ops->path_latest(s, "t", &hops, &ns, &eb), CMON_OK);
    assert_string_equal(hops, "[1,2]");
    assert_int_equal(ns, T0 + 1);
    free(hops);

    bool created = false;
    assert_int_equal(test_rule_put(s, TEST_RULE_JSON("r1", 12.5), NULL, &created, &eb), CMON_OK);
    assert_true(created);
    struct cmon_alert_rule_list rules;
    assert_int_equal(s->ops->alert_rule_list(s, &rules, &eb), CMON_OK);
    assert_int_equal(rules.n, 1);
    assert_string_equal(rules.items[0]->name, "r1");
    assert_float_equal(rules.items[0]->threshold, 12.5, 0);
    assert_null(rules.items[0]->monitor);
    cmon_alert_rule_list_free(&rules);
    json_t *list = NULL;
    char *text;
    assert_int_equal(s->ops->alert_rule_delete(s, "r1", &eb), CMON_OK);
    assert_int_equal(s->ops->alert_rule_delete(s, "r1", &eb), CMON_ERR_NOTFOUND);
    assert_int_equal(s->ops->alert_event_add(s, "r1", "t", T0, "fired", &eb), CMON_OK);
    assert_int_equal(s->ops->alert_event_list(s, 0, 10, &list, &eb), CMON_OK);
    text = json_dumps(list, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "[{\"message\":\"fired\",\"rule\":\"r1\",\"testId\":\"t\","
                              "\"time\":\"2026-01-02T03:04:00.000Z\"}]");
    free(text);
    json_decref(list);
}

static void test_read_only_and_sql(void **state)
{
    struct fixture *f = *state;
    struct cmon_errbuf eb;
    put_two(f->s, "m1", NULL);
    struct store_result r = result("aaaaaaaaaaaaaaa1", T0, 1, 3.0);
    ingest(f->s, &r, 1, NULL, -1, NULL);
    assert_int_equal(f->s->ops->token_add(f->s, "h", STORE_ROLE_ADMIN, "", T0, &eb), CMON_OK);

    json_t *out = NULL;
    assert_int_equal(f->s->ops->sql_query(f->s, "SELECT 1", 10, 1000, &out, &eb), CMON_ERR_PERM);

    struct store *ro = NULL;
    assert_int_equal(store_open(f->url, STORE_READ_ONLY, &ro, &eb), CMON_OK);
    assert_int_equal(ro->ops->monitor_put(ro, "m2", "{}", NULL, 0, NULL, 0, T0, NULL, &eb),
                     CMON_ERR_STORE);
    assert_int_equal(ro->ops->sql_query(ro, "SELECT test_id, checks_failed, rtt_avg FROM results",
                                        10, 1000, &out, &eb),
                     CMON_OK);
    char *text = json_dumps(out, JSON_COMPACT);
    assert_string_equal(text, "{\"columns\":[\"test_id\",\"checks_failed\",\"rtt_avg\"],"
                              "\"rows\":[[\"aaaaaaaaaaaaaaa1\",1,3.0]],\"truncated\":false}");
    free(text);
    json_decref(out);
    assert_int_equal(ro->ops->sql_query(ro, "SELECT hash FROM tokens", 10, 1000, &out, &eb),
                     CMON_ERR_INVALID);
    assert_int_equal(ro->ops->sql_query(ro, "DELETE FROM results", 10, 1000, &out, &eb),
                     CMON_ERR_INVALID);
    assert_int_equal(ro->ops->sql_query(ro, "SELECT 1; SELECT 2", 10, 1000, &out, &eb),
                     CMON_ERR_INVALID);
    assert_string_equal(eb.msg, "only one read-only SELECT is allowed");
    assert_int_equal(ro->ops->sql_query(ro,
                                        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1"
                                        " FROM c) SELECT count(*) FROM c",
                                        10, 100, &out, &eb),
                     CMON_ERR_TIMEOUT);
    assert_int_equal(ro->ops->sql_query(ro,
                                        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1"
                                        " FROM c WHERE x < 50) SELECT x FROM c",
                                        3, 1000, &out, &eb),
                     CMON_OK);
    assert_int_equal(json_array_size(json_object_get(out, "rows")), 3);
    assert_true(json_is_true(json_object_get(out, "truncated")));
    json_decref(out);
    /* token lookups still work on the same connection after the authorizer */
    enum store_role role;
    assert_int_equal(ro->ops->token_lookup(ro, "h", &role, NULL, 0, &eb), CMON_OK);
    store_close(ro);
}

struct seen {
    char names[8][64];
    char regions[8][64];
    bool registered[8];
    int64_t last_seen[8];
    char spool[8][128];
    size_t n;
};

static int collect_agent(void *arg, const struct store_agent *a)
{
    struct seen *s = arg;
    snprintf(s->names[s->n], 64, "%s", a->name);
    snprintf(s->regions[s->n], 64, "%s", a->region ? a->region : "(null)");
    s->registered[s->n] = a->registered;
    s->last_seen[s->n] = a->last_seen_ns;
    snprintf(s->spool[s->n], 128, "%s", a->spool ? a->spool : "");
    s->n++;
    return 0;
}

static void test_register_rotates_token(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    int64_t next = -1;
    enum store_role role;
    char name[64];
    assert_int_equal(
        s->ops->agent_register(s, "a1", "h1", "0.1", "[\"198.18.1.1\"]", "", 10, T0, &next, &eb),
        CMON_OK);
    assert_int_equal(next, 0);
    assert_int_equal(s->ops->token_lookup(s, "h1", &role, name, sizeof name, &eb), CMON_OK);
    assert_int_equal(role, STORE_ROLE_AGENT);
    assert_string_equal(name, "a1");
    /* batches 0..4 stored: registering again continues at 5, old token revoked */
    bool dup;
    assert_int_equal(s->ops->tx_begin(s, &eb), CMON_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(s->ops->ingest_batch_mark(s, "a1", i, T0, &dup, &eb), CMON_OK);
    assert_int_equal(s->ops->tx_commit(s, &eb), CMON_OK);
    assert_int_equal(s->ops->agent_register(s, "a1", "h2", "0.2", "[]", "", 10, T0 + SEC, &next, &eb),
                     CMON_OK);
    assert_int_equal(next, 5);
    assert_int_equal(s->ops->token_lookup(s, "h1", &role, name, sizeof name, &eb),
                     CMON_ERR_NOTFOUND);
    assert_int_equal(s->ops->token_lookup(s, "h2", &role, name, sizeof name, &eb), CMON_OK);
}

static void test_heartbeat_list_delete(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    int64_t next;
    assert_int_equal(s->ops->agent_heartbeat(s, "nobody", "0.1", "[]", "", "{}", 10, T0, &eb),
                     CMON_ERR_NOTFOUND);
    assert_int_equal(s->ops->agent_register(s, "b", "hb", "0.1", "[]", "", 10, T0, &next, &eb),
                     CMON_OK);
    assert_int_equal(s->ops->agent_heartbeat(s, "b", "0.1", "[]", "eastus2", "{\"droppedBatches\":2}", 10,
                                             T0 + 10 * SEC, &eb),
                     CMON_OK);
    /* results from an agent that never registered (the embedded one) */
    assert_int_equal(s->ops->agent_seen(s, "local", T0 + 3 * SEC, &eb), CMON_OK);
    struct seen seen = {0};
    assert_int_equal(s->ops->agent_list(s, collect_agent, &seen, &eb), CMON_OK);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.names[0], "b");
    assert_true(seen.registered[0]);
    assert_int_equal(seen.last_seen[0], T0 + 10 * SEC);
    assert_string_equal(seen.spool[0], "{\"droppedBatches\":2}");
    assert_string_equal(seen.regions[0], "eastus2");
    assert_string_equal(seen.regions[1], ""); /* seen through results only */
    assert_string_equal(seen.names[1], "local");
    assert_false(seen.registered[1]);
    /* agent_get gives the row agent_list gives, or none */
    struct seen one = {0};
    assert_int_equal(s->ops->agent_get(s, "b", collect_agent, &one, &eb), CMON_OK);
    assert_int_equal(s->ops->agent_get(s, "local", collect_agent, &one, &eb), CMON_OK);
    assert_int_equal(s->ops->agent_get(s, "nobody", collect_agent, &one, &eb), CMON_OK);
    assert_int_equal(one.n, 2);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(one.names[i], seen.names[i]);
        assert_int_equal(one.registered[i], seen.registered[i]);
        assert_int_equal(one.last_seen[i], seen.last_seen[i]);
        assert_string_equal(one.regions[i], seen.regions[i]);
        assert_string_equal(one.spool[i], seen.spool[i]);
    }
    assert_int_equal(s->ops->agent_delete(s, "b", &eb), CMON_OK);
    enum store_role role;
    assert_int_equal(s->ops->token_lookup(s, "hb", &role, NULL, 0, &eb), CMON_ERR_NOTFOUND);
    assert_int_equal(s->ops->agent_delete(s, "b", &eb), CMON_ERR_NOTFOUND);
}

static int grab_addresses(void *arg, const struct store_agent *a)
{
    snprintf(arg, 128, "%s", a->addresses);
    return 0;
}

/* What the assignments ETag folds in: the addresses reported last. */
static void test_agent_addresses(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    int64_t next;
    char a[128] = "none";
    assert_int_equal(s->ops->agent_get(s, "nobody", grab_addresses, a, &eb), CMON_OK);
    assert_string_equal(a, "none");
    assert_int_equal(
        s->ops->agent_register(s, "c", "hc", "0.1", "[\"198.18.1.1\"]", "", 10, T0, &next, &eb),
        CMON_OK);
    assert_int_equal(s->ops->agent_get(s, "c", grab_addresses, a, &eb), CMON_OK);
    assert_string_equal(a, "[\"198.18.1.1\"]");
    assert_int_equal(s->ops->agent_heartbeat(s, "c", "0.1", "[\"198.18.1.2\",\"198.18.1.3\"]", "",
                                             "{}", 10, T0 + SEC, &eb),
                     CMON_OK);
    assert_int_equal(s->ops->agent_get(s, "c", grab_addresses, a, &eb), CMON_OK);
    assert_string_equal(a, "[\"198.18.1.2\",\"198.18.1.3\"]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agents_paths_alerts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_and_sql, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_rotates_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_list_delete, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
