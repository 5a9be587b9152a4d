/* sqlite_misc.c: agents' last contact, alert events, hashed tokens
 * and the read-only SQL endpoint for the SQLite backend.  The SQL endpoint
 * runs only on a read-only connection, behind an authorizer that allows
 * plain reads of the result tables only, with a row and a time limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/sqlite_internal.h"

enum cmon_err sq_agent_seen(struct store *s, const char *name, int64_t now_ns,
                            struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, SQ_AGENT_SEEN, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, name);
    sqlite3_bind_int64(st, 2, now_ns);
    return sq_exec_stmt(ss, st, eb, "update agent");
}

/* One-row lookups: CMON_ERR_NOTFOUND when the row is missing. */
static enum cmon_err one_row(struct sqlite_store *ss, sqlite3_stmt *st, struct cmon_errbuf *eb,
                             const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return CMON_OK;
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return cmon_fail(eb, CMON_ERR_NOTFOUND, "%s not found", what);
    return sq_fail(ss, eb, what);
}

enum cmon_err sq_agent_last_seen(struct store *s, const char *name, int64_t *ns,
                                 struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, SQ_AGENT_GET, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, name);
    enum cmon_err err = one_row(ss, st, eb, "agent");
    if (!err) {
        *ns = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    return err;
}

/* Collect rows of st into a JSON array of objects built by row_fn. */
static enum cmon_err rows_to_json(struct sqlite_store *ss, sqlite3_stmt *st,
                                  json_t *(*row_fn)(sqlite3_stmt *), json_t **out,
                                  struct cmon_errbuf *eb)
{
    json_t *arr = json_array();
    int rc;
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(arr, row_fn(st));
    sqlite3_reset(st);
    if (!arr)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return sq_fail(ss, eb, "read rows");
    }
    *out = arr;
    return CMON_OK;
}

enum cmon_err sq_alert_event_add(struct store *s, const char *rule, const char *test_id,
                                 int64_t at_ns, const char *message, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, SQ_EVENT_ADD, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, rule);
    sq_bind_text(st, 2, test_id);
    sqlite3_bind_int64(st, 3, at_ns);
    sq_bind_text(st, 4, message);
    return sq_exec_stmt(ss, st, eb, "store alert event");
}

static json_t *event_row(sqlite3_stmt *st)
{
    char ts[40];
    return json_pack(
        "{s:s, s:s, s:s, s:s}", "rule", sq_col_text(st, 0), "testId", sq_col_text(st, 1), "time",
        cmon_rfc3339(sqlite3_column_int64(st, 2), ts, sizeof ts), "message", sq_col_text(st, 3));
}

enum cmon_err sq_alert_event_list(struct store *s, int64_t from_ns, size_t limit, json_t **out,
                                  struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, SQ_EVENT_LIST, eb);
    if (!st)
        return CMON_ERR_STORE;
    sqlite3_bind_int64(st, 1, from_ns);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    return rows_to_json(ss, st, event_row, out, eb);
}

enum cmon_err sq_token_add(struct store *s, const char *hash_hex, enum store_role role,
                           const char *name, int64_t now_ns, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, SQ_TOKEN_ADD, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, hash_hex);
    sq_bind_text(st, 2, store_role_name(role));
    sq_bind_text(st, 3, name ? name : "");
    sqlite3_bind_int64(st, 4, now_ns);
    return sq_exec_stmt(ss, st, eb, "store token");
}

enum cmon_err sq_token_lookup(struct store *s, const char *hash_hex, enum store_role *role,
                              char *name, size_t name_cap, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, SQ_TOKEN_GET, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, hash_hex);
    enum cmon_err err = one_row(ss, st, eb, "token");
    if (err)
        return err;
    bool ok = store_role_parse(sq_col_text(st, 0), role);
    if (name && name_cap)
        snprintf(name, name_cap, "%s", sq_col_text(st, 1));
    sqlite3_reset(st);
    return ok ? CMON_OK : cmon_fail(eb, CMON_ERR_STORE, "token has an unknown role");
}

enum cmon_err sq_token_count(struct store *s, size_t *n, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, SQ_TOKEN_COUNT, eb);
    if (!st)
        return CMON_ERR_STORE;
    enum cmon_err err = one_row(ss, st, eb, "token count");
    if (!err) {
        *n = (size_t)sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    return err;
}

/* ---- read-only SQL ---- */

/* Tables that hold secrets or bookkeeping: never readable through SQL.  A
 * deny list rather than an allow list, because common table expressions are
 * reported to the authorizer as reads of tables named like the CTE. */
static const char *const sql_hidden_tables[] = {"tokens", "agent_batches",  "alert_rules",
                                                "agents", "agent_registry", "action_groups"};

static int sql_authorizer(void *arg, int action, const char *a, const char *b, const char *c,
                          const char *d)
{
    (void)arg, (void)b, (void)c, (void)d;
    if (action == SQLITE_SELECT || action == SQLITE_FUNCTION || action == SQLITE_RECURSIVE)
        return SQLITE_OK;
    if (action != SQLITE_READ || !a)
        return SQLITE_DENY;
    if (strncmp(a, "sqlite_", 7) == 0)
        return SQLITE_DENY;
    for (size_t i = 0; i < sizeof sql_hidden_tables / sizeof sql_hidden_tables[0]; i++) {
        if (strcmp(a, sql_hidden_tables[i]) == 0)
            return SQLITE_DENY;
    }
    return SQLITE_OK;
}

static int sql_progress(void *arg)
{
    struct sqlite_store *ss = arg;
    return cmon_mono_ns() > ss->deadline_ns; /* non-zero interrupts */
}

static json_t *column_value(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    case SQLITE_TEXT:
        return json_string(sq_col_text(st, i));
    default:
        return json_null();
    }
}

static enum cmon_err sql_prepare(struct sqlite_store *ss, const char *sql, sqlite3_stmt **st,
                                 struct cmon_errbuf *eb)
{
    const char *tail = NULL;
    sqlite3_set_authorizer(ss->db, sql_authorizer, NULL);
    int rc = sqlite3_prepare_v2(ss->db, sql, -1, st, &tail);
    sqlite3_set_authorizer(ss->db, NULL, NULL);
    if (rc != SQLITE_OK)
        return cmon_fail(eb, CMON_ERR_INVALID, "%s", sqlite3_errmsg(ss->db));
    if (!*st)
        return cmon_fail(eb, CMON_ERR_INVALID, "empty query");
    while (tail && (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == ';'))
        tail++;
    if ((tail && *tail) || !sqlite3_stmt_readonly(*st)) {
        sqlite3_finalize(*st);
        return cmon_fail(eb, CMON_ERR_INVALID, "only one read-only SELECT is allowed");
    }
    return CMON_OK;
}

static json_t *sql_columns(sqlite3_stmt *st)
{
    json_t *cols = json_array();
    for (int i = 0; i < sqlite3_column_count(st); i++)
        json_array_append_new(cols, json_string(sqlite3_column_name(st, i)));
    return cols;
}

/* Memory bounds of a user query: one allocation like zeroblob(1e9) is a
 * single VDBE step the progress handler cannot interrupt, so values are
 * capped by SQLITE_LIMIT_LENGTH (on this read-only connection, for the query
 * only), and the rows kept for the reply by their total size. */
#define SQL_MAX_VALUE (1 << 20)
#define SQL_MAX_RESULT (8 << 20)

static size_t column_bytes(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_TEXT ? (size_t)sqlite3_column_bytes(st, i) + 8 : 24;
}

static enum cmon_err sql_run(struct sqlite_store *ss, const char *sql, size_t max_rows,
                             int timeout_ms, json_t **out, struct cmon_errbuf *eb);

/* Step through the rows into out until max_rows or SQL_MAX_RESULT bytes. */
static int sql_collect(sqlite3_stmt *st, size_t max_rows, json_t *rows, bool *truncated)
{
    size_t bytes = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++)
            bytes += column_bytes(st, i);
        if (json_array_size(rows) >= max_rows || bytes > SQL_MAX_RESULT) {
            *truncated = true;
            break;
        }
        json_t *row = json_array();
        for (int i = 0; i < sqlite3_column_count(st); i++)
            json_array_append_new(row, column_value(st, i));
        json_array_append_new(rows, row);
    }
    return rc;
}

enum cmon_err sq_sql_query(struct store *s, const char *sql, size_t max_rows, int timeout_ms,
                           json_t **out, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    if (ss->mode != STORE_READ_ONLY)
        return cmon_fail(eb, CMON_ERR_PERM, "SQL queries run only on a read-only connection");
    int old_len = sqlite3_limit(ss->db, SQLITE_LIMIT_LENGTH, SQL_MAX_VALUE);
    enum cmon_err err = sql_run(ss, sql, max_rows, timeout_ms, out, eb);
    sqlite3_limit(ss->db, SQLITE_LIMIT_LENGTH, old_len); /* the pool's other uses */
    return err;
}

static enum cmon_err sql_run(struct sqlite_store *ss, const char *sql, size_t max_rows,
                             int timeout_ms, json_t **out, struct cmon_errbuf *eb)
{
    sqlite3_stmt *st;
    enum cmon_err err = sql_prepare(ss, sql, &st, eb);
    if (err)
        return err;
    json_t *rows = json_array();
    bool truncated = false;
    ss->deadline_ns = cmon_mono_ns() + (int64_t)timeout_ms * CMON_NS_PER_MS;
    sqlite3_progress_handler(ss->db, 1000, sql_progress, ss);
    int rc = sql_collect(st, max_rows, rows, &truncated);
    sqlite3_progress_handler(ss->db, 0, NULL, NULL);
    if (rc == SQLITE_INTERRUPT)
        err = cmon_fail(eb, CMON_ERR_TIMEOUT, "query ran longer than %d ms", timeout_ms);
    else if (rc == SQLITE_TOOBIG)
        err = cmon_fail(eb, CMON_ERR_INVALID, "a value is larger than %d bytes", SQL_MAX_VALUE);
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = cmon_fail(eb, CMON_ERR_INVALID, "%s", sqlite3_errmsg(ss->db));
    if (!err)
        *out = json_pack("{s:o, s:o, s:b}", "columns", sql_columns(st), "rows", rows, "truncated",
                         truncated);
    else
        json_decref(rows);
    sqlite3_finalize(st);
    return err;
}
