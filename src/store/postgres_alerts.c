/* postgres_alerts.c: the PostgreSQL side of the alert ops -- alert rules
 * and action groups (typed rows kept as their JSON text by name; a rule's
 * managing monitor in its own column, checked in the same statement that
 * writes it, so replicas cannot race), alert episodes (one row per key and startsAt with
 * the evaluator's instance JSON, so a new leader restores pending and firing
 * alerts) and the append-only history of fired/resolved transitions.  Same
 * semantics as sqlite_alerts.c.  Replicas share the database: alert_save runs
 * under a transaction advisory lock and, on a server's connection, only
 * while that connection holds the leader lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/pg_internal.h"

/* The stored manager of rule name: *exists, and monitor (NUL: the API's). */
static enum cmon_err rule_owner(struct pg_store *ps, const char *name, bool *exists, char *monitor,
                                size_t cap, struct cmon_errbuf *eb)
{
    const char *v[] = {name};
    PGresult *res = pg_query(ps, "SELECT coalesce(monitor, '') FROM alert_rules WHERE name = $1", 1,
                             v, eb, "read alert rule");
    if (!res)
        return CMON_ERR_STORE;
    *exists = PQntuples(res) == 1;
    snprintf(monitor, cap, "%s", *exists ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return CMON_OK;
}

/* Write r as managed by monitor (NULL: the API's), if that one may: the
 * upsert only replaces a row with the same manager. */
static enum cmon_err rule_write(struct pg_store *ps, const struct cmon_alert_rule *r,
                                const char *monitor, bool *created, struct cmon_errbuf *eb)
{
    char *body = cmon_alert_rule_dumps(r);
    if (!body)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    const char *v[] = {r->name, body, monitor};
    PGresult *res = pg_query(ps,
                             "INSERT INTO alert_rules (name, body, monitor) VALUES ($1, $2, $3)"
                             " ON CONFLICT (name) DO UPDATE SET body = excluded.body"
                             " WHERE alert_rules.monitor IS NOT DISTINCT FROM excluded.monitor"
                             " RETURNING xmax = 0",
                             3, v, eb, "store alert rule");
    free(body);
    if (!res)
        return CMON_ERR_STORE;
    bool written = PQntuples(res) == 1;
    if (created)
        *created = written && pg_col_bool(res, 0, 0);
    PQclear(res);
    if (written)
        return CMON_OK;
    bool exists;
    char stored[128];
    enum cmon_err err = rule_owner(ps, r->name, &exists, stored, sizeof stored, eb);
    if (!err)
        err = store_rule_owner_check(r->name, true, stored[0] ? stored : NULL, monitor, eb);
    return err ? err
               : cmon_fail(eb, CMON_ERR_STORE, "postgres: alert rule '%s' not written", r->name);
}

enum cmon_err pg_alert_rule_put(struct store *s, const struct cmon_alert_rule *r, bool *created,
                                struct cmon_errbuf *eb)
{
    return rule_write(pg_of(s), r, r->monitor, created, eb);
}

enum cmon_err pg_alert_rule_delete(struct store *s, const char *name, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    const char *v[] = {name};
    long long n = 0;
    enum cmon_err err = pg_exec(ps, "DELETE FROM alert_rules WHERE name = $1 AND monitor IS NULL",
                                1, v, &n, eb, "delete alert rule");
    if (err || n)
        return err;
    bool exists;
    char stored[128];
    if ((err = rule_owner(ps, name, &exists, stored, sizeof stored, eb)))
        return err;
    if (!exists)
        return cmon_fail(eb, CMON_ERR_NOTFOUND, "alert rule '%s' not found", name);
    return store_rule_owner_check(name, true, stored[0] ? stored : NULL, NULL, eb);
}

enum cmon_err pg_alert_rule_list(struct store *s, struct cmon_alert_rule_list *out,
                                 struct cmon_errbuf *eb)
{
    *out = (struct cmon_alert_rule_list){0};
    PGresult *res = pg_query(
        pg_of(s), "SELECT name, body, monitor FROM alert_rules ORDER BY name COLLATE \"C\"", 0,
        NULL, eb, "read alert rules");
    if (!res)
        return CMON_ERR_STORE;
    enum cmon_err err = CMON_OK;
    for (int i = 0; !err && i < PQntuples(res); i++)
        err = store_rule_row(out, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                             pg_col_null(res, i, 2) ? NULL : PQgetvalue(res, i, 2), eb);
    PQclear(res);
    if (err)
        cmon_alert_rule_list_free(out);
    return err;
}

enum cmon_err pg_monitor_rules_put(struct pg_store *ps, const char *monitor,
                                   const struct cmon_alert_rule *const *rules, size_t n_rules,
                                   struct cmon_errbuf *eb)
{
    enum cmon_err err = CMON_OK;
    for (size_t i = 0; !err && i < n_rules; i++)
        err = rule_write(ps, rules[i], monitor, NULL, eb);
    if (err)
        return err;
    char *names = store_rule_names_json(rules, n_rules);
    if (!names)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    const char *v[] = {monitor, names};
    err = pg_exec(ps,
                  "DELETE FROM alert_rules WHERE monitor = $1 AND name NOT IN"
                  " (SELECT json_array_elements_text($2::json))",
                  2, v, NULL, eb, "drop the monitor's old alert rules");
    free(names);
    return err;
}

enum cmon_err pg_action_group_put(struct store *s, const struct cmon_action_group *g, bool *created,
                                  struct cmon_errbuf *eb)
{
    char *body = cmon_action_group_dumps(g);
    if (!body)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    const char *v[] = {g->name, body};
    /* xmax is 0 on a freshly inserted row, set on an updated one */
    PGresult *res = pg_query(pg_of(s),
                             "INSERT INTO action_groups (name, body) VALUES ($1, $2)"
                             " ON CONFLICT (name) DO UPDATE SET body = excluded.body"
                             " RETURNING xmax = 0",
                             2, v, eb, "store action group");
    free(body);
    if (!res)
        return CMON_ERR_STORE;
    if (created)
        *created = PQntuples(res) == 1 && pg_col_bool(res, 0, 0);
    PQclear(res);
    return CMON_OK;
}

enum cmon_err pg_action_group_delete(struct store *s, const char *name, struct cmon_errbuf *eb)
{
    const char *v[] = {name};
    long long n = 0;
    enum cmon_err err = pg_exec(pg_of(s), "DELETE FROM action_groups WHERE name = $1", 1, v, &n, eb,
                                "delete action group");
    if (!err && n == 0)
        return cmon_fail(eb, CMON_ERR_NOTFOUND, "action group '%s' not found", name);
    return err;
}

enum cmon_err pg_action_group_list(struct store *s, struct cmon_action_group_list *out,
                                   struct cmon_errbuf *eb)
{
    *out = (struct cmon_action_group_list){0};
    PGresult *res =
        pg_query(pg_of(s), "SELECT name, body FROM action_groups ORDER BY name COLLATE \"C\"", 0,
                 NULL, eb, "list action groups");
    if (!res)
        return CMON_ERR_STORE;
    enum cmon_err err = CMON_OK;
    for (int i = 0; !err && i < PQntuples(res); i++)
        err = store_group_row(out, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), eb);
    PQclear(res);
    if (err)
        cmon_action_group_list_free(out);
    return err;
}

/* One saver at a time; a server's connection must still be the leader's. */
static enum cmon_err alert_fence(struct pg_store *ps, struct cmon_errbuf *eb)
{
    char a[24], b[24], c[24];
    const char *lk[] = {pg_i64(a, PG_LOCK_SPACE), pg_i64(b, PG_LOCK_ALERTS)};
    enum cmon_err err = pg_exec(ps, "SELECT pg_advisory_xact_lock($1::int, $2::int)", 2, lk, NULL,
                                eb, "lock alerts");
    if (err || !ps->leader_tried)
        return err;
    const char *ld[] = {lk[0], pg_i64(c, PG_LOCK_LEADER)};
    PGresult *res = pg_query(ps,
                             "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory'"
                             " AND classid = $1::oid AND objid = $2::oid AND objsubid = 2"
                             " AND pid = pg_backend_pid() AND granted)",
                             2, ld, eb, "check leader");
    if (!res)
        return CMON_ERR_STORE;
    bool held = pg_col_bool(res, 0, 0);
    PQclear(res);
    if (!held) {
        ps->leader = false;
        return cmon_fail(eb, CMON_ERR_PERM, "postgres: not the leader: alerts not saved");
    }
    return CMON_OK;
}

/* Upsert every item as its episode (key, startsAt), set-wise from the JSON
 * text itself (json, not jsonb: each body keeps its exact text); the last
 * of two items for one episode wins, as on SQLite. */
static enum cmon_err save_items(struct pg_store *ps, const char *items, int64_t now_ns,
                                struct cmon_errbuf *eb)
{
    char n[24];
    const char *v[] = {items, pg_i64(n, now_ns)};
    enum cmon_err err =
        pg_exec(ps,
                "INSERT INTO alerts (key, starts_ns, rule, state, updated_ns, monitors, body)"
                " SELECT DISTINCT ON (k, st) k, st, i->>'rule', i->>'state', $2::bigint,"
                "  coalesce(i->'monitors', '[]')::jsonb, i::text"
                " FROM (SELECT i, o, i->>'key' AS k,"
                "  coalesce((i->'timesNs'->>'pending')::bigint, 0) AS st"
                "  FROM json_array_elements($1::json) WITH ORDINALITY AS x(i, o)) y"
                " ORDER BY k, st, o DESC"
                " ON CONFLICT (key, starts_ns) DO UPDATE SET rule = excluded.rule,"
                " state = excluded.state, updated_ns = excluded.updated_ns,"
                " monitors = excluded.monitors, body = excluded.body",
                2, v, NULL, eb, "store alerts");
    if (!err)
        err = pg_exec(ps, "DELETE FROM alerts WHERE state = 'pending' AND updated_ns < $1", 1,
                      v + 1, NULL, eb, "drop ended pending alerts");
    return err;
}

static enum cmon_err save_transitions(struct pg_store *ps, const char *trans,
                                      struct cmon_errbuf *eb)
{
    const char *v[] = {trans};
    return pg_exec(ps,
                   "INSERT INTO alert_transitions (key, rule, event, at_ns, value)"
                   " SELECT t->>'key', t->>'rule', t->>'event',"
                   "  coalesce((t->>'atNs')::bigint, 0), coalesce((t->>'value')::float8, 0)"
                   " FROM json_array_elements($1::json) WITH ORDINALITY AS x(t, o) ORDER BY o",
                   1, v, NULL, eb, "store alert transitions");
}

enum cmon_err pg_alert_save(struct store *s, const json_t *items, const json_t *transitions,
                            int64_t now_ns, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    char *it = json_dumps(items, JSON_COMPACT | JSON_ENCODE_ANY);
    char *tr = json_dumps(transitions, JSON_COMPACT | JSON_ENCODE_ANY);
    enum cmon_err err = CMON_OK;
    if (!it || !tr)
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    if (!err)
        err = pg_begin(ps, eb);
    if (!err) {
        err = alert_fence(ps, eb);
        if (!err)
            err = save_items(ps, it, now_ns, eb);
        if (!err)
            err = save_transitions(ps, tr, eb);
        err = pg_end(ps, err, eb);
    }
    free(it);
    free(tr);
    return err;
}

static json_t *body_row(const PGresult *res, int i)
{
    return json_loads(PQgetvalue(res, i, 0), 0, NULL);
}

enum cmon_err pg_alert_active(struct store *s, json_t **out, struct cmon_errbuf *eb)
{
    PGresult *res = pg_query(pg_of(s),
                             "SELECT body FROM alerts WHERE state IN ('pending', 'firing')"
                             " ORDER BY key COLLATE \"C\", starts_ns",
                             0, NULL, eb, "active alerts");
    return pg_rows_json(res, body_row, out, eb);
}

enum cmon_err pg_alert_query(struct store *s, const struct store_alert_filter *f, size_t offset,
                             size_t limit, json_t **out, bool *more, struct cmon_errbuf *eb)
{
    char a[24], b[24];
    const char *v[] = {f ? f->state : NULL, f ? f->rule : NULL, f ? f->monitor : NULL,
                       pg_i64(a, (int64_t)limit + 1), pg_i64(b, (int64_t)offset)};
    PGresult *res =
        pg_query(pg_of(s),
                 "SELECT body FROM alerts WHERE ($1::text IS NULL OR state = $1)"
                 " AND ($2::text IS NULL OR rule = $2)"
                 " AND ($3::text IS NULL OR monitors @> jsonb_build_array($3::text))"
                 " ORDER BY starts_ns DESC, key COLLATE \"C\" LIMIT $4::bigint OFFSET $5::bigint",
                 5, v, eb, "query alerts");
    enum cmon_err err = pg_rows_json(res, body_row, out, eb);
    if (err)
        return err;
    *more = json_array_size(*out) > limit;
    if (*more)
        json_array_remove(*out, limit);
    return CMON_OK;
}

static json_t *transition_row(const PGresult *res, int i)
{
    char ts[40];
    return json_pack("{s:s, s:s, s:f}", "event", PQgetvalue(res, i, 0), "at",
                     cmon_rfc3339(pg_col_i64(res, i, 1), ts, sizeof ts), "value",
                     pg_col_dbl(res, i, 2));
}

enum cmon_err pg_alert_transitions(struct store *s, const char *key, json_t **out,
                                   struct cmon_errbuf *eb)
{
    const char *v[] = {key};
    PGresult *res = pg_query(pg_of(s),
                             "SELECT event, at_ns, value FROM alert_transitions WHERE key = $1"
                             " ORDER BY at_ns, id",
                             1, v, eb, "alert history");
    return pg_rows_json(res, transition_row, out, eb);
}

enum cmon_err pg_alert_prune(struct store *s, int64_t before_ns, int64_t *deleted,
                             struct cmon_errbuf *eb)
{
    static const char *const sql[] = {
        "DELETE FROM alerts WHERE state = 'resolved' AND updated_ns < $1",
        "DELETE FROM alert_transitions WHERE at_ns < $1",
    };
    char a[24];
    const char *v[] = {pg_i64(a, before_ns)};
    *deleted = 0;
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
        long long n = 0;
        enum cmon_err err = pg_exec(pg_of(s), sql[i], 1, v, &n, eb, "prune alerts");
        if (err)
            return err;
        *deleted += n;
    }
    return CMON_OK;
}
