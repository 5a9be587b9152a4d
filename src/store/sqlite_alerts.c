/* sqlite_alerts.c: the SQLite side of the alert ops -- alert rules and
 * action groups (typed rows kept as their JSON text by name; a rule's
 * managing monitor in its own column), alert episodes (one row per key and startsAt, holding the
 * instance JSON the evaluator produced, so restarts keep pending and firing
 * alerts) and the append-only history of fired/resolved transitions.
 * These ops run rarely (API writes, one save per evaluation), so they prepare
 * their statements per call instead of sharing the connection's cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/sqlite_internal.h"

static sqlite3_stmt *prep(struct sqlite_store *ss, const char *sql, struct cmon_errbuf *eb)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ss->db, sql, -1, &st, NULL) != SQLITE_OK) {
        sq_fail(ss, eb, "prepare");
        return NULL;
    }
    return st;
}

/* Step a no-row statement once and finalize it. */
static enum cmon_err run_once(struct sqlite_store *ss, sqlite3_stmt *st, struct cmon_errbuf *eb,
                              const char *what)
{
    int rc = sqlite3_step(st);
    enum cmon_err err = rc == SQLITE_DONE || rc == SQLITE_ROW ? CMON_OK : sq_fail(ss, eb, what);
    sqlite3_finalize(st);
    return err;
}

/* Whether a row named name exists in table, and (rules) its monitor column. */
static enum cmon_err row_exists(struct sqlite_store *ss, const char *sql, const char *name,
                                bool *exists, char *monitor, size_t cap, struct cmon_errbuf *eb)
{
    sqlite3_stmt *st = prep(ss, sql, eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    *exists = rc == SQLITE_ROW;
    if (monitor)
        snprintf(monitor, cap, "%s", *exists ? sq_col_text(st, 0) : "");
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? CMON_OK : sq_fail(ss, eb, "read row");
}

/* Write r as managed by monitor (NULL: the API's), if that one may. */
static enum cmon_err rule_write(struct sqlite_store *ss, const struct cmon_alert_rule *r,
                                const char *monitor, bool *created, struct cmon_errbuf *eb)
{
    bool exists;
    char stored[128];
    enum cmon_err err =
        row_exists(ss, "SELECT coalesce(monitor, '') FROM alert_rules WHERE name = ?1", r->name,
                   &exists, stored, sizeof stored, eb);
    if (!err)
        err = store_rule_owner_check(r->name, exists, stored[0] ? stored : NULL, monitor, eb);
    if (err)
        return err;
    if (created)
        *created = !exists;
    char *body = cmon_alert_rule_dumps(r);
    if (!body)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    sqlite3_stmt *st = prep(
        ss, "INSERT OR REPLACE INTO alert_rules (name, body, monitor) VALUES (?1, ?2, ?3)", eb);
    if (st) {
        sq_bind_text(st, 1, r->name);
        sq_bind_text(st, 2, body);
        sq_bind_text(st, 3, monitor);
        err = run_once(ss, st, eb, "store alert rule");
    }
    free(body);
    return st ? err : CMON_ERR_STORE;
}

enum cmon_err sq_alert_rule_put(struct store *s, const struct cmon_alert_rule *r, bool *created,
                                struct cmon_errbuf *eb)
{
    return rule_write(sq_of(s), r, r->monitor, created, eb);
}

enum cmon_err sq_alert_rule_delete(struct store *s, const char *name, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    bool exists;
    char stored[128];
    enum cmon_err err =
        row_exists(ss, "SELECT coalesce(monitor, '') FROM alert_rules WHERE name = ?1", name,
                   &exists, stored, sizeof stored, eb);
    if (!err && !exists)
        return cmon_fail(eb, CMON_ERR_NOTFOUND, "alert rule '%s' not found", name);
    if (!err)
        err = store_rule_owner_check(name, exists, stored[0] ? stored : NULL, NULL, eb);
    if (err)
        return err;
    sqlite3_stmt *st = prep(ss, "DELETE FROM alert_rules WHERE name = ?1", eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, name);
    return run_once(ss, st, eb, "delete alert rule");
}

enum cmon_err sq_alert_rule_list(struct store *s, struct cmon_alert_rule_list *out,
                                 struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    *out = (struct cmon_alert_rule_list){0};
    sqlite3_stmt *st = prep(ss, "SELECT name, body, monitor FROM alert_rules ORDER BY name", eb);
    if (!st)
        return CMON_ERR_STORE;
    int rc = SQLITE_DONE;
    enum cmon_err err = CMON_OK;
    while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW)
        err = store_rule_row(out, sq_col_text(st, 0), sq_col_text(st, 1),
                             sqlite3_column_type(st, 2) == SQLITE_NULL ? NULL : sq_col_text(st, 2),
                             eb);
    if (!err && rc != SQLITE_DONE)
        err = sq_fail(ss, eb, "read alert rules");
    sqlite3_finalize(st);
    if (err)
        cmon_alert_rule_list_free(out);
    return err;
}

enum cmon_err sq_monitor_rules_put(struct sqlite_store *ss, const char *monitor,
                                   const struct cmon_alert_rule *const *rules, size_t n_rules,
                                   struct cmon_errbuf *eb)
{
    enum cmon_err err = CMON_OK;
    for (size_t i = 0; !err && i < n_rules; i++)
        err = rule_write(ss, rules[i], monitor, NULL, eb);
    char *names = err ? NULL : store_rule_names_json(rules, n_rules);
    if (!err && !names)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    sqlite3_stmt *st = err ? NULL
                           : prep(ss,
                                  "DELETE FROM alert_rules WHERE monitor = ?1 AND name NOT IN"
                                  " (SELECT value FROM json_each(?2))",
                                  eb);
    if (st) {
        sq_bind_text(st, 1, monitor);
        sq_bind_text(st, 2, names);
        err = run_once(ss, st, eb, "drop the monitor's old alert rules");
    } else if (!err) {
        err = CMON_ERR_STORE;
    }
    free(names);
    return err;
}

enum cmon_err sq_action_group_put(struct store *s, const struct cmon_action_group *g, bool *created,
                                  struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    bool exists;
    enum cmon_err err = row_exists(ss, "SELECT 1 FROM action_groups WHERE name = ?1", g->name,
                                   &exists, NULL, 0, eb);
    if (err)
        return err;
    if (created)
        *created = !exists;
    char *body = cmon_action_group_dumps(g);
    if (!body)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    sqlite3_stmt *st =
        prep(ss, "INSERT OR REPLACE INTO action_groups (name, body) VALUES (?1, ?2)", eb);
    if (st) {
        sq_bind_text(st, 1, g->name);
        sq_bind_text(st, 2, body);
        err = run_once(ss, st, eb, "store action group");
    }
    free(body);
    return st ? err : CMON_ERR_STORE;
}

enum cmon_err sq_action_group_delete(struct store *s, const char *name, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = prep(ss, "DELETE FROM action_groups WHERE name = ?1", eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, name);
    enum cmon_err err = run_once(ss, st, eb, "delete action group");
    if (!err && sqlite3_changes(ss->db) == 0)
        return cmon_fail(eb, CMON_ERR_NOTFOUND, "action group '%s' not found", name);
    return err;
}

/* Rows of st (finalized here) as a JSON array; row_fn builds one item or
 * returns NULL to skip it. */
static enum cmon_err collect(struct sqlite_store *ss, sqlite3_stmt *st,
                             json_t *(*row_fn)(sqlite3_stmt *), json_t **out,
                             struct cmon_errbuf *eb)
{
    json_t *arr = json_array();
    int rc = SQLITE_DONE;
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *item = row_fn(st);
        if (item)
            json_array_append_new(arr, item);
    }
    enum cmon_err err = CMON_OK;
    if (!arr)
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    else if (rc != SQLITE_DONE)
        err = sq_fail(ss, eb, "read rows");
    sqlite3_finalize(st);
    if (err)
        json_decref(arr);
    else
        *out = arr;
    return err;
}

enum cmon_err sq_action_group_list(struct store *s, struct cmon_action_group_list *out,
                                   struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    *out = (struct cmon_action_group_list){0};
    sqlite3_stmt *st = prep(ss, "SELECT name, body FROM action_groups ORDER BY name", eb);
    if (!st)
        return CMON_ERR_STORE;
    int rc = SQLITE_DONE;
    enum cmon_err err = CMON_OK;
    while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW)
        err = store_group_row(out, sq_col_text(st, 0), sq_col_text(st, 1), eb);
    if (!err && rc != SQLITE_DONE)
        err = sq_fail(ss, eb, "read action groups");
    sqlite3_finalize(st);
    if (err)
        cmon_action_group_list_free(out);
    return err;
}

static enum cmon_err save_item(struct sqlite_store *ss, sqlite3_stmt *st, const json_t *item,
                               int64_t now_ns, struct cmon_errbuf *eb)
{
    char *body = json_dumps(item, JSON_COMPACT);
    char *mons = json_dumps(json_object_get(item, "monitors"), JSON_COMPACT | JSON_ENCODE_ANY);
    json_int_t starts =
        json_integer_value(json_object_get(json_object_get(item, "timesNs"), "pending"));
    enum cmon_err err = CMON_OK;
    if (!body || !mons) {
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    } else {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        sq_bind_text(st, 1, json_string_value(json_object_get(item, "key")));
        sqlite3_bind_int64(st, 2, starts);
        sq_bind_text(st, 3, json_string_value(json_object_get(item, "rule")));
        sq_bind_text(st, 4, json_string_value(json_object_get(item, "state")));
        sqlite3_bind_int64(st, 5, now_ns);
        sq_bind_text(st, 6, mons);
        sq_bind_text(st, 7, body);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
            err = sq_fail(ss, eb, "store alert");
        sqlite3_reset(st);
    }
    free(body);
    free(mons);
    return err;
}

static enum cmon_err save_items(struct sqlite_store *ss, const json_t *items, int64_t now_ns,
                                struct cmon_errbuf *eb)
{
    sqlite3_stmt *st =
        prep(ss,
             "INSERT INTO alerts (key, starts_ns, rule, state, updated_ns, monitors, body)"
             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (key, starts_ns) DO UPDATE SET"
             " rule = ?3, state = ?4, updated_ns = ?5, monitors = ?6, body = ?7",
             eb);
    if (!st)
        return CMON_ERR_STORE;
    enum cmon_err err = CMON_OK;
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        if ((err = save_item(ss, st, item, now_ns, eb)))
            break;
    }
    sqlite3_finalize(st);
    if (err)
        return err;
    st = prep(ss, "DELETE FROM alerts WHERE state = 'pending' AND updated_ns < ?1", eb);
    if (!st)
        return CMON_ERR_STORE;
    sqlite3_bind_int64(st, 1, now_ns);
    return run_once(ss, st, eb, "drop ended pending alerts");
}

static enum cmon_err save_transitions(struct sqlite_store *ss, const json_t *trans,
                                      struct cmon_errbuf *eb)
{
    sqlite3_stmt *st = prep(ss,
                            "INSERT INTO alert_transitions (key, rule, event, at_ns, value)"
                            " VALUES (?1, ?2, ?3, ?4, ?5)",
                            eb);
    if (!st)
        return CMON_ERR_STORE;
    enum cmon_err err = CMON_OK;
    size_t i;
    json_t *t;
    json_array_foreach(trans, i, t)
    {
        sqlite3_reset(st);
        sq_bind_text(st, 1, json_string_value(json_object_get(t, "key")));
        sq_bind_text(st, 2, json_string_value(json_object_get(t, "rule")));
        sq_bind_text(st, 3, json_string_value(json_object_get(t, "event")));
        sqlite3_bind_int64(st, 4, json_integer_value(json_object_get(t, "atNs")));
        sqlite3_bind_double(st, 5, json_number_value(json_object_get(t, "value")));
        if (sqlite3_step(st) != SQLITE_DONE) {
            err = sq_fail(ss, eb, "store alert transition");
            break;
        }
    }
    sqlite3_finalize(st);
    return err;
}

enum cmon_err sq_alert_save(struct store *s, const json_t *items, const json_t *transitions,
                            int64_t now_ns, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    enum cmon_err err = sq_exec(ss, "BEGIN IMMEDIATE", eb);
    if (err)
        return err;
    err = save_items(ss, items, now_ns, eb);
    if (!err)
        err = save_transitions(ss, transitions, eb);
    if (!err)
        err = sq_exec(ss, "COMMIT", eb);
    if (err)
        sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

static json_t *body_row(sqlite3_stmt *st)
{
    return json_loads(sq_col_text(st, 0), 0, NULL);
}

enum cmon_err sq_alert_active(struct store *s, json_t **out, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = prep(ss,
                            "SELECT body FROM alerts WHERE state IN ('pending', 'firing')"
                            " ORDER BY key, starts_ns",
                            eb);
    return st ? collect(ss, st, body_row, out, eb) : CMON_ERR_STORE;
}

enum cmon_err sq_alert_query(struct store *s, const struct store_alert_filter *f, size_t offset,
                             size_t limit, json_t **out, bool *more, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = prep(
        ss,
        "SELECT body FROM alerts WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR rule = ?2)"
        " AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(alerts.monitors) m"
        " WHERE m.value = ?3)) ORDER BY starts_ns DESC, key LIMIT ?4 OFFSET ?5",
        eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, f ? f->state : NULL);
    sq_bind_text(st, 2, f ? f->rule : NULL);
    sq_bind_text(st, 3, f ? f->monitor : NULL);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)limit + 1);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)offset);
    enum cmon_err err = collect(ss, st, body_row, out, eb);
    if (err)
        return err;
    *more = json_array_size(*out) > limit;
    if (*more)
        json_array_remove(*out, limit);
    return CMON_OK;
}

static json_t *transition_row(sqlite3_stmt *st)
{
    char ts[40];
    return json_pack("{s:s, s:s, s:f}", "event", sq_col_text(st, 0), "at",
                     cmon_rfc3339(sqlite3_column_int64(st, 1), ts, sizeof ts), "value",
                     sqlite3_column_double(st, 2));
}

enum cmon_err sq_alert_transitions(struct store *s, const char *key, json_t **out,
                                   struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = prep(ss,
                            "SELECT event, at_ns, value FROM alert_transitions WHERE key = ?1"
                            " ORDER BY at_ns, id",
                            eb);
    if (!st)
        return CMON_ERR_STORE;
    sq_bind_text(st, 1, key);
    return collect(ss, st, transition_row, out, eb);
}

enum cmon_err sq_alert_prune(struct store *s, int64_t before_ns, int64_t *deleted,
                             struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    static const char *const sql[] = {
        "DELETE FROM alerts WHERE state = 'resolved' AND updated_ns < ?1",
        "DELETE FROM alert_transitions WHERE at_ns < ?1",
    };
    *deleted = 0;
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3_stmt *st = prep(ss, sql[i], eb);
        if (!st)
            return CMON_ERR_STORE;
        sqlite3_bind_int64(st, 1, before_ns);
        enum cmon_err err = run_once(ss, st, eb, "prune alerts");
        if (err)
            return err;
        *deleted += sqlite3_changes(ss->db);
    }
    return CMON_OK;
}
