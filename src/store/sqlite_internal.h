/* sqlite_internal.h: what the SQLite backend's files share -- the connection
 * struct, the prepared-statement cache and small binding helpers.
 * Ownership: struct sqlite_store owns its sqlite3 handle and every cached
 * statement; one thread uses it at a time (see store.h). */
#ifndef CMON_STORE_SQLITE_INTERNAL_H
#define CMON_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>

#include "store/store.h"

/* Every statement the backend runs more than once, prepared once per connection. */
enum sq_stmt {
    SQ_MON_INSERT,
    SQ_MON_UPDATE,
    SQ_MON_EXISTS,
    SQ_MON_GET,
    SQ_MON_LIST,
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
    SQ_PATH_PUT,
    SQ_PATH_LATEST,
    SQ_AGENT_SEEN,
    SQ_AGENT_GET,
    SQ_RULE_PUT,
    SQ_RULE_DELETE,
    SQ_RULE_LIST,
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

/* Ops implemented in the other files. */
enum cmon_err sq_monitor_put(struct store *s, const char *name, const char *body,
                             const struct store_test *tests, size_t n_tests, int64_t now_ns,
                             bool *created, struct cmon_errbuf *eb);
enum cmon_err sq_monitor_get(struct store *s, const char *name, store_monitor_cb cb, void *arg,
                             struct cmon_errbuf *eb);
enum cmon_err sq_monitor_list(struct store *s, store_monitor_cb cb, void *arg,
                              struct cmon_errbuf *eb);
enum cmon_err sq_monitor_delete(struct store *s, const char *name, struct cmon_errbuf *eb);
enum cmon_err sq_monitor_set_running(struct store *s, const char *name, bool running,
                                     int64_t now_ns, struct cmon_errbuf *eb);
enum cmon_err sq_monitor_count(struct store *s, size_t *n, struct cmon_errbuf *eb);
enum cmon_err sq_test_query_ids(struct store *s, const char *const *ids, size_t n,
                                store_test_cb cb, void *arg, struct cmon_errbuf *eb);
enum cmon_err sq_test_query(struct store *s, const struct store_test_filter *f, store_test_cb cb,
                            void *arg, struct cmon_errbuf *eb);
enum cmon_err sq_test_set_state(struct store *s, const char *test_id, enum cmon_state st,
                                const char *reason, int64_t now_ns, bool *changed,
                                struct cmon_errbuf *eb);
enum cmon_err sq_state_changes(struct store *s, const char *test_id, int64_t from_ns, int64_t to_ns,
                               store_change_cb cb, void *arg, struct cmon_errbuf *eb);

enum cmon_err sq_ingest_begin(struct store *s, struct cmon_errbuf *eb);
enum cmon_err sq_ingest_batch_mark(struct store *s, const char *agent, int64_t seq, int64_t now_ns,
                                   bool *dup, struct cmon_errbuf *eb);
enum cmon_err sq_ingest_result(struct store *s, const struct store_result *r,
                               struct cmon_errbuf *eb);
enum cmon_err sq_ingest_commit(struct store *s, struct cmon_errbuf *eb);
void sq_ingest_rollback(struct store *s);
enum cmon_err sq_result_query(struct store *s, const char *test_id, int64_t from_ns, int64_t to_ns,
                              size_t limit, store_result_cb cb, void *arg, struct cmon_errbuf *eb);
enum cmon_err sq_metric_query(struct store *s, const struct store_metric_query *q,
                              store_point_cb cb, void *arg, struct cmon_errbuf *eb);
enum cmon_err sq_retention(struct store *s, int64_t before_ns, int64_t *deleted,
                           struct cmon_errbuf *eb);
enum cmon_err sq_rollup(struct store *s, int64_t *folded, struct cmon_errbuf *eb);
enum cmon_err sq_path_put(struct store *s, const char *test_id, int64_t start_ns,
                          const char *hops_json, struct cmon_errbuf *eb);
enum cmon_err sq_path_query(struct store *s, const char *test_id, int64_t from_ns, int64_t to_ns,
                            size_t limit, store_path_cb cb, void *arg, struct cmon_errbuf *eb);
enum cmon_err sq_path_latest(struct store *s, const char *test_id, char **hops_json,
                             int64_t *start_ns, struct cmon_errbuf *eb);

enum cmon_err sq_agent_seen(struct store *s, const char *name, int64_t now_ns,
                            struct cmon_errbuf *eb);
enum cmon_err sq_agent_last_seen(struct store *s, const char *name, int64_t *ns,
                                 struct cmon_errbuf *eb);
enum cmon_err sq_alert_rule_put(struct store *s, const char *name, const char *body,
                                struct cmon_errbuf *eb);
enum cmon_err sq_alert_rule_delete(struct store *s, const char *name, struct cmon_errbuf *eb);
enum cmon_err sq_alert_rule_list(struct store *s, json_t **out, struct cmon_errbuf *eb);
enum cmon_err sq_alert_event_add(struct store *s, const char *rule, const char *test_id,
                                 int64_t at_ns, const char *message, struct cmon_errbuf *eb);
enum cmon_err sq_alert_event_list(struct store *s, int64_t from_ns, size_t limit, json_t **out,
                                  struct cmon_errbuf *eb);
enum cmon_err sq_token_add(struct store *s, const char *hash_hex, enum store_role role,
                           const char *name, int64_t now_ns, struct cmon_errbuf *eb);
enum cmon_err sq_token_lookup(struct store *s, const char *hash_hex, enum store_role *role,
                              char *name, size_t name_cap, struct cmon_errbuf *eb);
enum cmon_err sq_token_count(struct store *s, size_t *n, struct cmon_errbuf *eb);
enum cmon_err sq_sql_query(struct store *s, const char *sql, size_t max_rows, int timeout_ms,
                           json_t **out, struct cmon_errbuf *eb);
enum cmon_err sq_agent_register(struct store *s, const char *name, const char *token_hash,
                                const char *version, const char *addresses_json,
                                int heartbeat_sec, int64_t now_ns, int64_t *next_seq,
                                struct cmon_errbuf *eb);
enum cmon_err sq_agent_heartbeat(struct store *s, const char *name, const char *version,
                                 const char *addresses_json, const char *spool_json,
                                 int heartbeat_sec, int64_t now_ns, struct cmon_errbuf *eb);
enum cmon_err sq_agent_list(struct store *s, store_agent_cb cb, void *arg, struct cmon_errbuf *eb);
enum cmon_err sq_agent_delete(struct store *s, const char *name, struct cmon_errbuf *eb);

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
enum cmon_err sq_action_group_put(struct store *s, const char *name, const char *body,
                                  bool *created, struct cmon_errbuf *eb);
enum cmon_err sq_action_group_delete(struct store *s, const char *name, struct cmon_errbuf *eb);
enum cmon_err sq_action_group_list(struct store *s, json_t **out, struct cmon_errbuf *eb);
enum cmon_err sq_alert_save(struct store *s, const json_t *items, const json_t *transitions,
                            int64_t now_ns, struct cmon_errbuf *eb);
enum cmon_err sq_alert_active(struct store *s, json_t **out, struct cmon_errbuf *eb);
enum cmon_err sq_alert_query(struct store *s, const struct store_alert_filter *f, size_t offset,
                             size_t limit, json_t **out, bool *more, struct cmon_errbuf *eb);
enum cmon_err sq_alert_transitions(struct store *s, const char *key, json_t **out,
                                   struct cmon_errbuf *eb);
enum cmon_err sq_alert_prune(struct store *s, int64_t before_ns, int64_t *deleted,
                             struct cmon_errbuf *eb);

#endif
