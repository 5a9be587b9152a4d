/* sqlite_results.c: the write path of round results (batched transactions,
 * exactly-once agent batches),
 * roll-ups folded set-wise from raw rows, result and metric queries,
 * traceroute paths and retention. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/grow.h"
#include "store/sql_build.h"
#include "store/sqlite_internal.h"

#define NS_PER_MIN (60 * CMON_NS_PER_SEC)
#define NS_PER_HOUR (3600 * CMON_NS_PER_SEC)

static enum cmon_err run_cached(struct sqlite_store *ss, enum sq_stmt id, struct cmon_errbuf *eb,
                                const char *what)
{
    sqlite3_stmt *st = sq_stmt(ss, id, eb);
    return st ? sq_exec_stmt(ss, st, eb, what) : CMON_ERR_STORE;
}

/* A result staged by sq_ingest_result until sq_ingest_flush. */
struct sq_staged {
    struct cmon_round_result r;
    char agent[64];
    bool history; /* raw history only, not the live figures */
};

/* Rows per multi-row INSERT: one statement step for many rows (16 bound
 * values each, well under SQLite's limit of 32766). */
#define SQ_RESULTS_PER_INSERT 64
#define SQ_RESULT_COLS 16

void sq_stage_free(struct sqlite_store *ss)
{
    free(ss->staged);
    ss->staged = NULL;
    ss->n_staged = ss->staged_cap = 0;
}

enum cmon_err sq_tx_begin(struct store *s, struct cmon_errbuf *eb)
{
    sq_of(s)->n_staged = 0;
    return run_cached(sq_of(s), SQ_BEGIN, eb, "begin");
}

enum cmon_err sq_tx_commit(struct store *s, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    enum cmon_err err = sq_ingest_flush(ss, eb);
    return err ? err : run_cached(ss, SQ_COMMIT, eb, "commit");
}

void sq_tx_rollback(struct store *s)
{
    struct sqlite_store *ss = sq_of(s);
    ss->n_staged = 0;
    if (!sqlite3_get_autocommit(ss->db))
        run_cached(ss, SQ_ROLLBACK, NULL, "rollback");
}

enum cmon_err sq_ingest_batch_mark(struct store *s, const char *agent, int64_t seq, int64_t now_ns,
                                   bool *dup, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, SQ_BATCH_MARK, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, agent);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_bind_int64(st, 3, now_ns);
    enum cmon_err err = sq_exec_stmt(ss, st, eb, "mark batch");
    if (!err)
        *dup = sqlite3_changes(ss->db) == 0;
    return err;
}

static void bind_phase(sqlite3_stmt *st, int i, double v)
{
    sq_bind_opt_double(st, i, v >= 0, v);
}

/* Bind one raw row's SQ_RESULT_COLS values from parameter base + 1 on. */
static void bind_raw(sqlite3_stmt *st, int base, const struct cmon_round_result *r,
                     const char *agent)
{
    sq_bind_text(st, base + 1, r->test_id);
    sqlite3_bind_int64(st, base + 2, r->start_ns);
    sq_bind_text(st, base + 3, agent);
    sqlite3_bind_int64(st, base + 4, r->checks_total);
    sqlite3_bind_int64(st, base + 5, r->checks_failed);
    sq_bind_opt_double(st, base + 6, r->has_rtt, r->rtt_min_ms);
    sq_bind_opt_double(st, base + 7, r->has_rtt, r->rtt_avg_ms);
    sq_bind_opt_double(st, base + 8, r->has_rtt, r->rtt_max_ms);
    sq_bind_opt_double(st, base + 9, r->has_rtt, r->rtt_jitter_ms);
    sq_bind_text(st, base + 10, cmon_diag_code(r->diagnostic));
    sq_bind_text(st, base + 11, r->detail);
    sqlite3_bind_int(st, base + 12, r->http_status);
    bind_phase(st, base + 13, r->dns_ms);
    bind_phase(st, base + 14, r->connect_ms);
    bind_phase(st, base + 15, r->tls_ms);
    bind_phase(st, base + 16, r->first_byte_ms);
}

static enum cmon_err insert_raw(struct sqlite_store *ss, const struct cmon_round_result *r,
                                const char *agent, struct cmon_errbuf *eb)
{
    sqlite3_stmt *st = sq_stmt(ss, SQ_RESULT_ADD, eb);
    if (!st)
        return CMON_ERR_STORE;
    bind_raw(st, 0, r, agent);
    return sq_exec_stmt(ss, st, eb, "store result");
}

/* The multi-row INSERT, prepared on first use and kept. */
static sqlite3_stmt *insert_many_stmt(struct sqlite_store *ss, struct cmon_errbuf *eb)
{
    if (ss->result_add_many) {
        sqlite3_reset(ss->result_add_many);
        return ss->result_add_many;
    }
    static const char head[] =
        "INSERT INTO results (test_id, start_ns, agent, checks_total, checks_failed, rtt_min,"
        " rtt_avg, rtt_max, rtt_jitter, diagnostic, detail, http_status, dns_ms, connect_ms,"
        " tls_ms, first_byte_ms) VALUES ";
    static const char row[] = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    char sql[sizeof head + SQ_RESULTS_PER_INSERT * sizeof row];
    size_t len = (size_t)snprintf(sql, sizeof sql, "%s", head);
    for (int i = 0; i < SQ_RESULTS_PER_INSERT; i++)
        len += (size_t)snprintf(sql + len, sizeof sql - len, "%s%s", i ? "," : "", row);
    if (sqlite3_prepare_v3(ss->db, sql, (int)len, SQLITE_PREPARE_PERSISTENT, &ss->result_add_many,
                           NULL) != SQLITE_OK) {
        sq_fail(ss, eb, "prepare");
        return NULL;
    }
    return ss->result_add_many;
}

/* Raw rows in arrival order (their ids are the roll-ups' watermark). */
static enum cmon_err write_raw(struct sqlite_store *ss, struct cmon_errbuf *eb)
{
    size_t i = 0;
    enum cmon_err err = CMON_OK;
    for (; !err && i + SQ_RESULTS_PER_INSERT <= ss->n_staged; i += SQ_RESULTS_PER_INSERT) {
        sqlite3_stmt *st = insert_many_stmt(ss, eb);
        if (!st)
            return CMON_ERR_STORE;
        for (int k = 0; k < SQ_RESULTS_PER_INSERT; k++) {
            const struct sq_staged *x = &ss->staged[i + (size_t)k];
            bind_raw(st, k * SQ_RESULT_COLS, &x->r, x->agent);
        }
        err = sq_exec_stmt(ss, st, eb, "store results");
    }
    for (; !err && i < ss->n_staged; i++)
        err = insert_raw(ss, &ss->staged[i].r, ss->staged[i].agent, eb);
    return err;
}

static enum cmon_err update_latest(struct sqlite_store *ss, const struct cmon_round_result *r,
                                   struct cmon_errbuf *eb)
{
    sqlite3_stmt *st = sq_stmt(ss, SQ_TEST_LATEST, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, r->test_id);
    sqlite3_bind_int64(st, 2, r->start_ns);
    sqlite3_bind_double(st, 3, cmon_round_failed_pct(r));
    sq_bind_opt_double(st, 4, r->has_rtt, r->rtt_avg_ms);
    sq_bind_text(st, 5, cmon_diag_code(r->diagnostic));
    sq_bind_text(st, 6, r->detail);
    return sq_exec_stmt(ss, st, eb, "update test");
}

/* Each test's live figures once, from its newest staged round. */
static enum cmon_err write_latest(struct sqlite_store *ss, struct cmon_errbuf *eb)
{
    const struct cmon_round_result **by = malloc((ss->n_staged + 1) * sizeof *by);
    if (!by)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < ss->n_staged; i++) {
        if (!ss->staged[i].history)
            by[n++] = &ss->staged[i].r;
    }
    n = store_newest_per_test(by, n);
    enum cmon_err err = CMON_OK;
    for (size_t i = 0; !err && i < n; i++)
        err = update_latest(ss, by[i], eb);
    free(by);
    return err;
}

enum cmon_err sq_ingest_flush(struct sqlite_store *ss, struct cmon_errbuf *eb)
{
    if (!ss->n_staged)
        return CMON_OK;
    enum cmon_err err = write_raw(ss, eb);
    if (!err)
        err = write_latest(ss, eb);
    ss->n_staged = 0;
    return err;
}

enum cmon_err sq_ingest_result(struct store *s, const struct store_result *sr,
                               struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    const char *agent = sr->agent ? sr->agent : "";
    if (sqlite3_get_autocommit(ss->db)) { /* outside an ingest transaction: now */
        enum cmon_err err = insert_raw(ss, &sr->r, agent, eb);
        return err || sr->history ? err : update_latest(ss, &sr->r, eb);
    }
    if (!cmon_grow(&ss->staged, &ss->staged_cap, ss->n_staged + 1, sizeof *ss->staged))
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    struct sq_staged *x = &ss->staged[ss->n_staged];
    if (snprintf(x->agent, sizeof x->agent, "%s", agent) >= (int)sizeof x->agent) {
        /* a longer agent name than any caller sends: write it directly */
        enum cmon_err err = sq_ingest_flush(ss, eb);
        if (!err)
            err = insert_raw(ss, &sr->r, agent, eb);
        return err || sr->history ? err : update_latest(ss, &sr->r, eb);
    }
    x->r = sr->r;
    x->history = sr->history;
    ss->n_staged++;
    return CMON_OK;
}

static double col_phase(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_double(st, i);
}

static void result_from_row(sqlite3_stmt *st, struct store_result *sr)
{
    struct cmon_round_result *r = &sr->r;
    memset(sr, 0, sizeof *sr);
    sr->agent = sq_col_text(st, 0);
    snprintf(r->test_id, sizeof r->test_id, "%s", sq_col_text(st, 1));
    r->start_ns = sqlite3_column_int64(st, 2);
    r->checks_total = (uint32_t)sqlite3_column_int64(st, 3);
    r->checks_failed = (uint32_t)sqlite3_column_int64(st, 4);
    r->has_rtt = sqlite3_column_type(st, 6) != SQLITE_NULL;
    r->rtt_min_ms = sqlite3_column_double(st, 5);
    r->rtt_avg_ms = sqlite3_column_double(st, 6);
    r->rtt_max_ms = sqlite3_column_double(st, 7);
    r->rtt_jitter_ms = sqlite3_column_double(st, 8);
    if (!cmon_diag_from_code(sq_col_text(st, 9), &r->diagnostic))
        r->diagnostic = CMON_DIAG_NONE;
    snprintf(r->detail, sizeof r->detail, "%s", sq_col_text(st, 10));
    r->http_status = sqlite3_column_int(st, 11);
    r->dns_ms = col_phase(st, 12);
    r->connect_ms = col_phase(st, 13);
    r->tls_ms = col_phase(st, 14);
    r->first_byte_ms = col_phase(st, 15);
}

enum cmon_err sq_test_set_live(struct store *s, const struct cmon_round_result *r,
                               struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    enum cmon_err err = sq_ingest_flush(ss, eb);
    return err ? err : update_latest(ss, r, eb);
}

static enum cmon_err results_read(struct sqlite_store *ss, enum sq_stmt which, const char *key,
                                  int64_t from_ns, int64_t to_ns, size_t limit, store_result_cb cb,
                                  void *arg, struct cmon_errbuf *eb)
{
    enum cmon_err ferr = sq_ingest_flush(ss, eb); /* the ingest's own staged rows count */
    if (ferr)
        return ferr;
    sqlite3_stmt *st = sq_stmt(ss, which, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, key);
    sqlite3_bind_int64(st, 2, from_ns);
    sqlite3_bind_int64(st, 3, to_ns);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
    int rc;
    struct store_result sr;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        result_from_row(st, &sr);
        if (cb(arg, &sr))
            break;
    }
    enum cmon_err err = CMON_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = sq_fail(ss, eb, "read results");
    sqlite3_reset(st);
    return err;
}

enum cmon_err sq_result_query(struct store *s, const char *test_id, int64_t from_ns, int64_t to_ns,
                              size_t limit, store_result_cb cb, void *arg, struct cmon_errbuf *eb)
{
    return results_read(sq_of(s), SQ_RESULTS, test_id, from_ns, to_ns, limit, cb, arg, eb);
}

enum cmon_err sq_result_query_many(struct store *s, const char *ids_json, int64_t from_ns,
                                   int64_t to_ns, size_t limit, store_result_cb cb, void *arg,
                                   struct cmon_errbuf *eb)
{
    return results_read(sq_of(s), SQ_RESULTS_MANY, ids_json, from_ns, to_ns, limit, cb, arg, eb);
}

static bool step_ok(int rc)
{
    return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

static enum cmon_err tests_last_read(struct sqlite_store *ss, const struct store_last_query *tests,
                                     size_t n, int64_t to_ns, store_last_cb cb, void *arg,
                                     struct cmon_errbuf *eb)
{
    sqlite3_stmt *ch = sq_stmt(ss, SQ_CHANGE_LAST, eb), *rs = sq_stmt(ss, SQ_RESULT_LAST, eb);
    if (!ch || !rs)
        return CMON_ERR_STORE;
    enum cmon_err err = CMON_OK;
    for (size_t i = 0; i < n && !err; i++) {
        sq_bind_text(ch, 1, tests[i].test_id);
        sqlite3_bind_int64(ch, 2, to_ns);
        sq_bind_text(rs, 1, tests[i].test_id);
        sqlite3_bind_int64(rs, 2, tests[i].results_from_ns);
        sqlite3_bind_int64(rs, 3, to_ns);
        int rc1 = sqlite3_step(ch), rc2 = sqlite3_step(rs);
        struct store_state_change c = {0};
        struct store_result sr;
        if (!step_ok(rc1) || !step_ok(rc2))
            err = sq_fail(ss, eb, "read the last state change and result");
        if (rc1 == SQLITE_ROW)
            c = (struct store_state_change){
                .test_id = sq_col_text(ch, 0),
                .at_ns = sqlite3_column_int64(ch, 1),
                .from = (enum cmon_state)sqlite3_column_int(ch, 2),
                .to = (enum cmon_state)sqlite3_column_int(ch, 3),
                .reason = sq_col_text(ch, 4),
            };
        if (rc2 == SQLITE_ROW)
            result_from_row(rs, &sr);
        bool stop = !err && cb(arg, i, rc1 == SQLITE_ROW ? &c : NULL,
                               rc2 == SQLITE_ROW ? &sr : NULL);
        sqlite3_reset(ch);
        sqlite3_reset(rs);
        if (stop)
            break;
    }
    return err;
}

/* Outside a transaction, all of them in one read transaction: one
 * snapshot, one lock. */
enum cmon_err sq_tests_last(struct store *s, const struct store_last_query *tests, size_t n,
                            int64_t to_ns, store_last_cb cb, void *arg, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    enum cmon_err err = sq_ingest_flush(ss, eb); /* the ingest's own staged rows count */
    if (err)
        return err;
    bool own = sqlite3_get_autocommit(ss->db);
    if (own && (err = sq_exec(ss, "BEGIN", eb)))
        return err;
    err = tests_last_read(ss, tests, n, to_ns, cb, arg, eb);
    if (own) {
        struct cmon_errbuf eb2;
        enum cmon_err end = sq_exec(ss, "COMMIT", err ? &eb2 : eb);
        err = err ? err : end;
    }
    return err;
}

/* ---- metrics ---- */

enum cmon_err sq_metric_query(struct store *s, const struct store_metric_query *q,
                              store_point_cb cb, void *arg, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    char sql[4096];
    if (sql_build_metric(SQL_SQLITE, q, sql, sizeof sql) != 0)
        return cmon_fail(eb, CMON_ERR_INVALID, "invalid metric query");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ss->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sq_fail(ss, eb, "prepare metric query");
    sqlite3_bind_int64(st, 1, q->interval_ns);
    sqlite3_bind_int64(st, 2, q->from_ns);
    sqlite3_bind_int64(st, 3, q->to_ns);
    for (size_t i = 0; i < q->n_filters; i++)
        sq_bind_text(st, (int)i + 4, q->filters[i].value);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cb(arg, sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1),
               sqlite3_column_int64(st, 2)))
            break;
    }
    enum cmon_err err = CMON_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = sq_fail(ss, eb, "read metrics");
    sqlite3_finalize(st);
    return err;
}

/* ---- roll-ups ---- */

static enum cmon_err fold(struct sqlite_store *ss, enum sq_stmt id, int64_t lo, int64_t hi,
                          int64_t width, struct cmon_errbuf *eb)
{
    sqlite3_stmt *st = sq_stmt(ss, id, eb);
    if (!st)
        return CMON_ERR_STORE;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    sqlite3_bind_int64(st, 3, width);
    return sq_exec_stmt(ss, st, eb, "roll up");
}

static enum cmon_err rollup_range(struct sqlite_store *ss, int64_t *lo, int64_t *hi,
                                  struct cmon_errbuf *eb)
{
    sqlite3_stmt *st = sq_stmt(ss, SQ_ROLLUP_RANGE, eb);
    if (!st)
        return CMON_ERR_STORE;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return sq_fail(ss, eb, "read roll-up state");
    }
    *lo = sqlite3_column_int64(st, 0);
    *hi = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return CMON_OK;
}

/* Fold (watermark, max id] inside the caller's transaction. */
static enum cmon_err rollup_in_tx(struct sqlite_store *ss, int64_t *folded, struct cmon_errbuf *eb)
{
    int64_t lo = 0, hi = 0;
    *folded = 0;
    enum cmon_err err = rollup_range(ss, &lo, &hi, eb);
    if (err || hi <= lo)
        return err;
    err = fold(ss, SQ_ROLLUP_1M, lo, hi, NS_PER_MIN, eb);
    if (!err)
        err = fold(ss, SQ_ROLLUP_1H, lo, hi, NS_PER_HOUR, eb);
    sqlite3_stmt *st = err ? NULL : sq_stmt(ss, SQ_ROLLUP_MARK, eb);
    if (!st)
        return err ? err : CMON_ERR_STORE;
    sqlite3_bind_int64(st, 1, hi);
    err = sq_exec_stmt(ss, st, eb, "mark roll-up");
    if (!err)
        *folded = hi - lo;
    return err;
}

enum cmon_err sq_rollup(struct store *s, int64_t now_ns, int64_t *folded, struct cmon_errbuf *eb)
{
    (void)now_ns; /* SQLite has no partitions to keep ahead */
    struct sqlite_store *ss = sq_of(s);
    enum cmon_err err = run_cached(ss, SQ_BEGIN, eb, "begin");
    if (!err)
        err = rollup_in_tx(ss, folded, eb);
    if (!err)
        err = run_cached(ss, SQ_COMMIT, eb, "commit");
    if (err)
        sq_tx_rollback(s);
    return err;
}

/* ---- retention and paths ---- */

enum cmon_err sq_retention(struct store *s, int64_t before_ns, int64_t *deleted,
                           struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    static const char *const sql[] = {
        "DELETE FROM results WHERE start_ns < ?1",
        "DELETE FROM paths WHERE start_ns < ?1",
        "DELETE FROM state_changes WHERE at_ns < ?1",
        "DELETE FROM agent_batches WHERE received_ns < ?1",
    };
    int64_t folded;
    *deleted = 0;
    enum cmon_err err = sq_exec(ss, "BEGIN IMMEDIATE", eb);
    if (!err) /* never drop rows not yet rolled up */
        err = rollup_in_tx(ss, &folded, eb);
    for (size_t i = 0; !err && i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(ss->db, sql[i], -1, &st, NULL) != SQLITE_OK) {
            err = sq_fail(ss, eb, "prepare retention");
            break;
        }
        sqlite3_bind_int64(st, 1, before_ns);
        err = sq_exec_stmt(ss, st, eb, "retention");
        if (!err && i == 0)
            *deleted = sqlite3_changes(ss->db);
        sqlite3_finalize(st);
    }
    /* Row ids are max + 1: once the table is empty they restart at 1, so
     * the watermark must follow (everything left was folded above). */
    if (!err)
        err = sq_exec(ss,
                      "UPDATE rollup_state SET last_id ="
                      " (SELECT coalesce(max(id), 0) FROM results)",
                      eb);
    if (err) {
        sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
        return err;
    }
    return sq_exec(ss, "COMMIT", eb);
}

enum cmon_err sq_path_put(struct store *s, const char *test_id, int64_t start_ns,
                          const char *hops_json, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, SQ_PATH_PUT, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, test_id);
    sqlite3_bind_int64(st, 2, start_ns);
    sq_bind_text(st, 3, hops_json);
    return sq_exec_stmt(ss, st, eb, "store path");
}

enum cmon_err sq_path_latest(struct store *s, const char *test_id, char **hops_json,
                             int64_t *start_ns, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, SQ_PATH_LATEST, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, test_id);
    int rc = sqlite3_step(st);
    enum cmon_err err = CMON_OK;
    if (rc == SQLITE_ROW) {
        *hops_json = strdup(sq_col_text(st, 0));
        *start_ns = sqlite3_column_int64(st, 1);
        if (!*hops_json)
            err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        err = cmon_fail(eb, CMON_ERR_NOTFOUND, "no path for test '%s'", test_id);
    } else {
        err = sq_fail(ss, eb, "read path");
    }
    sqlite3_reset(st);
    return err;
}
