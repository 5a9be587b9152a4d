/* postgres_monitors.c: monitors, their expanded tests, the tests view query,
 * a test field's distinct values and state history for the PostgreSQL
 * backend.  A monitor and its tests are replaced in one transaction; a test
 * that keeps its id keeps its state.  State writes lock the test row, so two
 * replicas never record one change twice. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"
#include "store/sql_build.h"

static enum cmon_err tx_end(struct pg_store *ps, enum cmon_err err, struct cmon_errbuf *eb)
{
    if (err) {
        PQclear(PQexec(ps->conn, "ROLLBACK"));
        return err;
    }
    return pg_exec(ps, "COMMIT", 0, NULL, NULL, eb, "commit");
}

static enum cmon_err upsert_test(struct pg_store *ps, const struct store_test *t,
                                 const char *monitor, int64_t now_ns, struct cmon_errbuf *eb)
{
    char num[24], proto[24], port[24], freq[24], fp[32], rtt[32], now[24];
    const char *v[] = {
        t->id,
        monitor,
        pg_i64(num, t->number),
        t->group,
        t->source,
        t->source_address ? t->source_address : "",
        t->source_type ? t->source_type : "Agent",
        t->destination,
        t->destination_address ? t->destination_address : "",
        t->destination_type ? t->destination_type : "ExternalAddress",
        t->config,
        pg_i64(proto, (int)t->protocol),
        t->target ? t->target : "",
        pg_i64(port, t->port),
        pg_i64(freq, t->frequency_sec),
        pg_dbl(fp, t->has_failed_pct_threshold, t->failed_pct_threshold),
        pg_dbl(rtt, t->has_rtt_threshold, t->rtt_threshold_ms),
        t->group_disabled ? "true" : "false",
        pg_i64(now, now_ns),
        t->source_resource_id ? t->source_resource_id : "",
        t->destination_resource_id ? t->destination_resource_id : "",
    };
    return pg_exec(
        ps,
        "INSERT INTO tests (id, monitor, number, test_group, source, source_address,"
        " source_type, destination, destination_address, destination_type, test_config,"
        " protocol, target, port, frequency_sec, failed_pct_threshold, rtt_threshold_ms,"
        " group_disabled, state_since_ns, source_resource_id, destination_resource_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
        " $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) ON CONFLICT (id) DO UPDATE SET"
        " monitor = $2, number = $3, test_group = $4, source = $5, source_address = $6,"
        " source_type = $7, destination = $8, destination_address = $9,"
        " destination_type = $10, test_config = $11, protocol = $12, target = $13, port = $14,"
        " frequency_sec = $15, failed_pct_threshold = $16, rtt_threshold_ms = $17,"
        " group_disabled = $18, source_resource_id = $20, destination_resource_id = $21",
        21, v, NULL, eb, "store test");
}

static enum cmon_err delete_stale_tests(struct pg_store *ps, const char *name,
                                        const struct store_test *tests, size_t n,
                                        struct cmon_errbuf *eb)
{
    char *text = store_test_ids_json(tests, n);
    if (!text)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    const char *v[] = {name, text};
    enum cmon_err err = pg_exec(ps,
                                "DELETE FROM tests WHERE monitor = $1 AND id NOT IN"
                                " (SELECT json_array_elements_text($2::json))",
                                2, v, NULL, eb, "drop old tests");
    free(text);
    return err;
}

static enum cmon_err monitor_row_put(struct pg_store *ps, const char *name, const char *body,
                                     int64_t now_ns, bool *created, struct cmon_errbuf *eb)
{
    char now[24];
    const char *v[] = {name, body, pg_i64(now, now_ns)};
    PGresult *res = pg_query(ps,
                             "INSERT INTO monitors (name, body, running, created_ns, updated_ns)"
                             " VALUES ($1, $2, true, $3, $3) ON CONFLICT (name) DO UPDATE SET"
                             " body = $2, updated_ns = $3 RETURNING (xmax = 0)",
                             3, v, eb, "store monitor");
    if (!res)
        return CMON_ERR_STORE;
    *created = pg_col_bool(res, 0, 0);
    PQclear(res);
    return CMON_OK;
}

enum cmon_err pg_monitor_put(struct store *s, const char *name, const char *body,
                             const struct store_test *tests, size_t n_tests,
                             const struct cmon_alert_rule *const *rules, size_t n_rules,
                             int64_t now_ns, bool *created, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    bool dummy;
    if (!created)
        created = &dummy;
    enum cmon_err err = pg_exec(ps, "BEGIN", 0, NULL, NULL, eb, "begin");
    if (err)
        return err;
    err = monitor_row_put(ps, name, body, now_ns, created, eb);
    if (!err)
        err = delete_stale_tests(ps, name, tests, n_tests, eb);
    for (size_t i = 0; !err && i < n_tests; i++)
        err = upsert_test(ps, &tests[i], name, now_ns, eb);
    if (!err)
        err = pg_monitor_rules_put(ps, name, rules, n_rules, eb);
    err = tx_end(ps, err, eb);
    /* the ingest path looks tests up by id: fresh statistics keep that an
     * index lookup right after a large monitor appears */
    if (!err && n_tests >= 100)
        err = pg_exec(ps, "ANALYZE tests", 0, NULL, NULL, eb, "analyze tests");
    return err;
}

static enum cmon_err monitor_rows(PGresult *res, store_monitor_cb cb, void *arg)
{
    for (int i = 0; i < PQntuples(res); i++) {
        struct store_monitor m = {
            .name = PQgetvalue(res, i, 0),
            .body = PQgetvalue(res, i, 1),
            .running = pg_col_bool(res, i, 2),
            .created_ns = pg_col_i64(res, i, 3),
            .updated_ns = pg_col_i64(res, i, 4),
        };
        if (cb(arg, &m))
            break;
    }
    PQclear(res);
    return CMON_OK;
}

enum cmon_err pg_monitor_get(struct store *s, const char *name, store_monitor_cb cb, void *arg,
                             struct cmon_errbuf *eb)
{
    const char *v[] = {name};
    PGresult *res = pg_query(pg_of(s),
                             "SELECT name, body, running, created_ns, updated_ns FROM monitors"
                             " WHERE name = $1",
                             1, v, eb, "read monitor");
    if (!res)
        return CMON_ERR_STORE;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return cmon_fail(eb, CMON_ERR_NOTFOUND, "connection monitor '%s' not found", name);
    }
    return monitor_rows(res, cb, arg);
}

enum cmon_err pg_monitor_list(struct store *s, store_monitor_cb cb, void *arg,
                              struct cmon_errbuf *eb)
{
    PGresult *res = pg_query(pg_of(s),
                             "SELECT name, body, running, created_ns, updated_ns FROM monitors"
                             " ORDER BY name COLLATE \"C\"",
                             0, NULL, eb, "read monitors");
    return res ? monitor_rows(res, cb, arg) : CMON_ERR_STORE;
}

enum cmon_err pg_monitor_versions(struct store *s, store_monitor_cb cb, void *arg,
                                  struct cmon_errbuf *eb)
{
    PGresult *res = pg_query_prepared(pg_of(s), "cmon_monitor_versions",
                                      "SELECT name, '', running, created_ns, updated_ns FROM"
                                      " monitors ORDER BY name COLLATE \"C\"",
                                      0, NULL, eb, "read monitors");
    return res ? monitor_rows(res, cb, arg) : CMON_ERR_STORE;
}

enum cmon_err pg_monitor_delete(struct store *s, const char *name, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    const char *v[] = {name};
    long long n = 0;
    enum cmon_err err = pg_exec(ps, "BEGIN", 0, NULL, NULL, eb, "begin");
    if (err)
        return err;
    err = pg_exec(ps, "DELETE FROM monitors WHERE name = $1", 1, v, &n, eb, "delete monitor");
    if (!err && n == 0)
        err = cmon_fail(eb, CMON_ERR_NOTFOUND, "connection monitor '%s' not found", name);
    if (!err)
        err = pg_exec(ps, "DELETE FROM tests WHERE monitor = $1", 1, v, NULL, eb, "delete tests");
    if (!err)
        err = pg_monitor_rules_put(ps, name, NULL, 0, eb);
    return tx_end(ps, err, eb);
}

enum cmon_err pg_monitor_set_running(struct store *s, const char *name, bool running,
                                     int64_t now_ns, struct cmon_errbuf *eb)
{
    char now[24];
    const char *v[] = {name, running ? "true" : "false", pg_i64(now, now_ns)};
    long long n = 0;
    enum cmon_err err =
        pg_exec(pg_of(s), "UPDATE monitors SET running = $2, updated_ns = $3 WHERE name = $1", 3, v,
                &n, eb, "update monitor");
    if (!err && n == 0)
        return cmon_fail(eb, CMON_ERR_NOTFOUND, "connection monitor '%s' not found", name);
    return err;
}

enum cmon_err pg_monitor_count(struct store *s, size_t *n, struct cmon_errbuf *eb)
{
    PGresult *res =
        pg_query(pg_of(s), "SELECT count(*) FROM monitors", 0, NULL, eb, "count monitors");
    if (!res)
        return CMON_ERR_STORE;
    *n = (size_t)pg_col_i64(res, 0, 0);
    PQclear(res);
    return CMON_OK;
}

/* ---- tests view ---- */

static const char *opt_text(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col); /* "" for NULL */
}

static void test_from_row(const PGresult *r, int i, struct store_test *t)
{
    memset(t, 0, sizeof *t);
    t->id = opt_text(r, i, 0);
    t->monitor = opt_text(r, i, 1);
    t->number = (int)pg_col_i64(r, i, 2);
    t->group = opt_text(r, i, 3);
    t->source = opt_text(r, i, 4);
    t->source_address = opt_text(r, i, 5);
    t->source_type = opt_text(r, i, 6);
    t->destination = opt_text(r, i, 7);
    t->destination_address = opt_text(r, i, 8);
    t->destination_type = opt_text(r, i, 9);
    t->config = opt_text(r, i, 10);
    t->protocol = (enum cmon_protocol)pg_col_i64(r, i, 11);
    t->target = opt_text(r, i, 12);
    t->port = (int)pg_col_i64(r, i, 13);
    t->frequency_sec = (int)pg_col_i64(r, i, 14);
    t->has_failed_pct_threshold = !pg_col_null(r, i, 15);
    t->failed_pct_threshold = pg_col_dbl(r, i, 15);
    t->has_rtt_threshold = !pg_col_null(r, i, 16);
    t->rtt_threshold_ms = pg_col_dbl(r, i, 16);
    t->group_disabled = pg_col_bool(r, i, 17);
    t->monitor_running = pg_col_bool(r, i, 18);
    t->state = (enum cmon_state)pg_col_i64(r, i, 19);
    t->reason = opt_text(r, i, 20);
    t->diagnostic = opt_text(r, i, 21);
    t->detail = opt_text(r, i, 22);
    t->has_result = !pg_col_null(r, i, 23);
    t->last_result_ns = pg_col_i64(r, i, 23);
    t->checks_failed_pct = pg_col_dbl(r, i, 24);
    t->has_rtt = !pg_col_null(r, i, 25);
    t->rtt_ms = pg_col_dbl(r, i, 25);
    t->state_since_ns = pg_col_i64(r, i, 26);
    t->source_resource_id = opt_text(r, i, 27);
    t->destination_resource_id = opt_text(r, i, 28);
}

enum cmon_err pg_test_query(struct store *s, const struct store_test_filter *f, store_test_cb cb,
                            void *arg, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    enum cmon_err err = pg_flush(ps, eb); /* the ingest's own rows count */
    if (err)
        return err;
    struct sql_tests q;
    sql_build_tests(SQL_POSTGRES, f, &q);
    char nums[2][24];
    const char *vals[SQL_TESTS_MAX_PARAMS];
    for (int i = 0; i < q.n; i++) {
        enum sql_test_param p = q.params[i];
        vals[i] = p == SQL_TP_STATE      ? pg_i64(nums[0], (int)f->state)
                  : p == SQL_TP_PROTOCOL ? pg_i64(nums[1], (int)f->protocol)
                                         : sql_test_param_text(f, p);
    }
    bool by_id = f && f->test_id && q.n == 1; /* the id is the only filter */
    int row = by_id ? pg_touched_find(ps, f->test_id) : -1;
    if (row >= 0) { /* updated by this transaction's flush: no query */
        struct store_test t;
        test_from_row(ps->touched, row, &t);
        cb(arg, &t);
        return CMON_OK;
    }
    err = pg_states_flush(ps, eb); /* the query must see deferred state writes */
    if (err)
        return err;
    PGresult *res = by_id
                        ? pg_query_prepared(ps, "cmon_test_by_id", q.sql, 1, vals, eb, "read test")
                        : pg_query(ps, q.sql, q.n, vals, eb, "read tests");
    if (!res)
        return CMON_ERR_STORE;
    struct store_test t;
    for (int i = 0; i < PQntuples(res); i++) {
        test_from_row(res, i, &t);
        if (cb(arg, &t))
            break;
    }
    PQclear(res);
    return CMON_OK;
}

enum cmon_err pg_test_distinct(struct store *s, enum store_test_field field, size_t limit,
                               store_value_cb cb, void *arg, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s); /* names: monitor_put's, never staged by ingest */
    char sql[256], num[24];
    if (sql_build_distinct(SQL_POSTGRES, field, sql, sizeof sql) != 0)
        return cmon_fail(eb, CMON_ERR_INVALID, "unknown test field %d", (int)field);
    const char *vals[] = {pg_i64(num, limit > INT64_MAX ? INT64_MAX : (int64_t)limit)};
    PGresult *res = pg_query(ps, sql, 1, vals, eb, "read distinct test values");
    if (!res)
        return CMON_ERR_STORE;
    for (int i = 0; i < PQntuples(res) && !cb(arg, PQgetvalue(res, i, 0)); i++)
        ;
    PQclear(res);
    return CMON_OK;
}

/* The tests this transaction's flush updated come from its cached rows; the
 * others (a late round older than a test's latest, a compound test) in one
 * query, not one each. */
enum cmon_err pg_test_query_ids(struct store *s, const char *const *ids, size_t n,
                                store_test_cb cb, void *arg, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    enum cmon_err err = pg_flush(ps, eb);
    json_t *miss = err ? NULL : json_array();
    if (!err && !miss)
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !err && i < n; i++) {
        int row = pg_touched_find(ps, ids[i]);
        if (row < 0) {
            if (json_array_append_new(miss, json_string(ids[i])) != 0)
                err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
            continue;
        }
        struct store_test t;
        test_from_row(ps->touched, row, &t);
        if (cb(arg, &t)) {
            json_decref(miss);
            return CMON_OK;
        }
    }
    if (!err && json_array_size(miss)) {
        char *text = json_dumps(miss, JSON_COMPACT);
        struct store_test_filter f = {.ids_json = text};
        err = text ? pg_test_query(s, &f, cb, arg, eb) : cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
        free(text);
    }
    json_decref(miss);
    return err;
}

/* Runs inside the caller's transaction when there is one (ingest), else alone. */
enum cmon_err pg_test_set_state(struct store *s, const char *test_id, enum cmon_state state,
                                const char *reason, int64_t now_ns, bool *changed,
                                struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    enum cmon_err err = pg_flush(ps, eb);
    if (err)
        return err;
    int row = pg_touched_find(ps, test_id);
    if (row >= 0) /* known and locked: written with the others at commit */
        return pg_state_defer(ps, test_id, row, state, reason, now_ns, changed, eb);
    err = pg_states_flush(ps, eb); /* keep the order of writes */
    if (err)
        return err;
    char st[24], now[24];
    const char *v[] = {test_id, pg_i64(st, (int)state), reason, pg_i64(now, now_ns)};
    /* one statement: lock the row, record a change, update */
    PGresult *res = pg_query_prepared(
        ps, "cmon_set_state",
        "WITH old AS (SELECT id, state FROM tests WHERE id = $1 FOR UPDATE),"
        " ch AS (INSERT INTO state_changes (test_id, at_ns, from_state, to_state, reason)"
        "  SELECT id, $4, state, $2::int, $3 FROM old WHERE state <> $2::int),"
        " up AS (UPDATE tests t SET state = $2::int, reason = $3, state_since_ns = CASE WHEN"
        "  old.state = $2::int THEN t.state_since_ns ELSE $4::bigint END FROM old"
        "  WHERE t.id = old.id)"
        " SELECT state <> $2::int FROM old",
        4, v, eb, "update test state");
    if (!res)
        return CMON_ERR_STORE;
    bool found = PQntuples(res) == 1;
    *changed = found && pg_col_bool(res, 0, 0);
    PQclear(res);
    return found ? CMON_OK : cmon_fail(eb, CMON_ERR_NOTFOUND, "test '%s' not found", test_id);
}

enum cmon_err pg_state_changes(struct store *s, const char *test_id, int64_t from_ns, int64_t to_ns,
                               store_change_cb cb, void *arg, struct cmon_errbuf *eb)
{
    char a[24], b[24];
    const char *v[] = {test_id, pg_i64(a, from_ns), pg_i64(b, to_ns)};
    PGresult *res = pg_query(pg_of(s),
                             "SELECT test_id, at_ns, from_state, to_state, reason FROM"
                             " state_changes WHERE test_id = $1 AND at_ns >= $2 AND at_ns < $3"
                             " ORDER BY at_ns, id",
                             3, v, eb, "read state changes");
    if (!res)
        return CMON_ERR_STORE;
    for (int i = 0; i < PQntuples(res); i++) {
        struct store_state_change c = {
            .test_id = PQgetvalue(res, i, 0),
            .at_ns = pg_col_i64(res, i, 1),
            .from = (enum cmon_state)pg_col_i64(res, i, 2),
            .to = (enum cmon_state)pg_col_i64(res, i, 3),
            .reason = PQgetvalue(res, i, 4),
        };
        if (cb(arg, &c))
            break;
    }
    PQclear(res);
    return CMON_OK;
}
