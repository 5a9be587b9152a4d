/* pg_copy.c: copying a SQLite store into PostgreSQL (store/copy.h).  Both
 * schemas use the same column names, so each table is one SELECT on SQLite
 * streamed into one COPY on PostgreSQL (registered agents, action groups and
 * alert history included); raw rows the SQLite roll-ups have not
 * folded yet go to PostgreSQL's roll-up queue. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "store/copy.h"
#include "store/pg_internal.h"

struct copy_table {
    const char *name;   /* for progress */
    const char *select; /* on SQLite */
    const char *target; /* PostgreSQL table (columns) */
};

static const struct copy_table tables[] = {
    {"monitors", "SELECT name, body, running, created_ns, updated_ns FROM monitors",
     "monitors (name, body, running, created_ns, updated_ns)"},
    {"tests",
     "SELECT id, monitor, number, test_group, source, source_address, source_type,"
     " destination, destination_address, destination_type, test_config, protocol, target, port,"
     " frequency_sec, failed_pct_threshold, rtt_threshold_ms, group_disabled, state, reason,"
     " state_since_ns, last_result_ns, checks_failed_pct, rtt_ms, diagnostic, detail,"
     " source_resource_id, destination_resource_id FROM tests",
     "tests (id, monitor, number, test_group, source, source_address, source_type,"
     " destination, destination_address, destination_type, test_config, protocol, target, port,"
     " frequency_sec, failed_pct_threshold, rtt_threshold_ms, group_disabled, state, reason,"
     " state_since_ns, last_result_ns, checks_failed_pct, rtt_ms, diagnostic, detail,"
     " source_resource_id, destination_resource_id)"},
    {"results",
     "SELECT test_id, start_ns, agent, checks_total, checks_failed, rtt_min, rtt_avg, rtt_max,"
     " rtt_jitter, diagnostic, detail, http_status, dns_ms, connect_ms, tls_ms, first_byte_ms"
     " FROM results ORDER BY id",
     "results (test_id, start_ns, agent, checks_total, checks_failed, rtt_min, rtt_avg, rtt_max,"
     " rtt_jitter, diagnostic, detail, http_status, dns_ms, connect_ms, tls_ms, first_byte_ms)"},
    {"rollup_pending",
     "SELECT test_id, start_ns, coalesce(100.0 * checks_failed / checks_total, 100), rtt_avg"
     " FROM results WHERE id > (SELECT last_id FROM rollup_state) ORDER BY id",
     "rollup_pending (test_id, start_ns, failed_pct, rtt_avg)"},
    {"rollup_1m",
     "SELECT test_id, bucket_ns, rounds, failed_pct_sum, failed_pct_min, failed_pct_max, rtt_n,"
     " rtt_sum, rtt_min, rtt_max FROM rollup_1m",
     "rollup_1m (test_id, bucket_ns, rounds, failed_pct_sum, failed_pct_min, failed_pct_max,"
     " rtt_n, rtt_sum, rtt_min, rtt_max)"},
    {"rollup_1h",
     "SELECT test_id, bucket_ns, rounds, failed_pct_sum, failed_pct_min, failed_pct_max, rtt_n,"
     " rtt_sum, rtt_min, rtt_max FROM rollup_1h",
     "rollup_1h (test_id, bucket_ns, rounds, failed_pct_sum, failed_pct_min, failed_pct_max,"
     " rtt_n, rtt_sum, rtt_min, rtt_max)"},
    {"paths", "SELECT test_id, start_ns, hops FROM paths", "paths (test_id, start_ns, hops)"},
    {"state_changes",
     "SELECT test_id, at_ns, from_state, to_state, reason FROM state_changes ORDER BY rowid",
     "state_changes (test_id, at_ns, from_state, to_state, reason)"},
    {"agents", "SELECT name, last_seen_ns FROM agents", "agents (name, last_seen_ns)"},
    {"agent_batches", "SELECT agent, seq, received_ns FROM agent_batches",
     "agent_batches (agent, seq, received_ns)"},
    {"alert_rules", "SELECT name, body, monitor FROM alert_rules",
     "alert_rules (name, body, monitor)"},
    {"alert_events", "SELECT rule, test_id, at_ns, message FROM alert_events ORDER BY id",
     "alert_events (rule, test_id, at_ns, message)"},
    {"tokens", "SELECT hash, role, name, created_ns FROM tokens",
     "tokens (hash, role, name, created_ns)"},
    {"agent_registry",
     "SELECT name, version, addresses, registered_ns, heartbeat_ns, heartbeat_sec, spool,"
     " region FROM agent_registry",
     "agent_registry (name, version, addresses, registered_ns, heartbeat_ns, heartbeat_sec,"
     " spool, region)"},
    {"action_groups", "SELECT name, body FROM action_groups", "action_groups (name, body)"},
    {"alerts", "SELECT key, starts_ns, rule, state, updated_ns, monitors, body FROM alerts",
     "alerts (key, starts_ns, rule, state, updated_ns, monitors, body)"},
    {"alert_transitions",
     "SELECT key, rule, event, at_ns, value FROM alert_transitions ORDER BY id",
     "alert_transitions (key, rule, event, at_ns, value)"},
};

struct copy_buf {
    char *p;
    size_t len, cap;
};

static bool buf_put(struct copy_buf *b, const char *s, size_t n)
{
    if (!cmon_grow(&b->p, &b->cap, b->len + n, 1))
        return false;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return true;
}

/* One SQLite value in COPY text form. */
static bool put_value(struct copy_buf *b, sqlite3_stmt *st, int i)
{
    char num[40];
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        return buf_put(b, "\\N", 2);
    case SQLITE_INTEGER:
        return buf_put(b, num,
                       (size_t)snprintf(num, sizeof num, "%lld", sqlite3_column_int64(st, i)));
    case SQLITE_FLOAT:
        return buf_put(b, num,
                       (size_t)snprintf(num, sizeof num, "%.17g", sqlite3_column_double(st, i)));
    default:
        break;
    }
    const char *t = (const char *)sqlite3_column_text(st, i);
    for (; t && *t; t++) {
        const char *esc = *t == '\\'   ? "\\\\"
                          : *t == '\t' ? "\\t"
                          : *t == '\n' ? "\\n"
                          : *t == '\r' ? "\\r"
                                       : NULL;
        if (!(esc ? buf_put(b, esc, 2) : buf_put(b, t, 1)))
            return false;
    }
    return true;
}

static enum cmon_err send_buf(struct pg_store *ps, struct copy_buf *b, struct cmon_errbuf *eb)
{
    if (b->len && PQputCopyData(ps->conn, b->p, (int)b->len) != 1)
        return pg_fail_res(ps, NULL, eb, "copy");
    b->len = 0;
    return CMON_OK;
}

static enum cmon_err stream_rows(struct pg_store *ps, sqlite3_stmt *st, int64_t *rows,
                                 struct cmon_errbuf *eb)
{
    struct copy_buf b = {0};
    enum cmon_err err = CMON_OK;
    int rc, cols = sqlite3_column_count(st);
    while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; !err && i < cols; i++) {
            if (!put_value(&b, st, i) || !buf_put(&b, i + 1 < cols ? "\t" : "\n", 1))
                err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
        }
        (*rows)++;
        if (!err && b.len > (1 << 20))
            err = send_buf(ps, &b, eb);
    }
    if (!err && rc != SQLITE_DONE)
        err = cmon_fail(eb, CMON_ERR_STORE, "sqlite: read: %s",
                        sqlite3_errmsg(sqlite3_db_handle(st)));
    if (!err)
        err = send_buf(ps, &b, eb);
    free(b.p);
    return err;
}

static enum cmon_err copy_table(struct pg_store *ps, sqlite3 *db, const struct copy_table *t,
                                int64_t *rows, struct cmon_errbuf *eb)
{
    sqlite3_stmt *st;
    *rows = 0;
    if (sqlite3_prepare_v2(db, t->select, -1, &st, NULL) != SQLITE_OK)
        return cmon_fail(eb, CMON_ERR_STORE, "sqlite: %s: %s", t->name, sqlite3_errmsg(db));
    char sql[1024];
    snprintf(sql, sizeof sql, "COPY %s FROM STDIN", t->target);
    PGresult *res = PQexec(ps->conn, sql);
    enum cmon_err err = CMON_OK;
    if (PQresultStatus(res) != PGRES_COPY_IN)
        err = pg_fail_res(ps, res, eb, t->name);
    PQclear(res);
    if (!err) {
        err = stream_rows(ps, st, rows, eb);
        PQputCopyEnd(ps->conn, err ? "cmon migrate: source read failed" : NULL);
        while ((res = PQgetResult(ps->conn)) != NULL) {
            if (!err && PQresultStatus(res) != PGRES_COMMAND_OK)
                err = pg_fail_res(ps, res, eb, t->name);
            PQclear(res);
        }
    }
    sqlite3_finalize(st);
    return err;
}

/* Every day that has raw results needs its partition before the COPY. */
static enum cmon_err make_partitions(struct pg_store *ps, sqlite3 *db, struct cmon_errbuf *eb)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT DISTINCT start_ns FROM results", -1, &st, NULL) != SQLITE_OK)
        return cmon_fail(eb, CMON_ERR_STORE, "sqlite: %s", sqlite3_errmsg(db));
    int64_t days[PG_MAX_STAGE_DAYS];
    size_t n = 0;
    enum cmon_err err = CMON_OK;
    while (!err && sqlite3_step(st) == SQLITE_ROW) {
        int64_t d = pg_day_of(sqlite3_column_int64(st, 0));
        bool seen = false;
        for (size_t i = 0; i < n; i++)
            seen |= days[i] == d;
        if (seen)
            continue;
        if (n == PG_MAX_STAGE_DAYS) {
            err = pg_ensure_partitions(ps, days, n, eb);
            n = 0;
        }
        days[n++] = d;
    }
    if (!err && n)
        err = pg_ensure_partitions(ps, days, n, eb);
    sqlite3_finalize(st);
    return err;
}

static enum cmon_err target_empty(struct pg_store *ps, struct cmon_errbuf *eb)
{
    PGresult *res = pg_query(ps,
                             "SELECT (SELECT count(*) FROM monitors) + (SELECT count(*) FROM tests)"
                             " + (SELECT count(*) FROM tokens) + (SELECT count(*) FROM"
                             " (SELECT 1 FROM results LIMIT 1) r)",
                             0, NULL, eb, "check target");
    if (!res)
        return CMON_ERR_STORE;
    int64_t n = pg_col_i64(res, 0, 0);
    PQclear(res);
    return n ? cmon_fail(eb, CMON_ERR_EXISTS,
                         "the target database already holds cmon data; migrate into an "
                         "empty database")
             : CMON_OK;
}

static enum cmon_err copy_all(struct pg_store *ps, sqlite3 *db, store_copy_progress progress,
                              void *arg, struct cmon_errbuf *eb)
{
    enum cmon_err err = target_empty(ps, eb);
    if (!err)
        err = pg_exec(ps, "BEGIN", 0, NULL, NULL, eb, "begin");
    if (!err)
        err = make_partitions(ps, db, eb);
    for (size_t i = 0; !err && i < sizeof tables / sizeof tables[0]; i++) {
        int64_t rows = 0;
        err = copy_table(ps, db, &tables[i], &rows, eb);
        if (!err && progress)
            progress(arg, tables[i].name, rows);
    }
    if (!err)
        return pg_exec(ps, "COMMIT", 0, NULL, NULL, eb, "commit");
    PQclear(PQexec(ps->conn, "ROLLBACK"));
    return err;
}

enum cmon_err store_copy_sqlite_to_postgres(const char *from, const char *to,
                                            store_copy_progress progress, void *arg,
                                            struct cmon_errbuf *eb)
{
    if (strncmp(from, "sqlite:", 7) != 0)
        return cmon_fail(eb, CMON_ERR_INVALID, "--from must be sqlite:PATH");
    if (strncmp(to, "postgres://", 11) != 0 && strncmp(to, "postgresql://", 13) != 0)
        return cmon_fail(eb, CMON_ERR_INVALID, "--to must be postgres://...");
    /* the source must be at the schema this cmon knows (a read-only open checks) */
    struct store *src = NULL, *dst = NULL;
    enum cmon_err err = store_open(from, STORE_READ_ONLY, &src, eb);
    store_close(src);
    if (err)
        return err;
    const char *path = from + 7;
    if (strncmp(path, "//", 2) == 0)
        path += 2;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        err = cmon_fail(eb, CMON_ERR_STORE, "open %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return err;
    }
    sqlite3_busy_timeout(db, 10000);
    err = store_open(to, STORE_READ_WRITE, &dst, eb);
    /* one read transaction: a consistent snapshot even if a server still writes */
    if (!err && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        err = cmon_fail(eb, CMON_ERR_STORE, "sqlite: %s", sqlite3_errmsg(db));
    if (!err)
        err = copy_all(pg_of(dst), db, progress, arg, eb);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    store_close(dst);
    return err;
}
