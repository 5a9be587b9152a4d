/* postgres_results.c: the write path of round results for PostgreSQL --
 * results are staged in memory and sent with one COPY per table per flush
 * (the day partitions, the roll-up queue, each test's newest round for one
 * UPDATE of the tests' live figures) -- plus exactly-once agent batches, result and
 * metric queries, roll-ups, retention (drops whole days) and paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/grow.h"
#include "model/members.h"
#include "store/pg_internal.h"
#include "store/sql_build.h"

#define NS_PER_MIN (60 * CMON_NS_PER_SEC)
#define NS_PER_HOUR (3600 * CMON_NS_PER_SEC)

enum cmon_err pg_tx_begin(struct store *s, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    pg_stage_clear(ps);
    pg_touched_clear(ps);
    pg_states_clear(ps);
    ps->n_seen = 0;
    return pg_exec(ps, "BEGIN", 0, NULL, NULL, eb, "begin");
}

enum cmon_err pg_tx_commit(struct store *s, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    enum cmon_err err = pg_flush(ps, eb);
    if (!err)
        err = pg_states_flush(ps, eb);
    if (!err)
        err = pg_seen_flush(ps, eb); /* last: the shared rows' locks, briefly */
    pg_touched_clear(ps);
    if (!err)
        err = pg_exec(ps, "COMMIT", 0, NULL, NULL, eb, "commit");
    if (err)
        pg_tx_rollback(s);
    return err;
}

void pg_tx_rollback(struct store *s)
{
    struct pg_store *ps = pg_of(s);
    pg_stage_clear(ps);
    pg_touched_clear(ps);
    pg_states_clear(ps);
    ps->n_seen = 0;
    if (PQtransactionStatus(ps->conn) != PQTRANS_IDLE)
        PQclear(PQexec(ps->conn, "ROLLBACK"));
}

enum cmon_err pg_ingest_batch_mark(struct store *s, const char *agent, int64_t seq, int64_t now_ns,
                                   bool *dup, struct cmon_errbuf *eb)
{
    char a[24], b[24];
    const char *v[] = {agent, pg_i64(a, seq), pg_i64(b, now_ns)};
    long long n = 0;
    enum cmon_err err = pg_exec(pg_of(s),
                                "INSERT INTO agent_batches (agent, seq, received_ns)"
                                " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                                3, v, &n, eb, "mark batch");
    if (!err)
        *dup = n == 0;
    return err;
}

/* ---- staging (COPY text format) ---- */

void pg_stage_clear(struct pg_store *ps)
{
    ps->stage_raw.len = ps->stage_queue.len = 0;
    ps->staged = 0;
    ps->n_stage_live = 0;
    ps->n_stage_days = 0;
}

void pg_stage_free(struct pg_store *ps)
{
    free(ps->stage_raw.p);
    free(ps->stage_queue.p);
    free(ps->stage_live);
}

static bool text_reserve(struct pg_text *t, size_t more)
{
    return cmon_grow(&t->p, &t->cap, t->len + more, 1);
}

/* Append s escaped for COPY text (NULL -> \N), then sep; room reserved. */
static void put_text(struct pg_text *t, const char *s, char sep)
{
    char *o = t->p + t->len;
    if (!s) {
        *o++ = '\\';
        *o++ = 'N';
    }
    for (; s && *s; s++) {
        char c = *s;
        if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
            *o++ = '\\';
            c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
        }
        *o++ = c;
    }
    *o++ = sep;
    t->len = (size_t)(o - t->p);
}

static void put_num(struct pg_text *t, bool has, double v, char sep)
{
    char buf[32];
    put_text(t, pg_dbl(buf, has, v), sep);
}

static void put_int(struct pg_text *t, int64_t v, char sep)
{
    char buf[24];
    put_text(t, pg_i64(buf, v), sep);
}

static bool day_staged(const struct pg_store *ps, int64_t d)
{
    for (size_t i = 0; i < ps->n_stage_days; i++) {
        if (ps->stage_days[i] == d)
            return true;
    }
    return false;
}

enum cmon_err pg_ingest_result(struct store *s, const struct store_result *sr,
                               struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    const struct cmon_round_result *r = &sr->r;
    /* escaping at most doubles a string; numbers fit in 32 bytes each */
    size_t need =
        2 * (strlen(r->test_id) + strlen(sr->agent ? sr->agent : "") + strlen(r->detail) + 32) +
        17 * 32;
    if (!text_reserve(&ps->stage_raw, need) ||
        !text_reserve(&ps->stage_queue, 2 * strlen(r->test_id) + 4 * 32) ||
        (!sr->history && !cmon_grow(&ps->stage_live, &ps->stage_live_cap, ps->n_stage_live + 1,
                                    sizeof *ps->stage_live)))
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    int64_t day = pg_day_of(r->start_ns);
    if (!day_staged(ps, day) && ps->n_stage_days == PG_MAX_STAGE_DAYS) {
        enum cmon_err err = pg_flush(ps, eb); /* many days in one batch: send what we have */
        if (err)
            return err;
    }
    if (!day_staged(ps, day))
        ps->stage_days[ps->n_stage_days++] = day;
    struct pg_text *t = &ps->stage_raw;
    put_text(t, r->test_id, '\t');
    put_int(t, r->start_ns, '\t');
    put_text(t, sr->agent ? sr->agent : "", '\t');
    put_int(t, r->checks_total, '\t');
    put_int(t, r->checks_failed, '\t');
    put_num(t, r->has_rtt, r->rtt_min_ms, '\t');
    put_num(t, r->has_rtt, r->rtt_avg_ms, '\t');
    put_num(t, r->has_rtt, r->rtt_max_ms, '\t');
    put_num(t, r->has_rtt, r->rtt_jitter_ms, '\t');
    put_text(t, cmon_diag_code(r->diagnostic), '\t');
    put_text(t, r->detail, '\t');
    put_int(t, r->http_status, '\t');
    put_num(t, r->dns_ms >= 0, r->dns_ms, '\t');
    put_num(t, r->connect_ms >= 0, r->connect_ms, '\t');
    put_num(t, r->tls_ms >= 0, r->tls_ms, '\t');
    put_num(t, r->first_byte_ms >= 0, r->first_byte_ms, '\n');
    t = &ps->stage_queue;
    put_text(t, r->test_id, '\t');
    put_int(t, r->start_ns, '\t');
    put_num(t, true, cmon_round_failed_pct(r), '\t');
    put_num(t, r->has_rtt, r->rtt_avg_ms, '\n');
    if (!sr->history)
        ps->stage_live[ps->n_stage_live++] = *r;
    ps->staged++;
    return CMON_OK;
}

/* COPY sql FROM STDIN with the rows of t. */
static enum cmon_err copy_in(struct pg_store *ps, const char *sql, const struct pg_text *t,
                             struct cmon_errbuf *eb)
{
    PGresult *res = PQexec(ps->conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        enum cmon_err err = pg_fail_res(ps, res, eb, "copy results");
        PQclear(res);
        return err;
    }
    PQclear(res);
    if ((t->len && PQputCopyData(ps->conn, t->p, (int)t->len) != 1) ||
        PQputCopyEnd(ps->conn, NULL) != 1)
        return pg_fail_res(ps, NULL, eb, "copy results");
    enum cmon_err err = CMON_OK;
    while ((res = PQgetResult(ps->conn)) != NULL) {
        if (!err && PQresultStatus(res) != PGRES_COMMAND_OK)
            err = pg_fail_res(ps, res, eb, "copy results");
        PQclear(res);
    }
    return err;
}

/* Each test's newest live round of the flush as ingest_live's COPY text
 * (reusing stage_queue, already sent). */
static enum cmon_err copy_live(struct pg_store *ps, struct cmon_errbuf *eb)
{
    const struct cmon_round_result **by = malloc((ps->n_stage_live + 1) * sizeof *by);
    if (!by)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < ps->n_stage_live; i++)
        by[i] = &ps->stage_live[i];
    size_t n = store_newest_per_test(by, ps->n_stage_live);
    struct pg_text *t = &ps->stage_queue;
    t->len = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        const struct cmon_round_result *r = by[i];
        ok = text_reserve(t, 2 * (strlen(r->test_id) + strlen(r->detail) + 32) + 4 * 32);
        if (ok) {
            put_text(t, r->test_id, '\t');
            put_int(t, r->start_ns, '\t');
            put_num(t, true, cmon_round_failed_pct(r), '\t');
            put_num(t, r->has_rtt, r->rtt_avg_ms, '\t');
            put_text(t, cmon_diag_code(r->diagnostic), '\t');
            put_text(t, r->detail, '\n');
        }
    }
    free(by);
    if (!ok)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    return copy_in(ps, "COPY ingest_live FROM STDIN", t, eb);
}

/* The tests' live figures from ingest_live, where not older than what is
 * stored, returning the updated rows for the evaluation. */
static const char update_live_sql[] =
    "UPDATE tests t SET last_result_ns = l.start_ns, checks_failed_pct = l.failed_pct,"
    "  rtt_ms = l.rtt_avg, diagnostic = l.diagnostic, detail = l.detail"
    " FROM ingest_live l"
    " WHERE t.id = l.test_id AND (t.last_result_ns IS NULL OR t.last_result_ns <= l.start_ns)"
    " RETURNING t.id, t.monitor, t.number, t.test_group, t.source, t.source_address,"
    " t.source_type, t.destination, t.destination_address, t.destination_type, t.test_config,"
    " t.protocol, t.target, t.port, t.frequency_sec, t.failed_pct_threshold,"
    " t.rtt_threshold_ms, t.group_disabled,"
    /* one hashed look-up, not an index scan of monitors per row */
    " t.monitor IN (SELECT name FROM monitors WHERE running), t.state,"
    " t.reason, t.diagnostic, t.detail, t.last_result_ns, t.checks_failed_pct, t.rtt_ms,"
    " t.state_since_ns, t.source_resource_id, t.destination_resource_id";

void pg_touched_clear(struct pg_store *ps)
{
    PQclear(ps->touched);
    free(ps->touched_order);
    free(ps->touched_valid);
    ps->touched = NULL;
    ps->touched_order = NULL;
    ps->touched_valid = NULL;
}

static int cmp_row(const void *a, const void *b, void *res)
{
    return strcmp(PQgetvalue(res, *(const int *)a, 0), PQgetvalue(res, *(const int *)b, 0));
}

/* Keep res (the updated tests) for pg_touched_find. */
static void touched_keep(struct pg_store *ps, PGresult *res)
{
    pg_touched_clear(ps);
    int n = PQntuples(res);
    ps->touched_order = malloc(((size_t)n + 1) * sizeof *ps->touched_order);
    ps->touched_valid = malloc(((size_t)n + 1) * sizeof *ps->touched_valid);
    if (!ps->touched_order || !ps->touched_valid) {
        PQclear(res);
        pg_touched_clear(ps);
        return; /* lookups fall back to queries */
    }
    for (int i = 0; i < n; i++) {
        ps->touched_order[i] = i;
        ps->touched_valid[i] = true;
    }
    qsort_r(ps->touched_order, (size_t)n, sizeof *ps->touched_order, cmp_row, res);
    ps->touched = res;
}

int pg_touched_find(struct pg_store *ps, const char *id)
{
    if (!ps->touched)
        return -1;
    int lo = 0, hi = PQntuples(ps->touched) - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, row = ps->touched_order[mid];
        int c = strcmp(id, PQgetvalue(ps->touched, row, 0));
        if (c == 0)
            return ps->touched_valid[row] ? row : -1;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

/* ---- deferred state writes ---- */

static bool text_put(struct pg_text *t, const char *s, size_t n)
{
    if (!cmon_grow(&t->p, &t->cap, t->len + n + 2, 1))
        return false;
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
    return true;
}

/* Append one element to an array literal: quoted, '"' and '\\' escaped. */
static bool array_put(struct pg_text *t, const char *s, bool quote)
{
    bool ok = text_put(t, t->len ? "," : "{", 1) && (!quote || text_put(t, "\"", 1));
    for (const char *p = s; ok && *p;) {
        size_t n = strcspn(p, "\"\\");
        ok = text_put(t, p, n);
        p += n;
        if (ok && *p) {
            ok = text_put(t, "\\", 1) && text_put(t, p, 1);
            p++;
        }
    }
    return ok && (!quote || text_put(t, "\"", 1));
}

void pg_states_clear(struct pg_store *ps)
{
    ps->st_ids.len = ps->st_states.len = ps->st_reasons.len = 0;
    ps->n_states = 0;
}

void pg_states_free(struct pg_store *ps)
{
    free(ps->st_ids.p);
    free(ps->st_states.p);
    free(ps->st_reasons.p);
    memset(&ps->st_ids, 0, sizeof ps->st_ids);
    memset(&ps->st_states, 0, sizeof ps->st_states);
    memset(&ps->st_reasons, 0, sizeof ps->st_reasons);
    ps->n_states = 0;
}

enum cmon_err pg_state_defer(struct pg_store *ps, const char *id, int row, enum cmon_state state,
                             const char *reason, int64_t now_ns, bool *changed,
                             struct cmon_errbuf *eb)
{
    if (ps->n_states && now_ns != ps->states_now_ns) {
        enum cmon_err err = pg_states_flush(ps, eb);
        if (err)
            return err;
    }
    char st[24];
    pg_i64(st, (int)state);
    if (!array_put(&ps->st_ids, id, true) || !array_put(&ps->st_states, st, false) ||
        !array_put(&ps->st_reasons, reason ? reason : "", true))
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    /* the cached row holds the state before; a later write of this test
     * in the transaction goes the direct way, after these */
    *changed = pg_col_i64(ps->touched, row, 19) != (int64_t)state;
    ps->touched_valid[row] = false;
    ps->states_now_ns = now_ns;
    ps->n_states++;
    return CMON_OK;
}

enum cmon_err pg_states_flush(struct pg_store *ps, struct cmon_errbuf *eb)
{
    if (!ps->n_states)
        return CMON_OK;
    char now[24];
    if (!text_put(&ps->st_ids, "}", 1) || !text_put(&ps->st_states, "}", 1) ||
        !text_put(&ps->st_reasons, "}", 1))
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    const char *v[] = {ps->st_ids.p, ps->st_states.p, ps->st_reasons.p,
                       pg_i64(now, ps->states_now_ns)};
    /* what pg_test_set_state does for one test, for all: lock the rows,
     * record the changes in call order, update */
    enum cmon_err err =
        pg_exec(ps,
                "WITH v AS (SELECT * FROM unnest($1::text[], $2::int[], $3::text[]) WITH ORDINALITY"
                "  AS v(id, state, reason, n)),"
                " old AS (SELECT t.id, t.state FROM tests t JOIN v ON v.id = t.id FOR UPDATE OF t),"
                " ch AS (INSERT INTO state_changes (test_id, at_ns, from_state, to_state, reason)"
                "  SELECT v.id, $4, old.state, v.state, v.reason FROM v JOIN old ON old.id = v.id"
                "  WHERE old.state <> v.state ORDER BY v.n)"
                " UPDATE tests t SET state = v.state, reason = v.reason, state_since_ns = CASE WHEN"
                "  old.state = v.state THEN t.state_since_ns ELSE $4::bigint END"
                " FROM v JOIN old ON old.id = v.id WHERE t.id = v.id",
                4, v, NULL, eb, "update test states");
    pg_states_clear(ps);
    return err;
}

enum cmon_err pg_seen_defer(struct pg_store *ps, const char *name, int64_t now_ns,
                            struct cmon_errbuf *eb)
{
    for (size_t i = 0; i < ps->n_seen; i++) {
        if (strcmp(ps->seen[i].name, name) == 0) {
            if (now_ns > ps->seen[i].ns)
                ps->seen[i].ns = now_ns;
            return CMON_OK;
        }
    }
    if (!cmon_grow(&ps->seen, &ps->seen_cap, ps->n_seen + 1, sizeof *ps->seen))
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    struct pg_seen *e = &ps->seen[ps->n_seen++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ns = now_ns;
    return CMON_OK;
}

int64_t pg_seen_pending(const struct pg_store *ps, const char *name)
{
    for (size_t i = 0; i < ps->n_seen; i++) {
        if (strcmp(ps->seen[i].name, name) == 0)
            return ps->seen[i].ns;
    }
    return 0;
}

static int cmp_seen(const void *a, const void *b)
{
    return strcmp(((const struct pg_seen *)a)->name, ((const struct pg_seen *)b)->name);
}

enum cmon_err pg_seen_flush(struct pg_store *ps, struct cmon_errbuf *eb)
{
    if (!ps->n_seen)
        return CMON_OK;
    /* one order for every replica: two transactions never wait on each other
     * in a cycle */
    qsort(ps->seen, ps->n_seen, sizeof *ps->seen, cmp_seen);
    struct pg_text names = {0}, times = {0};
    bool ok = true;
    for (size_t i = 0; ok && i < ps->n_seen; i++) {
        char ns[24];
        ok = array_put(&names, ps->seen[i].name, true) &&
             array_put(&times, pg_i64(ns, ps->seen[i].ns), false);
    }
    ok = ok && text_put(&names, "}", 1) && text_put(&times, "}", 1);
    ps->n_seen = 0;
    enum cmon_err err = CMON_ERR_NOMEM;
    if (ok) {
        const char *v[] = {names.p, times.p};
        err = pg_exec(ps,
                      "INSERT INTO agents (name, last_seen_ns)"
                      " SELECT * FROM unnest($1::text[], $2::bigint[]) ORDER BY 1"
                      " ON CONFLICT (name) DO UPDATE SET"
                      " last_seen_ns = greatest(agents.last_seen_ns, excluded.last_seen_ns)",
                      2, v, NULL, eb, "update agents");
    } else {
        cmon_fail(eb, err, "out of memory");
    }
    free(names.p);
    free(times.p);
    return err;
}

enum cmon_err pg_flush(struct pg_store *ps, struct cmon_errbuf *eb)
{
    if (!ps->staged)
        return CMON_OK;
    /* the flush renews the cached rows: they must show deferred states */
    enum cmon_err err = pg_states_flush(ps, eb);
    if (!err)
        err = pg_ensure_partitions(ps, ps->stage_days, ps->n_stage_days, eb);
    /* straight into the partitions and the roll-up queue: no staging table
     * to read back.  Rows of one day (the usual flush) go into that day's
     * partition itself, which spares PostgreSQL the routing of each row. */
    char copy_sql[80] = "COPY results FROM STDIN";
    if (ps->n_stage_days == 1)
        pg_partition_name(copy_sql + 5, sizeof copy_sql - 5, ps->stage_days[0], " FROM STDIN");
    if (!err)
        err = copy_in(ps, copy_sql, &ps->stage_raw, eb);
    if (!err)
        err = copy_in(ps, "COPY rollup_pending FROM STDIN", &ps->stage_queue, eb);
    bool live = ps->n_stage_live > 0;
    if (!err && live)
        err = copy_live(ps, eb);
    PGresult *res = err || !live ? NULL : pg_query(ps, update_live_sql, 0, NULL, eb, "store results");
    if (!err && live && !res)
        err = CMON_ERR_STORE;
    if (res)
        touched_keep(ps, res);
    else if (!live) /* history only: no test was touched */
        pg_touched_clear(ps);
    if (!err && live) /* a second flush in this transaction starts empty */
        err = pg_exec(ps, "TRUNCATE ingest_live", 0, NULL, NULL, eb, "clear staging");
    pg_stage_clear(ps);
    return err;
}

/* ---- queries ---- */

static void result_from_row(const PGresult *res, int i, struct store_result *sr)
{
    struct cmon_round_result *r = &sr->r;
    memset(sr, 0, sizeof *sr);
    sr->agent = PQgetvalue(res, i, 0);
    snprintf(r->test_id, sizeof r->test_id, "%s", PQgetvalue(res, i, 1));
    r->start_ns = pg_col_i64(res, i, 2);
    r->checks_total = (uint32_t)pg_col_i64(res, i, 3);
    r->checks_failed = (uint32_t)pg_col_i64(res, i, 4);
    r->has_rtt = !pg_col_null(res, i, 6);
    r->rtt_min_ms = pg_col_dbl(res, i, 5);
    r->rtt_avg_ms = pg_col_dbl(res, i, 6);
    r->rtt_max_ms = pg_col_dbl(res, i, 7);
    r->rtt_jitter_ms = pg_col_dbl(res, i, 8);
    if (!cmon_diag_from_code(PQgetvalue(res, i, 9), &r->diagnostic))
        r->diagnostic = CMON_DIAG_NONE;
    snprintf(r->detail, sizeof r->detail, "%s", PQgetvalue(res, i, 10));
    r->http_status = (int)pg_col_i64(res, i, 11);
    double *phase[] = {&r->dns_ms, &r->connect_ms, &r->tls_ms, &r->first_byte_ms};
    for (int k = 0; k < 4; k++)
        *phase[k] = pg_col_null(res, i, 12 + k) ? -1 : pg_col_dbl(res, i, 12 + k);
}

enum cmon_err pg_test_set_live(struct store *s, const struct cmon_round_result *r,
                               struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    enum cmon_err err = pg_flush(ps, eb);
    if (err)
        return err;
    int row = pg_touched_find(ps, r->test_id);
    if (row >= 0) /* the cached row would show the member's figures */
        ps->touched_valid[row] = false;
    char start[24], pct[32], rtt[32];
    const char *v[] = {r->test_id, pg_i64(start, r->start_ns),
                       pg_dbl(pct, true, cmon_round_failed_pct(r)),
                       pg_dbl(rtt, r->has_rtt, r->rtt_avg_ms), cmon_diag_code(r->diagnostic),
                       r->detail};
    return pg_exec(ps,
                   "UPDATE tests SET last_result_ns = $2::bigint,"
                   " checks_failed_pct = $3::float8, rtt_ms = $4::float8, diagnostic = $5,"
                   " detail = $6 WHERE id = $1 AND (last_result_ns IS NULL OR"
                   " last_result_ns <= $2::bigint)",
                   6, v, NULL, eb, "set compound figures");
}

#define PG_RESULT_COLS                                                                             \
    "SELECT agent, test_id, start_ns, checks_total, checks_failed, rtt_min, rtt_avg,"              \
    " rtt_max, rtt_jitter, diagnostic, detail, http_status, dns_ms, connect_ms, tls_ms,"           \
    " first_byte_ms FROM results WHERE "

static enum cmon_err results_read(struct pg_store *ps, const char *sql, const char *key,
                                  int64_t from_ns, int64_t to_ns, size_t limit, store_result_cb cb,
                                  void *arg, struct cmon_errbuf *eb)
{
    enum cmon_err err = pg_flush(ps, eb);
    if (err)
        return err;
    char a[24], b[24], c[24];
    const char *v[] = {key, pg_i64(a, from_ns), pg_i64(b, to_ns), pg_i64(c, (int64_t)limit)};
    PGresult *res = pg_query(ps, sql, 4, v, eb, "read results");
    if (!res)
        return CMON_ERR_STORE;
    struct store_result sr;
    for (int i = 0; i < PQntuples(res); i++) {
        result_from_row(res, i, &sr);
        if (cb(arg, &sr))
            break;
    }
    PQclear(res);
    return CMON_OK;
}

enum cmon_err pg_result_query(struct store *s, const char *test_id, int64_t from_ns, int64_t to_ns,
                              size_t limit, store_result_cb cb, void *arg, struct cmon_errbuf *eb)
{
    return results_read(pg_of(s),
                        PG_RESULT_COLS "test_id = $1 AND start_ns >= $2 AND start_ns < $3"
                                       " ORDER BY start_ns LIMIT $4",
                        test_id, from_ns, to_ns, limit, cb, arg, eb);
}

enum cmon_err pg_result_query_many(struct store *s, const char *ids_json, int64_t from_ns,
                                   int64_t to_ns, size_t limit, store_result_cb cb, void *arg,
                                   struct cmon_errbuf *eb)
{
    return results_read(pg_of(s),
                        PG_RESULT_COLS
                        "test_id IN (SELECT jsonb_array_elements_text($1::jsonb))"
                        " AND start_ns >= $2 AND start_ns < $3 ORDER BY start_ns, test_id LIMIT $4",
                        ids_json, from_ns, to_ns, limit, cb, arg, eb);
}

/* tests_last in one statement: per test, the indexes (test_id, at_ns) and
 * (test_id, start_ns) read backwards; among equal starts the row stored
 * last (results are only appended: the highest ctid). */
static const char tests_last_sql[] =
    "SELECT r.*, c.at_ns, c.from_state, c.to_state, c.reason, c.test_id"
    " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS q(e, i)"
    " LEFT JOIN LATERAL (SELECT test_id, at_ns, from_state, to_state, reason FROM state_changes"
    "  WHERE test_id = q.e->>0 AND at_ns < $2 ORDER BY at_ns DESC, id DESC LIMIT 1) c ON true"
    " LEFT JOIN LATERAL (" PG_RESULT_COLS "test_id = q.e->>0 AND start_ns >= (q.e->>1)::bigint"
    "  AND start_ns < $2 ORDER BY start_ns DESC, ctid DESC LIMIT 1) r ON true"
    " ORDER BY q.i";

/* [[id, results_from_ns], ...] as JSON text (caller frees), NULL when out of memory. */
static char *last_query_json(const struct store_last_query *tests, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, json_pack("[sI]", tests[i].test_id,
                                               (json_int_t)tests[i].results_from_ns))) {
            json_decref(a);
            a = NULL;
        }
    }
    char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return text;
}

enum cmon_err pg_tests_last(struct store *s, const struct store_last_query *tests, size_t n,
                            int64_t to_ns, store_last_cb cb, void *arg, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    enum cmon_err err = pg_flush(ps, eb);
    if (err || !n)
        return err;
    char *q = last_query_json(tests, n), to[24];
    if (!q)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    const char *v[] = {q, pg_i64(to, to_ns)};
    PGresult *res = pg_query(ps, tests_last_sql, 2, v, eb, "read the last state changes and results");
    free(q);
    if (!res)
        return CMON_ERR_STORE;
    struct store_result sr;
    for (int i = 0; i < PQntuples(res) && (size_t)i < n; i++) {
        bool has_r = !pg_col_null(res, i, 2), has_c = !pg_col_null(res, i, 16);
        struct store_state_change c = {
            .test_id = PQgetvalue(res, i, 20),
            .at_ns = pg_col_i64(res, i, 16),
            .from = (enum cmon_state)pg_col_i64(res, i, 17),
            .to = (enum cmon_state)pg_col_i64(res, i, 18),
            .reason = PQgetvalue(res, i, 19),
        };
        if (has_r)
            result_from_row(res, i, &sr);
        if (cb(arg, (size_t)i, has_c ? &c : NULL, has_r ? &sr : NULL))
            break;
    }
    PQclear(res);
    return CMON_OK;
}

/* ---- metrics ---- */

enum cmon_err pg_metric_query(struct store *s, const struct store_metric_query *q,
                              store_point_cb cb, void *arg, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    char sql[4096];
    if (sql_build_metric(SQL_POSTGRES, q, sql, sizeof sql) != 0)
        return cmon_fail(eb, CMON_ERR_INVALID, "invalid metric query");
    enum cmon_err err = pg_flush(ps, eb);
    if (err)
        return err;
    char a[24], b[24], c[24];
    const char *v[3 + STORE_MAX_DIM_FILTERS] = {pg_i64(a, q->interval_ns), pg_i64(b, q->from_ns),
                                                pg_i64(c, q->to_ns)};
    for (size_t i = 0; i < q->n_filters; i++)
        v[3 + i] = q->filters[i].value;
    PGresult *res = pg_query(ps, sql, 3 + (int)q->n_filters, v, eb, "read metrics");
    if (!res)
        return CMON_ERR_STORE;
    for (int i = 0; i < PQntuples(res); i++) {
        if (cb(arg, pg_col_i64(res, i, 0), pg_col_dbl(res, i, 1), pg_col_i64(res, i, 2)))
            break;
    }
    PQclear(res);
    return CMON_OK;
}

/* ---- roll-ups ---- */

#define ROLLUP_FOLD(table, width)                                                                  \
    " " table " AS (INSERT INTO " table " (test_id, bucket_ns, rounds, failed_pct_sum,"            \
    " failed_pct_min, failed_pct_max, rtt_n, rtt_sum, rtt_min, rtt_max)"                           \
    " SELECT test_id, start_ns / " width " * " width ", count(*), sum(failed_pct),"                \
    " min(failed_pct), max(failed_pct), count(rtt_avg), coalesce(sum(rtt_avg), 0),"                \
    " min(rtt_avg), max(rtt_avg) FROM p GROUP BY 1, 2"                                             \
    " ON CONFLICT (test_id, bucket_ns) DO UPDATE SET rounds = " table ".rounds + excluded.rounds," \
    " failed_pct_sum = " table ".failed_pct_sum + excluded.failed_pct_sum,"                        \
    " failed_pct_min = least(" table ".failed_pct_min, excluded.failed_pct_min),"                  \
    " failed_pct_max = greatest(" table ".failed_pct_max, excluded.failed_pct_max),"               \
    " rtt_n = " table ".rtt_n + excluded.rtt_n, rtt_sum = " table ".rtt_sum + excluded.rtt_sum,"   \
    " rtt_min = least(" table ".rtt_min, excluded.rtt_min),"                                       \
    " rtt_max = greatest(" table ".rtt_max, excluded.rtt_max))"

/* Drain the queue into both roll-ups in one statement (late rounds land in
 * their bucket exactly: the roll-ups keep sums). */
static const char rollup_sql[] = "WITH p AS (DELETE FROM rollup_pending RETURNING *)," ROLLUP_FOLD(
    "rollup_1m", "60000000000") "," ROLLUP_FOLD("rollup_1h",
                                                "3600000000000") " SELECT count(*) FROM p";

static enum cmon_err rollup_in_tx(struct pg_store *ps, int64_t *folded, struct cmon_errbuf *eb)
{
    PGresult *res = pg_query(ps, rollup_sql, 0, NULL, eb, "roll up");
    if (!res)
        return CMON_ERR_STORE;
    *folded = pg_col_i64(res, 0, 0);
    PQclear(res);
    return CMON_OK;
}

enum cmon_err pg_rollup(struct store *s, int64_t now_ns, int64_t *folded, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    *folded = 0;
    /* autocommit: one statement is one transaction */
    enum cmon_err err = rollup_in_tx(ps, folded, eb);
    if (err)
        return err;
    /* the writer thread calls this often: keep tomorrow's partitions ready */
    int64_t today = pg_day_of(now_ns);
    int64_t days[] = {today, today + 1, today + 2};
    err = pg_exec(ps, "BEGIN", 0, NULL, NULL, eb, "begin");
    if (!err)
        err = pg_ensure_partitions(ps, days, 3, eb);
    if (!err)
        return pg_exec(ps, "COMMIT", 0, NULL, NULL, eb, "commit");
    pg_tx_rollback(s);
    return err;
}

/* ---- retention and paths ---- */

/* Partitions entirely before before_ns: dropped whole (counting their rows). */
static enum cmon_err drop_old_days(struct pg_store *ps, int64_t before_ns, int64_t *deleted,
                                   struct cmon_errbuf *eb)
{
    char a[24];
    const char *v[] = {pg_i64(a, before_ns)};
    /* upper bound of each partition from its definition "... TO ('N')" */
    PGresult *res = pg_query(
        ps,
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'results'::regclass AND"
        " substring(pg_get_expr(c.relpartbound, c.oid) from 'TO \\(''?(-?[0-9]+)''?\\)')::numeric"
        " <= $1::numeric",
        1, v, eb, "list partitions");
    if (!res)
        return CMON_ERR_STORE;
    enum cmon_err err = CMON_OK;
    for (int i = 0; !err && i < PQntuples(res); i++) {
        char sql[160];
        const char *name = PQgetvalue(res, i, 0);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", name);
        PGresult *cnt = pg_query(ps, sql, 0, NULL, eb, "count partition");
        if (!cnt) {
            err = CMON_ERR_STORE;
            break;
        }
        *deleted += pg_col_i64(cnt, 0, 0);
        PQclear(cnt);
        snprintf(sql, sizeof sql, "DROP TABLE %s", name);
        err = pg_exec(ps, sql, 0, NULL, NULL, eb, "drop partition");
    }
    PQclear(res);
    return err;
}

enum cmon_err pg_retention(struct store *s, int64_t before_ns, int64_t *deleted,
                           struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    static const char *const sql[] = {
        "DELETE FROM results WHERE start_ns < $1",
        "DELETE FROM paths WHERE start_ns < $1",
        "DELETE FROM state_changes WHERE at_ns < $1",
        "DELETE FROM agent_batches WHERE received_ns < $1",
    };
    char a[24];
    const char *v[] = {pg_i64(a, before_ns)};
    int64_t folded;
    *deleted = 0;
    enum cmon_err err = pg_exec(ps, "BEGIN", 0, NULL, NULL, eb, "begin");
    if (!err) /* never drop rows not yet rolled up */
        err = rollup_in_tx(ps, &folded, eb);
    if (!err)
        err = drop_old_days(ps, before_ns, deleted, eb);
    for (size_t i = 0; !err && i < sizeof sql / sizeof sql[0]; i++) {
        long long n = 0;
        err = pg_exec(ps, sql[i], 1, v, &n, eb, "retention");
        if (i == 0)
            *deleted += n;
    }
    if (!err)
        return pg_exec(ps, "COMMIT", 0, NULL, NULL, eb, "commit");
    pg_tx_rollback(s);
    return err;
}

enum cmon_err pg_path_put(struct store *s, const char *test_id, int64_t start_ns,
                          const char *hops_json, struct cmon_errbuf *eb)
{
    char a[24];
    const char *v[] = {test_id, pg_i64(a, start_ns), hops_json};
    return pg_exec(pg_of(s),
                   "INSERT INTO paths (test_id, start_ns, hops) VALUES ($1, $2, $3)"
                   " ON CONFLICT (test_id, start_ns) DO UPDATE SET hops = excluded.hops",
                   3, v, NULL, eb, "store path");
}

enum cmon_err pg_path_latest(struct store *s, const char *test_id, char **hops_json,
                             int64_t *start_ns, struct cmon_errbuf *eb)
{
    const char *v[] = {test_id};
    PGresult *res = pg_query(pg_of(s),
                             "SELECT hops, start_ns FROM paths WHERE test_id = $1"
                             " ORDER BY start_ns DESC LIMIT 1",
                             1, v, eb, "read path");
    if (!res)
        return CMON_ERR_STORE;
    enum cmon_err err = CMON_OK;
    if (PQntuples(res) == 0) {
        err = cmon_fail(eb, CMON_ERR_NOTFOUND, "no path for test '%s'", test_id);
    } else {
        *hops_json = strdup(PQgetvalue(res, 0, 0));
        *start_ns = pg_col_i64(res, 0, 1);
        if (!*hops_json)
            err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    }
    PQclear(res);
    return err;
}

enum cmon_err pg_path_query(struct store *s, const char *test_id, int64_t from_ns, int64_t to_ns,
                            size_t limit, store_path_cb cb, void *arg, struct cmon_errbuf *eb)
{
    char a[24], b[24], c[24];
    const char *v[] = {test_id, pg_i64(a, from_ns), pg_i64(b, to_ns),
                       pg_i64(c, (int64_t)(limit > 1000000 ? 1000000 : limit))};
    PGresult *res = pg_query(pg_of(s),
                             "SELECT start_ns, hops FROM paths WHERE test_id = $1 AND"
                             " start_ns >= $2 AND start_ns < $3 ORDER BY start_ns LIMIT $4",
                             4, v, eb, "read paths");
    if (!res)
        return CMON_ERR_STORE;
    for (int i = 0; i < PQntuples(res); i++) {
        if (cb(arg, pg_col_i64(res, i, 0), PQgetvalue(res, i, 1)) != 0)
            break;
    }
    PQclear(res);
    return CMON_OK;
}
