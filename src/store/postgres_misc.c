/* postgres_misc.c: agents' last contact, alert events, hashed
 * tokens and the read-only SQL endpoint for the PostgreSQL backend.  SQL runs
 * in a READ ONLY transaction as the role cmon_sql (SELECT on the result tables
 * only), under statement_timeout, one statement, at most max_rows rows. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/pg_internal.h"

enum cmon_err pg_agent_seen(struct store *s, const char *name, int64_t now_ns,
                            struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    if (PQtransactionStatus(ps->conn) == PQTRANS_INTRANS)
        return pg_seen_defer(ps, name, now_ns, eb);
    char a[24];
    const char *v[] = {name, pg_i64(a, now_ns)};
    return pg_exec(ps,
                   "INSERT INTO agents (name, last_seen_ns) VALUES ($1, $2)"
                   " ON CONFLICT (name) DO UPDATE SET"
                   " last_seen_ns = greatest(agents.last_seen_ns, excluded.last_seen_ns)",
                   2, v, NULL, eb, "update agent");
}

enum cmon_err pg_agent_last_seen(struct store *s, const char *name, int64_t *ns,
                                 struct cmon_errbuf *eb)
{
    const char *v[] = {name};
    PGresult *res =
        pg_query(pg_of(s), "SELECT last_seen_ns FROM agents WHERE name = $1", 1, v, eb, "agent");
    if (!res)
        return CMON_ERR_STORE;
    int64_t pending = pg_seen_pending(pg_of(s), name); /* this transaction's, not written yet */
    enum cmon_err err = CMON_OK;
    if (PQntuples(res) == 0 && !pending)
        err = cmon_fail(eb, CMON_ERR_NOTFOUND, "agent not found");
    else
        *ns = PQntuples(res) && pg_col_i64(res, 0, 0) > pending ? pg_col_i64(res, 0, 0) : pending;
    PQclear(res);
    return err;
}

enum cmon_err pg_rows_json(PGresult *res, json_t *(*row_fn)(const PGresult *, int), json_t **out,
                           struct cmon_errbuf *eb)
{
    if (!res)
        return CMON_ERR_STORE;
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(res); i++)
        json_array_append_new(arr, row_fn(res, i));
    PQclear(res);
    if (!arr)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    *out = arr;
    return CMON_OK;
}

enum cmon_err pg_alert_event_add(struct store *s, const char *rule, const char *test_id,
                                 int64_t at_ns, const char *message, struct cmon_errbuf *eb)
{
    char a[24];
    const char *v[] = {rule, test_id, pg_i64(a, at_ns), message};
    return pg_exec(pg_of(s),
                   "INSERT INTO alert_events (rule, test_id, at_ns, message)"
                   " VALUES ($1, $2, $3, $4)",
                   4, v, NULL, eb, "store alert event");
}

static json_t *event_row(const PGresult *res, int i)
{
    char ts[40];
    return json_pack("{s:s, s:s, s:s, s:s}", "rule", PQgetvalue(res, i, 0), "testId",
                     PQgetvalue(res, i, 1), "time",
                     cmon_rfc3339(pg_col_i64(res, i, 2), ts, sizeof ts), "message",
                     PQgetvalue(res, i, 3));
}

enum cmon_err pg_alert_event_list(struct store *s, int64_t from_ns, size_t limit, json_t **out,
                                  struct cmon_errbuf *eb)
{
    char a[24], b[24];
    const char *v[] = {pg_i64(a, from_ns), pg_i64(b, (int64_t)limit)};
    PGresult *res = pg_query(pg_of(s),
                             "SELECT rule, test_id, at_ns, message FROM alert_events"
                             " WHERE at_ns >= $1 ORDER BY at_ns, id LIMIT $2",
                             2, v, eb, "read alert events");
    return pg_rows_json(res, event_row, out, eb);
}

enum cmon_err pg_token_add(struct store *s, const char *hash_hex, enum store_role role,
                           const char *name, int64_t now_ns, struct cmon_errbuf *eb)
{
    char a[24];
    const char *v[] = {hash_hex, store_role_name(role), name ? name : "", pg_i64(a, now_ns)};
    return pg_exec(pg_of(s),
                   "INSERT INTO tokens (hash, role, name, created_ns) VALUES ($1, $2, $3, $4)", 4,
                   v, NULL, eb, "store token");
}

enum cmon_err pg_token_lookup(struct store *s, const char *hash_hex, enum store_role *role,
                              char *name, size_t name_cap, struct cmon_errbuf *eb)
{
    const char *v[] = {hash_hex};
    PGresult *res =
        pg_query(pg_of(s), "SELECT role, name FROM tokens WHERE hash = $1", 1, v, eb, "token");
    if (!res)
        return CMON_ERR_STORE;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return cmon_fail(eb, CMON_ERR_NOTFOUND, "token not found");
    }
    bool ok = store_role_parse(PQgetvalue(res, 0, 0), role);
    if (name && name_cap)
        snprintf(name, name_cap, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    return ok ? CMON_OK : cmon_fail(eb, CMON_ERR_STORE, "token has an unknown role");
}

enum cmon_err pg_token_count(struct store *s, size_t *n, struct cmon_errbuf *eb)
{
    PGresult *res = pg_query(pg_of(s), "SELECT count(*) FROM tokens", 0, NULL, eb, "token count");
    if (!res)
        return CMON_ERR_STORE;
    *n = (size_t)pg_col_i64(res, 0, 0);
    PQclear(res);
    return CMON_OK;
}

/* ---- read-only SQL ---- */

/* One statement: no ';' outside quotes and comments except trailing ones.
 * set_config() could switch the role back inside a SELECT: refused. */
static bool sql_single_statement(const char *sql)
{
    char q = 0;
    for (const char *p = sql; *p; p++) {
        if (q) {
            if (*p == q)
                q = 0;
        } else if (*p == '\'' || *p == '"') {
            q = *p;
        } else if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
            if (!*p)
                break;
        } else if (*p == ';') {
            const char *t = p + 1;
            while (*t && (isspace((unsigned char)*t) || *t == ';'))
                t++;
            if (*t)
                return false;
        }
    }
    return true;
}

static bool sql_mentions(const char *sql, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = sql; *p; p++) {
        if (strncasecmp(p, word, n) == 0)
            return true;
    }
    return false;
}

static json_t *column_value(const PGresult *res, int i, int c)
{
    if (PQgetisnull(res, i, c))
        return json_null();
    const char *v = PQgetvalue(res, i, c);
    switch (PQftype(res, c)) {
    case 20: /* int8 */
    case 21: /* int2 */
    case 23: /* int4 */
        return json_integer(strtoll(v, NULL, 10));
    case 700:  /* float4 */
    case 701:  /* float8 */
    case 1700: /* numeric */
        return json_real(strtod(v, NULL));
    case 16: /* bool */
        return json_boolean(v[0] == 't');
    default:
        return json_string(v);
    }
}

/* Memory bounds of a user query, as on SQLite (sqlite_misc.c): a row of at
 * most SQL_MAX_ROW bytes (else the query fails in the server, before the
 * row is sent) and SQL_MAX_RESULT bytes of rows in all.  The wrapper adds
 * two columns, the row check and the running size, which the reply drops. */
#define SQL_MAX_ROW (1 << 20)
#define SQL_MAX_RESULT (8 << 20)
#define SQL_EXTRA_COLS 2

static json_t *sql_result_json(const PGresult *res, size_t max_rows)
{
    json_t *cols = json_array(), *rows = json_array();
    int nf = PQnfields(res) - SQL_EXTRA_COLS;
    for (int c = 0; c < nf; c++)
        json_array_append_new(cols, json_string(PQfname(res, c)));
    size_t n = (size_t)PQntuples(res), i;
    for (i = 0; i < n && i < max_rows; i++) {
        if (strtoull(PQgetvalue(res, (int)i, nf + 1), NULL, 10) > SQL_MAX_RESULT)
            break; /* the row that crossed the cap */
        json_t *row = json_array();
        for (int c = 0; c < nf; c++)
            json_array_append_new(row, column_value(res, (int)i, c));
        json_array_append_new(rows, row);
    }
    return json_pack("{s:o, s:o, s:b}", "columns", cols, "rows", rows, "truncated", i < n);
}

static enum cmon_err sql_run(struct pg_store *ps, const char *sql, size_t max_rows, int timeout_ms,
                             json_t **out, struct cmon_errbuf *eb)
{
    char set[80];
    snprintf(set, sizeof set, "SET LOCAL statement_timeout = %d", timeout_ms > 0 ? timeout_ms : 1);
    if (pg_exec(ps, set, 0, NULL, NULL, eb, "sql"))
        return CMON_ERR_STORE;
    if (pg_exec(ps, "SET LOCAL ROLE cmon_sql", 0, NULL, NULL, eb, "sql"))
        return cmon_fail(eb, CMON_ERR_PERM,
                         "the SQL endpoint needs the role cmon_sql (create it with CREATEROLE "
                         "rights, see docs/storage.md)");
    /* the wrapper allows one SELECT only and bounds the rows fetched, the
     * size of each (the CAST fails with the message; it is not a constant,
     * so the planner cannot fold it) and, by the running sum, the bytes sent */
    static const char wrap[] =
        "SELECT * FROM (SELECT q.*, CASE WHEN pg_column_size(q) > %d THEN "
        "CAST('cmon: a row is larger than %d bytes: ' || pg_column_size(q) AS int) END "
        "AS cmon_row_check_, sum(pg_column_size(q)) OVER (ROWS UNBOUNDED PRECEDING) "
        "AS cmon_bytes_ FROM (SELECT * FROM (\n%s\n) AS q0 LIMIT %zu) AS q) AS w "
        "WHERE cmon_bytes_ - pg_column_size(w) <= %d";
    size_t len = strlen(sql) + sizeof wrap + 64;
    char *wrapped = malloc(len);
    if (!wrapped)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    snprintf(wrapped, len, wrap, SQL_MAX_ROW, SQL_MAX_ROW, sql, max_rows + 1, SQL_MAX_RESULT);
    PGresult *res = PQexecParams(ps->conn, wrapped, 0, NULL, NULL, NULL, NULL, 0);
    free(wrapped);
    enum cmon_err err = CMON_OK;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        bool timeout = state && strcmp(state, "57014") == 0;
        err = timeout ? cmon_fail(eb, CMON_ERR_TIMEOUT, "query ran longer than %d ms", timeout_ms)
                      : cmon_fail(eb, CMON_ERR_INVALID, "%s", msg ? msg : "query failed");
    } else {
        *out = sql_result_json(res, max_rows);
    }
    PQclear(res);
    return err;
}

/* Trailing ';' and spaces would break the wrapper: strip them in a copy. */
static char *sql_trimmed(const char *sql)
{
    char *t = strdup(sql);
    if (!t)
        return NULL;
    size_t n = strlen(t);
    while (n && (isspace((unsigned char)t[n - 1]) || t[n - 1] == ';'))
        t[--n] = '\0';
    return t;
}

enum cmon_err pg_sql_query(struct store *s, const char *sql, size_t max_rows, int timeout_ms,
                           json_t **out, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    if (ps->mode != STORE_READ_ONLY)
        return cmon_fail(eb, CMON_ERR_PERM, "SQL queries run only on a read-only connection");
    if (!sql_single_statement(sql) || sql_mentions(sql, "set_config"))
        return cmon_fail(eb, CMON_ERR_INVALID, "only one read-only SELECT is allowed");
    char *t = sql_trimmed(sql);
    if (!t)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    if (!*t) {
        free(t);
        return cmon_fail(eb, CMON_ERR_INVALID, "empty query");
    }
    enum cmon_err err = pg_exec(ps, "BEGIN READ ONLY", 0, NULL, NULL, eb, "begin");
    if (!err)
        err = sql_run(ps, t, max_rows, timeout_ms, out, eb);
    PQclear(PQexec(ps->conn, "ROLLBACK")); /* also ends SET LOCAL ROLE */
    free(t);
    return err;
}
