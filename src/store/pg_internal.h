/* pg_internal.h: what the PostgreSQL backend's files share -- the connection
 * struct, the ingest staging buffers (results wait here and reach the server
 * in one COPY per table per flush) and small query helpers over libpq.
 * Ownership: struct pg_store owns its PGconn, its staging buffers and every
 * PGresult it creates (helpers PQclear before returning unless they hand the
 * result to the caller, who then PQclears it).  One thread uses it at a time. */
#ifndef CMON_STORE_PG_INTERNAL_H
#define CMON_STORE_PG_INTERNAL_H

#include <libpq-fe.h>

#include "store/store.h"

#define PG_NS_PER_DAY (86400LL * 1000000000LL)
#define PG_MAX_STAGE_DAYS 16

/* Advisory lock keys (pg_advisory_lock(int, int), first int = 'cmon'). */
#define PG_LOCK_SPACE 0x636d6f6e
#define PG_LOCK_MIGRATE 1
#define PG_LOCK_PARTITION 2
#define PG_LOCK_LEADER 3
#define PG_LOCK_ALERTS 4 /* transaction lock: one alert_save at a time */
#define PG_LOCK_CONFIG 5 /* session lock around one one-off write (config_serial) */
/* Transaction locks per agent name: pg_advisory_xact_lock('cmag', hashtext(name)). */
#define PG_LOCK_AGENT_SPACE 0x636d6167

/* The temporary table each test's newest round of a flush goes through on
 * its way to the tests' live figures (one row per test). */
#define PG_INGEST_LIVE_COLS                                                                      \
    "(test_id TEXT NOT NULL, start_ns BIGINT NOT NULL, failed_pct DOUBLE PRECISION NOT NULL,"  \
    " rtt_avg DOUBLE PRECISION, diagnostic TEXT NOT NULL, detail TEXT NOT NULL)"

struct pg_store {
    struct store base;
    PGconn *conn;
    enum store_mode mode;
    bool leader;       /* holds the leader advisory lock (session level) */
    bool leader_tried; /* pg_leader_try ran: this connection runs a server's jobs */
    unsigned prepared; /* bit i: prepared statement i exists on this connection */
    /* results not yet sent, as COPY text for the results partitions and the
     * roll-up queue, and the live rounds (copies, in arrival order) from
     * which each test's newest gives its live figures */
    struct pg_text {
        char *p;
        size_t len, cap;
    } stage_raw, stage_queue;
    size_t staged;
    struct cmon_round_result *stage_live;
    size_t n_stage_live, stage_live_cap;
    int64_t stage_days[PG_MAX_STAGE_DAYS]; /* distinct days of the staged rows */
    size_t n_stage_days;
    /* tests rows the last flush updated (RETURNING), so that the ingest's
     * evaluation of each touched test needs no query; dropped at the end of
     * the transaction, an entry dropped when its test's state is written */
    PGresult *touched;
    int *touched_order; /* row numbers sorted by id */
    bool *touched_valid;
    /* state writes of touched tests, deferred to one statement per
     * transaction (pg_states_flush): PostgreSQL array literals of the ids,
     * states and reasons, in call order */
    struct pg_text st_ids, st_states, st_reasons;
    size_t n_states;
    int64_t states_now_ns;
    /* agents' last contact written in a transaction, deferred to one
     * statement just before its COMMIT (readers in the transaction overlay
     * them): the agents rows are shared by all replicas, so their row locks
     * are held for the commit only, not for the whole ingest transaction
     * (two replicas then overlap instead of taking turns) */
    struct pg_seen {
        char name[64];
        int64_t ns;
    } *seen;
    size_t n_seen, seen_cap;
};

static inline struct pg_store *pg_of(struct store *s)
{
    return (struct pg_store *)s;
}

/* CMON_ERR_STORE (CMON_ERR_TIMEOUT on statement_timeout) with the server's
 * message, prefixed by what failed. */
enum cmon_err pg_fail_res(struct pg_store *ps, const PGresult *res, struct cmon_errbuf *eb,
                          const char *what);
/* Run sql with text parameters (NULL = SQL NULL).  Returns the result on
 * success (caller PQclears), NULL with eb filled on failure. */
PGresult *pg_query(struct pg_store *ps, const char *sql, int n, const char *const *vals,
                   struct cmon_errbuf *eb, const char *what);
/* Same through a named prepared statement, prepared on first use on this
 * connection (the hot paths: parse and plan once). */
PGresult *pg_query_prepared(struct pg_store *ps, const char *name, const char *sql, int n,
                            const char *const *vals, struct cmon_errbuf *eb, const char *what);
/* Same, for statements whose rows are not needed; *affected may be NULL. */
enum cmon_err pg_exec(struct pg_store *ps, const char *sql, int n, const char *const *vals,
                      long long *affected, struct cmon_errbuf *eb, const char *what);
/* The rows of res as a JSON array, one row_fn item each (a NULL item is
 * skipped); PQclears res.  res NULL (a failed query, eb filled) gives
 * CMON_ERR_STORE. */
enum cmon_err pg_rows_json(PGresult *res, json_t *(*row_fn)(const PGresult *, int), json_t **out,
                           struct cmon_errbuf *eb);
/* postgres_alerts.c: the alert rules a monitor manages, inside
 * monitor_put's and monitor_delete's transaction: write rules (managed by
 * monitor) and delete the ones it managed and no longer holds (n_rules 0:
 * every one). */
enum cmon_err pg_monitor_rules_put(struct pg_store *ps, const char *monitor,
                                   const struct cmon_alert_rule *const *rules, size_t n_rules,
                                   struct cmon_errbuf *eb);
/* Decimal text of v in buf (which must hold 24 bytes); returns buf. */
const char *pg_i64(char *buf, int64_t v);
/* "%.17g" of v, or NULL when !has. */
const char *pg_dbl(char *buf, bool has, double v);

int64_t pg_col_i64(const PGresult *r, int row, int col);
double pg_col_dbl(const PGresult *r, int row, int col);
bool pg_col_bool(const PGresult *r, int row, int col);
bool pg_col_null(const PGresult *r, int row, int col);

/* Floor division of ns into days (partition numbers). */
int64_t pg_day_of(int64_t ns);
/* The results partition of day (results_dN, results_dmN before 1970), then suffix. */
void pg_partition_name(char *buf, size_t cap, int64_t day, const char *suffix);
/* Create the results partitions of days that do not exist yet. */
enum cmon_err pg_ensure_partitions(struct pg_store *ps, const int64_t *days, size_t n,
                                   struct cmon_errbuf *eb);
/* Send staged results (a COPY per table, one UPDATE of the tests' live
 * figures); no-op when empty. */
enum cmon_err pg_flush(struct pg_store *ps, struct cmon_errbuf *eb);
void pg_stage_clear(struct pg_store *ps);
void pg_stage_free(struct pg_store *ps);
/* A state write of test id, whose tests row is row of ps->touched (so its
 * state before is known and the row is locked by this transaction): queued,
 * *changed told now, written by pg_states_flush. */
enum cmon_err pg_state_defer(struct pg_store *ps, const char *id, int row, enum cmon_state state,
                             const char *reason, int64_t now_ns, bool *changed,
                             struct cmon_errbuf *eb);
/* agent_seen inside a transaction: remembered (the latest time per agent)
 * and written by pg_seen_flush in name order before COMMIT. */
enum cmon_err pg_seen_defer(struct pg_store *ps, const char *name, int64_t now_ns,
                            struct cmon_errbuf *eb);
enum cmon_err pg_seen_flush(struct pg_store *ps, struct cmon_errbuf *eb);
/* The deferred contact time of name in this transaction, 0 when none:
 * readers in the transaction take the later of it and the stored one. */
int64_t pg_seen_pending(const struct pg_store *ps, const char *name);
/* Write the queued state writes (one statement); no-op when none. */
enum cmon_err pg_states_flush(struct pg_store *ps, struct cmon_errbuf *eb);
void pg_states_clear(struct pg_store *ps); /* drop them; free_bufs also frees */
void pg_states_free(struct pg_store *ps);
/* Row of test id in ps->touched, or -1. */
int pg_touched_find(struct pg_store *ps, const char *id);
void pg_touched_clear(struct pg_store *ps);

enum cmon_err store_pg_open(const char *url, enum store_mode mode, struct store **out,
                            struct cmon_errbuf *eb);

/* Every op of store.h, pg_<op>, in postgres*.c (the table is generated from
 * the same list in postgres.c). */
#define PG_OP_DECL(ret, op, args) ret pg_##op args;
STORE_OPS(PG_OP_DECL)
#undef PG_OP_DECL

/* BEGIN, and its end: COMMIT when err is CMON_OK (returning the commit's
 * outcome), else ROLLBACK and err unchanged (eb already says why). */
enum cmon_err pg_begin(struct pg_store *ps, struct cmon_errbuf *eb);
enum cmon_err pg_end(struct pg_store *ps, enum cmon_err err, struct cmon_errbuf *eb);

#endif
