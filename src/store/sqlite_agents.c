/* sqlite_agents.c: the remote-agent ops of store.h for SQLite -- registration
 * (token rotation and the registry row in one transaction), heartbeats, the
 * agent list (registry joined with the last-contact table that ingest keeps)
 * and removal.  These run a few times per agent per minute, so statements are
 * prepared per call instead of joining the shared statement cache. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"

/* Prepare, bind the given text/int64 parameters in order and step to the end. */
static enum cmon_err run_sql(struct sqlite_store *ss, const char *sql, const char *fmt,
                             struct cmon_errbuf *eb, ...)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ss->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sq_fail(ss, eb, "prepare");
    va_list ap;
    va_start(ap, eb);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 's')
            sq_bind_text(st, i + 1, va_arg(ap, const char *));
        else
            sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
    }
    va_end(ap);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    enum cmon_err err = rc == SQLITE_DONE ? CMON_OK : sq_fail(ss, eb, "agent update");
    sqlite3_finalize(st);
    return err;
}

static enum cmon_err max_seq(struct sqlite_store *ss, const char *name, int64_t *next,
                             struct cmon_errbuf *eb)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ss->db, "SELECT max(seq) FROM agent_batches WHERE agent = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return sq_fail(ss, eb, "prepare");
    sq_bind_text(st, 1, name);
    enum cmon_err err = CMON_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *next = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0) + 1;
    else
        err = sq_fail(ss, eb, "batch sequence");
    sqlite3_finalize(st);
    return err;
}

enum cmon_err sq_agent_register(struct store *s, const char *name, const char *token_hash,
                                const char *version, const char *addresses_json, const char *region,
                                int heartbeat_sec, int64_t now_ns, int64_t *next_seq,
                                struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    enum cmon_err err = sq_exec(ss, "BEGIN IMMEDIATE", eb);
    if (err)
        return err;
    err = run_sql(ss, "DELETE FROM tokens WHERE role = 'agent' AND name = ?1", "s", eb, name);
    if (!err)
        err = run_sql(
            ss, "INSERT INTO tokens (hash, role, name, created_ns) VALUES (?1, 'agent', ?2, ?3)",
            "ssi", eb, token_hash, name, now_ns);
    if (!err)
        err = run_sql(ss,
                      "INSERT INTO agent_registry (name, version, addresses, registered_ns,"
                      " heartbeat_ns, heartbeat_sec, region) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)"
                      " ON CONFLICT (name) DO UPDATE SET version = ?2, addresses = ?3,"
                      " registered_ns = ?4, heartbeat_ns = ?4, heartbeat_sec = ?5, region = ?6",
                      "sssiis", eb, name, version, addresses_json, now_ns, (int64_t)heartbeat_sec,
                      region ? region : "");
    if (!err)
        err = max_seq(ss, name, next_seq, eb);
    if (!err)
        err = sq_exec(ss, "COMMIT", eb);
    if (err)
        sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

enum cmon_err sq_agent_heartbeat(struct store *s, const char *name, const char *version,
                                 const char *addresses_json, const char *region,
                                 const char *spool_json, int heartbeat_sec, int64_t now_ns,
                                 struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    enum cmon_err err = run_sql(ss,
                                "UPDATE agent_registry SET version = ?2, addresses = ?3,"
                                " heartbeat_ns = max(heartbeat_ns, ?4), heartbeat_sec = ?5,"
                                " spool = ?6, region = ?7 WHERE name = ?1",
                                "sssiiss", eb, name, version, addresses_json, now_ns,
                                (int64_t)heartbeat_sec, spool_json, region ? region : "");
    if (!err && sqlite3_changes(ss->db) == 0)
        return cmon_fail(eb, CMON_ERR_NOTFOUND, "agent '%s' is not registered", name);
    return err;
}

/* Step st's rows (SQ_AGENT_ROWS' columns) into cb; st stays the caller's. */
static enum cmon_err agent_rows(struct sqlite_store *ss, sqlite3_stmt *st, store_agent_cb cb,
                                void *arg, struct cmon_errbuf *eb)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_agent a = {
            .name = sq_col_text(st, 0),
            .version = sq_col_text(st, 1),
            .addresses = sq_col_text(st, 2),
            .registered = sqlite3_column_int(st, 3) != 0,
            .registered_ns = sqlite3_column_int64(st, 4),
            .heartbeat_ns = sqlite3_column_int64(st, 5),
            .heartbeat_sec = sqlite3_column_int(st, 6),
            .last_seen_ns = sqlite3_column_int64(st, 7),
            .spool = sq_col_text(st, 8),
            .region = sq_col_text(st, 9),
        };
        if (cb(arg, &a) != 0)
            return CMON_OK;
    }
    return rc == SQLITE_DONE ? CMON_OK : sq_fail(ss, eb, "list agents");
}

enum cmon_err sq_agent_list(struct store *s, store_agent_cb cb, void *arg, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    static const char sql[] = SQ_AGENT_ROWS("", "") " ORDER BY 1";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ss->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sq_fail(ss, eb, "prepare");
    enum cmon_err err = agent_rows(ss, st, cb, arg, eb);
    sqlite3_finalize(st);
    return err;
}

enum cmon_err sq_agent_get(struct store *s, const char *name, store_agent_cb cb, void *arg,
                           struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = sq_stmt(ss, SQ_AGENT_ONE, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, name);
    enum cmon_err err = agent_rows(ss, st, cb, arg, eb);
    sqlite3_reset(st);
    return err;
}

enum cmon_err sq_agent_delete(struct store *s, const char *name, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    enum cmon_err err = sq_exec(ss, "BEGIN IMMEDIATE", eb);
    if (err)
        return err;
    int changes = 0;
    err = run_sql(ss, "DELETE FROM agent_registry WHERE name = ?1", "s", eb, name);
    changes += sqlite3_changes(ss->db);
    if (!err)
        err = run_sql(ss, "DELETE FROM tokens WHERE role = 'agent' AND name = ?1", "s", eb, name);
    changes += err ? 0 : sqlite3_changes(ss->db);
    if (!err)
        err = sq_exec(ss, "COMMIT", eb);
    if (err) {
        sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
        return err;
    }
    return changes ? CMON_OK : cmon_fail(eb, CMON_ERR_NOTFOUND, "no agent named '%s'", name);
}
