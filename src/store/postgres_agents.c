/* postgres_agents.c: the remote-agent ops of store.h for PostgreSQL --
 * registration (token rotation and the registry row in one transaction),
 * heartbeats, the agent list (registry joined with the last-contact table
 * that ingest keeps) and removal; same semantics as sqlite_agents.c.
 * Replicas share the database: registering or removing one agent takes a
 * transaction advisory lock on its name, so two replicas registering it at
 * once leave exactly one valid agent token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"

/* Serialise writers of one agent's tokens and registry row (all replicas). */
static enum cmon_err lock_agent(struct pg_store *ps, const char *name, struct cmon_errbuf *eb)
{
    char a[24];
    const char *v[] = {pg_i64(a, PG_LOCK_AGENT_SPACE), name};
    return pg_exec(ps, "SELECT pg_advisory_xact_lock($1::int, hashtext($2))", 2, v, NULL, eb,
                   "lock agent");
}

static enum cmon_err register_locked(struct pg_store *ps, const char *name, const char *token_hash,
                                     const char *version, const char *addresses_json,
                                     const char *region, int heartbeat_sec, int64_t now_ns,
                                     int64_t *next_seq, struct cmon_errbuf *eb)
{
    char ns[24], hb[24];
    const char *v[] = {name,           token_hash,         version,
                       addresses_json, pg_i64(ns, now_ns), pg_i64(hb, heartbeat_sec),
                       region ? region : ""};
    enum cmon_err err = pg_exec(ps, "DELETE FROM tokens WHERE role = 'agent' AND name = $1", 1, v,
                                NULL, eb, "revoke agent tokens");
    if (!err)
        err = pg_exec(ps,
                      "INSERT INTO tokens (hash, role, name, created_ns)"
                      " VALUES ($2, 'agent', $1, $3::bigint)",
                      3, (const char *const[]){v[0], v[1], v[4]}, NULL, eb, "add agent token");
    if (!err)
        err = pg_exec(ps,
                      "INSERT INTO agent_registry (name, version, addresses, registered_ns,"
                      " heartbeat_ns, heartbeat_sec, region) VALUES ($1, $2, $3, $4, $4, $5, $6)"
                      " ON CONFLICT (name) DO UPDATE SET version = $2, addresses = $3,"
                      " registered_ns = $4, heartbeat_ns = $4, heartbeat_sec = $5, region = $6",
                      6, (const char *const[]){v[0], v[2], v[3], v[4], v[5], v[6]}, NULL, eb,
                      "record agent");
    if (err)
        return err;
    PGresult *res = pg_query(ps, "SELECT max(seq) + 1 FROM agent_batches WHERE agent = $1", 1, v,
                             eb, "batch sequence");
    if (!res)
        return CMON_ERR_STORE;
    *next_seq = pg_col_null(res, 0, 0) ? 0 : pg_col_i64(res, 0, 0);
    PQclear(res);
    return CMON_OK;
}

enum cmon_err pg_agent_register(struct store *s, const char *name, const char *token_hash,
                                const char *version, const char *addresses_json, const char *region,
                                int heartbeat_sec, int64_t now_ns, int64_t *next_seq,
                                struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    enum cmon_err err = pg_begin(ps, eb);
    if (err)
        return err;
    err = lock_agent(ps, name, eb);
    if (!err)
        err = register_locked(ps, name, token_hash, version, addresses_json, region,
                              heartbeat_sec, now_ns, next_seq, eb);
    return pg_end(ps, err, eb);
}

enum cmon_err pg_agent_heartbeat(struct store *s, const char *name, const char *version,
                                 const char *addresses_json, const char *region,
                                 const char *spool_json, int heartbeat_sec, int64_t now_ns,
                                 struct cmon_errbuf *eb)
{
    char ns[24], hb[24];
    const char *v[] = {name,       version, addresses_json, pg_i64(ns, now_ns), pg_i64(hb, heartbeat_sec),
                       spool_json, region ? region : ""};
    long long n = 0;
    enum cmon_err err = pg_exec(pg_of(s),
                                "UPDATE agent_registry SET version = $2, addresses = $3,"
                                " heartbeat_ns = greatest(heartbeat_ns, $4::bigint),"
                                " heartbeat_sec = $5, spool = $6, region = $7 WHERE name = $1",
                                7, v, &n, eb, "agent heartbeat");
    if (!err && n == 0)
        return cmon_fail(eb, CMON_ERR_NOTFOUND, "agent '%s' is not registered", name);
    return err;
}

/* The agents (registered, and known only from results) as struct
 * store_agent's columns; R filters the registered part, A the other. */
#define PG_AGENT_ROWS(R, A)                                                                        \
    "SELECT r.name COLLATE \"C\", r.version, r.addresses, true, r.registered_ns,"                   \
    " r.heartbeat_ns, r.heartbeat_sec, greatest(r.heartbeat_ns, coalesce(a.last_seen_ns, 0)),"     \
    " r.spool, r.region FROM agent_registry r LEFT JOIN agents a ON a.name = r.name" R             \
    " UNION ALL SELECT a.name, '', '[]', false, 0, 0, 0, a.last_seen_ns, '{}', '' FROM agents a"   \
    " WHERE NOT EXISTS (SELECT FROM agent_registry r WHERE r.name = a.name)" A

/* res's rows (PG_AGENT_ROWS' columns) into cb; res stays the caller's. */
static void agent_rows(struct pg_store *ps, PGresult *res, store_agent_cb cb, void *arg)
{
    for (int i = 0; i < PQntuples(res); i++) {
        struct store_agent a = {
            .name = PQgetvalue(res, i, 0),
            .version = PQgetvalue(res, i, 1),
            .addresses = PQgetvalue(res, i, 2),
            .registered = pg_col_bool(res, i, 3),
            .registered_ns = pg_col_i64(res, i, 4),
            .heartbeat_ns = pg_col_i64(res, i, 5),
            .heartbeat_sec = (int)pg_col_i64(res, i, 6),
            .last_seen_ns = pg_col_i64(res, i, 7),
            .spool = PQgetvalue(res, i, 8),
            .region = PQgetvalue(res, i, 9),
        };
        /* in the writer's transaction: its contacts not written yet */
        int64_t pending = pg_seen_pending(ps, a.name);
        if (pending > a.last_seen_ns)
            a.last_seen_ns = pending;
        if (cb(arg, &a) != 0)
            break;
    }
}

enum cmon_err pg_agent_list(struct store *s, store_agent_cb cb, void *arg, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    PGresult *res = pg_query(ps, PG_AGENT_ROWS("", "") " ORDER BY 1", 0, NULL, eb, "list agents");
    if (!res)
        return CMON_ERR_STORE;
    agent_rows(ps, res, cb, arg);
    PQclear(res);
    return CMON_OK;
}

enum cmon_err pg_agent_get(struct store *s, const char *name, store_agent_cb cb, void *arg,
                           struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    const char *params[] = {name};
    PGresult *res = pg_query_prepared(ps, "cmon_agent_get",
                                      PG_AGENT_ROWS(" WHERE r.name = $1", " AND a.name = $1"), 1,
                                      params, eb, "get agent");
    if (!res)
        return CMON_ERR_STORE;
    agent_rows(ps, res, cb, arg);
    PQclear(res);
    return CMON_OK;
}

enum cmon_err pg_agent_delete(struct store *s, const char *name, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    const char *v[] = {name};
    long long a = 0, b = 0;
    enum cmon_err err = pg_begin(ps, eb);
    if (err)
        return err;
    err = lock_agent(ps, name, eb);
    if (!err)
        err =
            pg_exec(ps, "DELETE FROM agent_registry WHERE name = $1", 1, v, &a, eb, "forget agent");
    if (!err)
        err = pg_exec(ps, "DELETE FROM tokens WHERE role = 'agent' AND name = $1", 1, v, &b, eb,
                      "revoke agent tokens");
    err = pg_end(ps, err, eb);
    if (err)
        return err;
    return a + b ? CMON_OK : cmon_fail(eb, CMON_ERR_NOTFOUND, "no agent named '%s'", name);
}
