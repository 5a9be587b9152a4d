/* sqlite_monitors.c: monitors, their expanded tests, the tests view query,
 * a test field's distinct values and state history for the SQLite backend.
 * A monitor, its tests and the alert rules its file holds are replaced in
 * one transaction; a test that keeps its id keeps its state. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sql_build.h"
#include "store/sqlite_internal.h"

static enum cmon_err tx_end(struct sqlite_store *ss, enum cmon_err err, struct cmon_errbuf *eb)
{
    if (err) {
        sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
        return err;
    }
    return sq_exec(ss, "COMMIT", eb);
}

static enum cmon_err upsert_test(struct sqlite_store *ss, const struct store_test *t,
                                 const char *monitor, int64_t now_ns, struct cmon_errbuf *eb)
{
    sqlite3_stmt *st = sq_stmt(ss, SQ_TEST_UPSERT, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, t->id);
    sq_bind_text(st, 2, monitor);
    sqlite3_bind_int(st, 3, t->number);
    sq_bind_text(st, 4, t->group);
    sq_bind_text(st, 5, t->source);
    sq_bind_text(st, 6, t->source_address ? t->source_address : "");
    sq_bind_text(st, 7, t->source_type ? t->source_type : "Agent");
    sq_bind_text(st, 8, t->destination);
    sq_bind_text(st, 9, t->destination_address ? t->destination_address : "");
    sq_bind_text(st, 10, t->destination_type ? t->destination_type : "ExternalAddress");
    sq_bind_text(st, 11, t->config);
    sqlite3_bind_int(st, 12, (int)t->protocol);
    sq_bind_text(st, 13, t->target ? t->target : "");
    sqlite3_bind_int(st, 14, t->port);
    sqlite3_bind_int(st, 15, t->frequency_sec);
    sq_bind_opt_double(st, 16, t->has_failed_pct_threshold, t->failed_pct_threshold);
    sq_bind_opt_double(st, 17, t->has_rtt_threshold, t->rtt_threshold_ms);
    sqlite3_bind_int(st, 18, t->group_disabled);
    sqlite3_bind_int64(st, 19, now_ns);
    sq_bind_text(st, 20, t->source_resource_id ? t->source_resource_id : "");
    sq_bind_text(st, 21, t->destination_resource_id ? t->destination_resource_id : "");
    return sq_exec_stmt(ss, st, eb, "store test");
}

static enum cmon_err delete_stale_tests(struct sqlite_store *ss, const char *name,
                                        const struct store_test *tests, size_t n,
                                        struct cmon_errbuf *eb)
{
    char *text = store_test_ids_json(tests, n);
    if (!text)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    sqlite3_stmt *st = sq_stmt(ss, SQ_TESTS_DELETE_STALE, eb);
    enum cmon_err err = CMON_ERR_STORE;
    if (st) {
        sq_bind_text(st, 1, name);
        sq_bind_text(st, 2, text);
        err = sq_exec_stmt(ss, st, eb, "drop old tests");
    }
    free(text);
    return err;
}

static enum cmon_err monitor_row_put(struct sqlite_store *ss, const char *name, const char *body,
                                     int64_t now_ns, bool *created, struct cmon_errbuf *eb)
{
    sqlite3_stmt *st = sq_stmt(ss, SQ_MON_EXISTS, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_fail(ss, eb, "look up monitor");
    *created = rc == SQLITE_DONE;
    st = sq_stmt(ss, *created ? SQ_MON_INSERT : SQ_MON_UPDATE, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, name);
    sq_bind_text(st, 2, body);
    sqlite3_bind_int64(st, 3, now_ns);
    return sq_exec_stmt(ss, st, eb, "store monitor");
}

enum cmon_err sq_monitor_put(struct store *s, const char *name, const char *body,
                             const struct store_test *tests, size_t n_tests,
                             const struct cmon_alert_rule *const *rules, size_t n_rules,
                             int64_t now_ns, bool *created, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    bool dummy;
    if (!created)
        created = &dummy;
    enum cmon_err err = sq_exec(ss, "BEGIN IMMEDIATE", eb);
    if (err)
        return err;
    err = monitor_row_put(ss, name, body, now_ns, created, eb);
    if (!err)
        err = delete_stale_tests(ss, name, tests, n_tests, eb);
    for (size_t i = 0; !err && i < n_tests; i++)
        err = upsert_test(ss, &tests[i], name, now_ns, eb);
    if (!err)
        err = sq_monitor_rules_put(ss, name, rules, n_rules, eb);
    return tx_end(ss, err, eb);
}

static enum cmon_err monitor_rows(struct sqlite_store *ss, sqlite3_stmt *st, store_monitor_cb cb,
                                  void *arg, size_t *rows, struct cmon_errbuf *eb)
{
    int rc;
    *rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_monitor m = {
            .name = sq_col_text(st, 0),
            .body = sq_col_text(st, 1),
            .running = sqlite3_column_int(st, 2) != 0,
            .created_ns = sqlite3_column_int64(st, 3),
            .updated_ns = sqlite3_column_int64(st, 4),
        };
        (*rows)++;
        if (cb(arg, &m))
            break;
    }
    enum cmon_err err = CMON_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = sq_fail(ss, eb, "read monitors");
    sqlite3_reset(st);
    return err;
}

enum cmon_err sq_monitor_get(struct store *s, const char *name, store_monitor_cb cb, void *arg,
                             struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, SQ_MON_GET, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, name);
    size_t rows;
    enum cmon_err err = monitor_rows(ss, st, cb, arg, &rows, eb);
    if (!err && rows == 0)
        return cmon_fail(eb, CMON_ERR_NOTFOUND, "connection monitor '%s' not found", name);
    return err;
}

/* Every monitor through statement id (no parameters). */
static enum cmon_err every_monitor(struct store *s, enum sq_stmt id, store_monitor_cb cb,
                                   void *arg, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, id, eb);
    size_t rows;
    return st ? monitor_rows(ss, st, cb, arg, &rows, eb) : CMON_ERR_STORE;
}

enum cmon_err sq_monitor_list(struct store *s, store_monitor_cb cb, void *arg,
                              struct cmon_errbuf *eb)
{
    return every_monitor(s, SQ_MON_LIST, cb, arg, eb);
}

enum cmon_err sq_monitor_versions(struct store *s, store_monitor_cb cb, void *arg,
                                  struct cmon_errbuf *eb)
{
    return every_monitor(s, SQ_MON_VERSIONS, cb, arg, eb);
}

enum cmon_err sq_monitor_delete(struct store *s, const char *name, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    enum cmon_err err = sq_exec(ss, "BEGIN IMMEDIATE", eb);
    if (err)
        return err;
    sqlite3_stmt *st = sq_stmt(ss, SQ_MON_DELETE, eb);
    if (!st)
        return tx_end(ss, CMON_ERR_STORE, eb);
    sq_bind_text(st, 1, name);
    err = sq_exec_stmt(ss, st, eb, "delete monitor");
    if (!err && sqlite3_changes(ss->db) == 0)
        err = cmon_fail(eb, CMON_ERR_NOTFOUND, "connection monitor '%s' not found", name);
    if (!err && (st = sq_stmt(ss, SQ_TESTS_DELETE, eb)) != NULL) {
        sq_bind_text(st, 1, name);
        err = sq_exec_stmt(ss, st, eb, "delete tests");
    } else if (!err) {
        err = CMON_ERR_STORE;
    }
    if (!err)
        err = sq_monitor_rules_put(ss, name, NULL, 0, eb);
    return tx_end(ss, err, eb);
}

enum cmon_err sq_monitor_set_running(struct store *s, const char *name, bool running,
                                     int64_t now_ns, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, SQ_MON_RUNNING, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, name);
    sqlite3_bind_int(st, 2, running);
    sqlite3_bind_int64(st, 3, now_ns);
    enum cmon_err err = sq_exec_stmt(ss, st, eb, "update monitor");
    if (!err && sqlite3_changes(ss->db) == 0)
        return cmon_fail(eb, CMON_ERR_NOTFOUND, "connection monitor '%s' not found", name);
    return err;
}

enum cmon_err sq_monitor_count(struct store *s, size_t *n, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, SQ_MON_COUNT, eb);
    if (!st)
        return CMON_ERR_STORE;
    if (sqlite3_step(st) != SQLITE_ROW)
        return sq_fail(ss, eb, "count monitors");
    *n = (size_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return CMON_OK;
}

/* ---- tests view ---- */

static void test_from_row(sqlite3_stmt *st, struct store_test *t)
{
    memset(t, 0, sizeof *t);
    t->id = sq_col_text(st, 0);
    t->monitor = sq_col_text(st, 1);
    t->number = sqlite3_column_int(st, 2);
    t->group = sq_col_text(st, 3);
    t->source = sq_col_text(st, 4);
    t->source_address = sq_col_text(st, 5);
    t->source_type = sq_col_text(st, 6);
    t->destination = sq_col_text(st, 7);
    t->destination_address = sq_col_text(st, 8);
    t->destination_type = sq_col_text(st, 9);
    t->config = sq_col_text(st, 10);
    t->protocol = (enum cmon_protocol)sqlite3_column_int(st, 11);
    t->target = sq_col_text(st, 12);
    t->port = sqlite3_column_int(st, 13);
    t->frequency_sec = sqlite3_column_int(st, 14);
    t->has_failed_pct_threshold = sqlite3_column_type(st, 15) != SQLITE_NULL;
    t->failed_pct_threshold = sqlite3_column_double(st, 15);
    t->has_rtt_threshold = sqlite3_column_type(st, 16) != SQLITE_NULL;
    t->rtt_threshold_ms = sqlite3_column_double(st, 16);
    t->group_disabled = sqlite3_column_int(st, 17) != 0;
    t->monitor_running = sqlite3_column_int(st, 18) != 0;
    t->state = (enum cmon_state)sqlite3_column_int(st, 19);
    t->reason = sq_col_text(st, 20);
    t->diagnostic = sq_col_text(st, 21);
    t->detail = sq_col_text(st, 22);
    t->has_result = sqlite3_column_type(st, 23) != SQLITE_NULL;
    t->last_result_ns = sqlite3_column_int64(st, 23);
    t->checks_failed_pct = sqlite3_column_double(st, 24);
    t->has_rtt = sqlite3_column_type(st, 25) != SQLITE_NULL;
    t->rtt_ms = sqlite3_column_double(st, 25);
    t->state_since_ns = sqlite3_column_int64(st, 26);
    t->source_resource_id = sq_col_text(st, 27);
    t->destination_resource_id = sq_col_text(st, 28);
}

enum cmon_err sq_test_query(struct store *s, const struct store_test_filter *f, store_test_cb cb,
                            void *arg, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    enum cmon_err ferr = sq_ingest_flush(ss, eb); /* the ingest's own staged rows count */
    if (ferr)
        return ferr;
    struct sql_tests q;
    sql_build_tests(SQL_SQLITE, f, &q);
    bool by_id = f && f->test_id && q.n == 1; /* the id is the only filter */
    sqlite3_stmt *st = by_id ? ss->test_by_id : NULL;
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    } else if (sqlite3_prepare_v3(ss->db, q.sql, -1, by_id ? SQLITE_PREPARE_PERSISTENT : 0, &st,
                                  NULL) != SQLITE_OK) {
        return sq_fail(ss, eb, "prepare tests query");
    }
    if (by_id)
        ss->test_by_id = st;
    for (int i = 0; i < q.n; i++) {
        enum sql_test_param p = q.params[i];
        if (p == SQL_TP_STATE || p == SQL_TP_PROTOCOL)
            sqlite3_bind_int(st, i + 1, p == SQL_TP_STATE ? (int)f->state : (int)f->protocol);
        else
            sq_bind_text(st, i + 1, sql_test_param_text(f, p));
    }
    int rc;
    struct store_test t;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        test_from_row(st, &t);
        if (cb(arg, &t))
            break;
    }
    enum cmon_err err = CMON_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = sq_fail(ss, eb, "read tests");
    if (by_id)
        sqlite3_reset(st);
    else
        sqlite3_finalize(st);
    return err;
}

enum cmon_err sq_test_distinct(struct store *s, enum store_test_field field, size_t limit,
                               store_value_cb cb, void *arg, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s); /* names: monitor_put's, never staged by ingest */
    enum cmon_err err = CMON_OK;
    char sql[256];
    sqlite3_stmt *st = NULL;
    if (sql_build_distinct(SQL_SQLITE, field, sql, sizeof sql) != 0)
        return cmon_fail(eb, CMON_ERR_INVALID, "unknown test field %d", (int)field);
    if (sqlite3_prepare_v2(ss->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sq_fail(ss, eb, "prepare distinct test values");
    sqlite3_bind_int64(st, 1, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && !cb(arg, sq_col_text(st, 0)))
        ;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = sq_fail(ss, eb, "read distinct test values");
    sqlite3_finalize(st);
    return err;
}

static enum cmon_err add_change(struct sqlite_store *ss, const char *test_id, int64_t now_ns,
                                int from, enum cmon_state to, const char *reason,
                                struct cmon_errbuf *eb)
{
    sqlite3_stmt *st = sq_stmt(ss, SQ_CHANGE_ADD, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, test_id);
    sqlite3_bind_int64(st, 2, now_ns);
    sqlite3_bind_int(st, 3, from);
    sqlite3_bind_int(st, 4, (int)to);
    sq_bind_text(st, 5, reason);
    return sq_exec_stmt(ss, st, eb, "record state change");
}

/* A few ids: a lookup each (a cached statement).  More: one statement --
 * over the listed ids (json_each, each id looked up in the primary key), or,
 * when they are a large share of all tests, one scan of every test (a row
 * read in order is cheaper than a lookup: 11 % more ingest with every test
 * touched).  The share is judged against max(rowid), the row count or
 * above it (an O(log n) read).  Scanning regardless cost 9 % of the
 * server's CPU with 40k tests at 2,000 agents. */
#define SQ_LIST_MIN_IDS 8

struct listed {
    const char *const *ids;
    size_t n;
    store_test_cb cb;
    void *arg;
};

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int pass_listed(void *arg, const struct store_test *t)
{
    struct listed *l = arg;
    const char *id = t->id;
    return bsearch(&id, l->ids, l->n, sizeof *l->ids, cmp_id) ? l->cb(l->arg, t) : 0;
}

static enum cmon_err query_list(struct store *s, const char *const *ids, size_t n,
                                store_test_cb cb, void *arg, struct cmon_errbuf *eb)
{
    char *text = store_ids_json(ids, n);
    if (!text)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    struct store_test_filter f = {.ids_json = text};
    enum cmon_err err = sq_test_query(s, &f, cb, arg, eb);
    free(text);
    return err;
}

enum cmon_err sq_test_query_ids(struct store *s, const char *const *ids, size_t n,
                                store_test_cb cb, void *arg, struct cmon_errbuf *eb)
{
    if (n <= SQ_LIST_MIN_IDS)
        return store_test_query_each(s, ids, n, cb, arg, eb);
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, SQ_TESTS_ROWID_MAX, eb);
    if (!st)
        return CMON_ERR_STORE;
    int rc = sqlite3_step(st);
    int64_t rows = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_fail(ss, eb, "count tests");
    if ((int64_t)n * 4 < rows)
        return query_list(s, ids, n, cb, arg, eb);
    struct listed l = {.ids = ids, .n = n, .cb = cb, .arg = arg};
    return sq_test_query(s, NULL, pass_listed, &l, eb);
}

/* Runs inside the caller's transaction when there is one (ingest), else alone. */
enum cmon_err sq_test_set_state(struct store *s, const char *test_id, enum cmon_state state,
                                const char *reason, int64_t now_ns, bool *changed,
                                struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    enum cmon_err ferr = sq_ingest_flush(ss, eb);
    if (ferr)
        return ferr;
    sqlite3_stmt *st = sq_stmt(ss, SQ_TEST_GET_STATE, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, test_id);
    int rc = sqlite3_step(st);
    int from = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return cmon_fail(eb, CMON_ERR_NOTFOUND, "test '%s' not found", test_id);
    if (rc != SQLITE_ROW)
        return sq_fail(ss, eb, "read test state");
    *changed = from != (int)state;
    if (*changed) {
        enum cmon_err err = add_change(ss, test_id, now_ns, from, state, reason, eb);
        if (err)
            return err;
    }
    st = sq_stmt(ss, SQ_TEST_SET_STATE, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, test_id);
    sqlite3_bind_int(st, 2, (int)state);
    sq_bind_text(st, 3, reason);
    sqlite3_bind_int64(st, 4, now_ns);
    return sq_exec_stmt(ss, st, eb, "update test state");
}

enum cmon_err sq_state_changes(struct store *s, const char *test_id, int64_t from_ns, int64_t to_ns,
                               store_change_cb cb, void *arg, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, SQ_CHANGES, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, test_id);
    sqlite3_bind_int64(st, 2, from_ns);
    sqlite3_bind_int64(st, 3, to_ns);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_state_change c = {
            .test_id = sq_col_text(st, 0),
            .at_ns = sqlite3_column_int64(st, 1),
            .from = (enum cmon_state)sqlite3_column_int(st, 2),
            .to = (enum cmon_state)sqlite3_column_int(st, 3),
            .reason = sq_col_text(st, 4),
        };
        if (cb(arg, &c))
            break;
    }
    enum cmon_err err = CMON_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = sq_fail(ss, eb, "read state changes");
    sqlite3_reset(st);
    return err;
}
