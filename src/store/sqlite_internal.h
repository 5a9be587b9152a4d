/* sqlite_internal.h: what the SQLite backend's files share -- the connection
 * struct, the prepared-statement cache and small binding helpers.
 * Ownership: struct sqlite_store owns its sqlite3 handle and every cached
 * statement; one thread uses it at a time (see store.h). */
#ifndef CMON_STORE_SQLITE_INTERNAL_H
#define CMON_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>

#include "store/store.h"

/* Every statement the backend runs more than once, prepared once per connection. */
/* The agents (registered, and known only from results) as struct
 * store_agent's columns; R filters the registered part, A the other. */
#define SQ_AGENT_ROWS(R, A)                                                                        \
    "SELECT r.name, r.version, r.addresses, 1, r.registered_ns, r.heartbeat_ns,"                   \
    " r.heartbeat_sec, max(r.heartbeat_ns, coalesce(a.last_seen_ns, 0)), r.spool, r.region"        \
    " FROM agent_registry r LEFT JOIN agents a ON a.name = r.name" R                               \
    " UNION ALL SELECT a.name, '', '[]', 0, 0, 0, 0, a.last_seen_ns, '{}', '' FROM agents a"       \
    " WHERE a.name NOT IN (SELECT name FROM agent_registry)" A

enum sq_stmt {
    SQ_MON_INSERT,
    SQ_MON_UPDATE,
    SQ_MON_EXISTS,
    SQ_MON_GET,
    SQ_MON_LIST,
    SQ_MON_VERSIONS,
    SQ_MON_DELETE,
    SQ_MON_RUNNING,
    SQ_MON_COUNT,
    SQ_TESTS_DELETE_STALE,
    SQ_TEST_UPSERT,
    SQ_TESTS_DELETE,
    SQ_TEST_GET_STATE,
    SQ_TEST_SET_STATE,
    SQ_CHANGE_ADD,
    SQ_CHANGES,
    SQ_CHANGE_LAST,
    SQ_BEGIN,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_BATCH_MARK,
    SQ_RESULT_ADD,
    SQ_ROLLUP_1M,
    SQ_ROLLUP_1H,
    SQ_ROLLUP_RANGE,
    SQ_ROLLUP_MARK,
    SQ_TEST_LATEST,
    SQ_RESULTS,
    SQ_RESULTS_MANY,
    SQ_RESULT_LAST,
    SQ_PATH_PUT,
    SQ_PATH_LATEST,
    SQ_AGENT_SEEN,
    SQ_AGENT_GET,
    SQ_AGENT_ONE,
    SQ_TESTS_ROWID_MAX,
    SQ_EVENT_ADD,
    SQ_EVENT_LIST,
    SQ_TOKEN_ADD,
    SQ_TOKEN_GET,
    SQ_TOKEN_COUNT,
    SQ__COUNT
};

struct sqlite_store {
    struct store base;
    sqlite3 *db;
    enum store_mode mode;
    sqlite3_stmt *stmts[SQ__COUNT];
    sqlite3_stmt *test_by_id; /* the tests query by id alone: the ingest path's */
    int64_t deadline_ns;      /* sql_query's time limit, read by the progress handler */
    /* results of the open ingest transaction not written yet (sqlite_results.c):
     * written in multi-row INSERTs, and each test's live figures once, by
     * sq_ingest_flush before anything reads tests and at commit */
    struct sq_staged *staged;
    size_t n_staged, staged_cap;
    sqlite3_stmt *result_add_many; /* SQ_RESULTS_PER_INSERT rows per INSERT */
};

static inline struct sqlite_store *sq_of(struct store *s)
{
    return (struct sqlite_store *)s;
}

/* The cached statement id, reset and unbound; NULL with eb filled on error. */
sqlite3_stmt *sq_stmt(struct sqlite_store *ss, enum sq_stmt id, struct cmon_errbuf *eb);
/* CMON_ERR_STORE with the connection's message, prefixed by what failed. */
enum cmon_err sq_fail(struct sqlite_store *ss, struct cmon_errbuf *eb, const char *what);
/* Step a statement that returns no rows. */
enum cmon_err sq_exec_stmt(struct sqlite_store *ss, sqlite3_stmt *st, struct cmon_errbuf *eb,
                           const char *what);
/* Run SQL text once (no parameters). */
enum cmon_err sq_exec(struct sqlite_store *ss, const char *sql, struct cmon_errbuf *eb);

void sq_bind_text(sqlite3_stmt *st, int i, const char *s); /* NULL binds NULL */
void sq_bind_opt_double(sqlite3_stmt *st, int i, bool has, double v);
const char *sq_col_text(sqlite3_stmt *st, int i); /* "" for NULL */

/* Write the staged results of the ingest transaction (sqlite_results.c);
 * called by every op that reads tests or results inside that transaction. */
enum cmon_err sq_ingest_flush(struct sqlite_store *ss, struct cmon_errbuf *eb);
/* Drop the staged results and free the staging (rollback, close). */
void sq_stage_free(struct sqlite_store *ss);

/* Open (and migrate) the SQLite database at path; store_open's backend. */
enum cmon_err store_sqlite_open(const char *path, enum store_mode mode, struct store **out,
                                struct cmon_errbuf *eb);

/* Every op of store.h, sq_<op>, in sqlite*.c (the table is generated from
 * the same list in sqlite.c). */
#define SQ_OP_DECL(ret, op, args) ret sq_##op args;
STORE_OPS(SQ_OP_DECL)
#undef SQ_OP_DECL

/* sqlite_alerts.c: the alert rules a monitor manages, inside monitor_put's
 * and monitor_delete's transaction: write rules (managed by monitor) and
 * delete the ones it managed and no longer holds (n_rules 0: every one). */
enum cmon_err sq_monitor_rules_put(struct sqlite_store *ss, const char *monitor,
                                   const struct cmon_alert_rule *const *rules, size_t n_rules,
                                   struct cmon_errbuf *eb);

/* sqlite_alerts.c: action groups, alert episodes and their transitions. */
#define SQ_MIGRATION_ALERTS                                                                        \
    "CREATE TABLE action_groups (name TEXT PRIMARY KEY, body TEXT NOT NULL);"                      \
    "CREATE TABLE alerts (key TEXT NOT NULL, starts_ns INTEGER NOT NULL, rule TEXT NOT NULL,"       \
    " state TEXT NOT NULL, updated_ns INTEGER NOT NULL, monitors TEXT NOT NULL,"                   \
    " body TEXT NOT NULL, PRIMARY KEY (key, starts_ns));"                                          \
    "CREATE INDEX alerts_state ON alerts (state);"                                                 \
    "CREATE INDEX alerts_starts ON alerts (starts_ns);"                                            \
    "CREATE TABLE alert_transitions (id INTEGER PRIMARY KEY, key TEXT NOT NULL,"                   \
    " rule TEXT NOT NULL, event TEXT NOT NULL, at_ns INTEGER NOT NULL, value REAL NOT NULL);"      \
    "CREATE INDEX alert_transitions_key ON alert_transitions (key, at_ns);"

#endif
