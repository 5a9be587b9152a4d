/* api_alerts.c: /api/v1/alertRules, /api/v1/actionGroups and /api/v1/alerts
 * (docs/api.md) -- rules and action groups validated by src/alert (the same
 * "line:col: path: message" problems as the CLI), stored normalized; webhook
 * secrets are never echoed ("***"), and a "***" sent back keeps the stored
 * secret of the webhook with the same URL.  Writes go through the writer
 * thread, whose next alert tick picks them up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/rule.h"
#include "core/text.h"
#include "server/server_internal.h"

#define SECRET_MASK "***"

/* ---- shared ---- */

static bool name_ok(struct req *r, const char *what)
{
    if (cmon_monitor_name_valid(r->seg[1]))
        return true;
    reply_error(r, 400, "invalid_name", "name",
                "'%s' is not a valid %s name: 1-80 characters of A-Z a-z 0-9 . _ -, "
                "not starting with . or -",
                r->seg[1], what);
    return false;
}

/* shift: from named_body -- columns to take off line 1, or -1 for no positions. */
static enum MHD_Result reply_problems(struct req *r, struct cmon_problems *probs, int shift)
{
    for (size_t i = 0; i < probs->n; i++) {
        struct cmon_problem *p = &probs->items[i];
        if (shift < 0)
            p->line = p->col = 0;
        else if (p->line == 1 && p->col > shift)
            p->col -= shift;
    }
    char msg[600] = "invalid";
    if (probs->n)
        cmon_problem_format(&probs->items[0], NULL, msg, sizeof msg);
    const char *field = probs->n ? probs->items[0].path : NULL;
    json_t *e = json_pack("{s:s, s:s, s:o, s:o}", "code", "validation_failed", "message", msg,
                          "field", field ? json_string(field) : json_null(), "problems",
                          cmon_problems_to_json(probs));
    return reply_json(r, 400, json_pack("{s:o}", "error", e));
}

/* The body as JSON text whose "name" is the URL's, so problems keep line:col:
 * the text itself when its name agrees (or it is no JSON object: the parser
 * says where), the text with "name" inserted after its opening brace when it
 * has none (*shift = the columns added to line 1), else a re-dump (*shift =
 * -1: positions would point into text the client never sent).  NULL after
 * replying; *owned is freed by the caller. */
static const char *named_body(struct req *r, char **owned, int *shift)
{
    *owned = NULL;
    *shift = 0;
    if (!r->len) {
        reply_error(r, 400, "invalid_request", NULL, "a JSON body is required");
        return NULL;
    }
    json_t *j = json_loadb(r->body, r->len, 0, NULL);
    json_t *n = json_object_get(j, "name");
    bool as_is =
        !json_is_object(j) || (json_is_string(n) && strcmp(json_string_value(n), r->seg[1]) == 0);
    if (as_is || n) {
        if (!as_is) {
            json_object_set_new(j, "name", json_string(r->seg[1]));
            *owned = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            *shift = -1;
        }
        json_decref(j);
        if (!as_is && !*owned)
            reply_error(r, 500, "internal", NULL, "out of memory");
        return as_is ? r->body : *owned;
    }
    json_decref(j);
    size_t brace = strcspn(r->body, "{"); /* an object: there is one */
    const char *rest = r->body + brace + 1;
    bool empty = rest[strspn(rest, " \t\r\n")] == '}';
    struct cmon_buf b;
    cmon_buf_init(&b);
    cmon_buf_append(&b, r->body, brace + 1);
    cmon_buf_printf(&b, "\"name\":\"%s\"%s", r->seg[1], empty ? "" : ",");
    *shift = (int)(b.len - brace - 1);
    cmon_buf_puts(&b, rest);
    *owned = b.oom ? NULL : cmon_buf_take(&b);
    cmon_buf_free(&b);
    if (!*owned)
        reply_error(r, 500, "internal", NULL, "out of memory");
    if (memchr(r->body, '\n', brace))
        *shift = 0; /* the brace is not on line 1: line 1 is unchanged */
    return *owned;
}

/* rows = [{"name": N, KEY: body}]: the body of name, borrowed from rows. */
static json_t *row_body(json_t *rows, const char *key, const char *name)
{
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (strcmp(json_string_value(json_object_get(row, "name")), name) == 0)
            return json_object_get(row, key);
    }
    return NULL;
}

/* One page of rows' bodies (each passed through fix, which may be NULL). */
static enum MHD_Result reply_page(struct req *r, json_t *rows, const char *key,
                                  json_t *(*fix)(const json_t *))
{
    size_t limit, offset;
    if (!req_page(r, &limit, &offset)) {
        json_decref(rows);
        return MHD_YES;
    }
    json_t *items = json_array();
    size_t n = json_array_size(rows);
    for (size_t i = offset; i < n && i < offset + limit; i++) {
        json_t *b = json_object_get(json_array_get(rows, i), key);
        json_array_append_new(items, fix ? fix(b) : json_incref(b));
    }
    json_decref(rows);
    char next[32];
    snprintf(next, sizeof next, "%zu", offset + limit);
    return reply_json(r, 200,
                      json_pack("{s:o, s:o}", "items", items, "next",
                                offset + limit < n ? json_string(next) : json_null()));
}

/* The body of rows' entry named in the URL (passed through fix, which may
 * be NULL), or 404 naming what was looked for; consumes rows. */
static enum MHD_Result reply_named(struct req *r, json_t *rows, const char *key, const char *what,
                                   json_t *(*fix)(const json_t *))
{
    json_t *b = row_body(rows, key, r->seg[1]);
    enum MHD_Result ret =
        b ? reply_json(r, 200, fix ? fix(b) : json_incref(b))
          : reply_error(r, 404, "not_found", NULL, "%s '%s' not found", what, r->seg[1]);
    json_decref(rows);
    return ret;
}

/* ---- alert rules ---- */

static enum MHD_Result rule_rows(struct req *r, json_t **rows)
{
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    struct cmon_errbuf eb;
    enum cmon_err err = s->ops->alert_rule_list(s, rows, &eb);
    return err ? reply_store_error(r, err, eb.msg) : MHD_YES;
}

enum MHD_Result api_alert_rule_list(struct req *r)
{
    json_t *rows = NULL;
    enum MHD_Result ret = rule_rows(r, &rows);
    return r->replied ? ret : reply_page(r, rows, "rule", NULL);
}

/* The dimension keys a rule's "dimensions" takes, from the alert model
 * itself, so forms (the dashboard's rule editor) never keep a copy. */
enum MHD_Result api_alert_dimensions(struct req *r)
{
    json_t *items = json_array();
    for (int d = 0; d < CMON_DIM__COUNT; d++)
        json_array_append_new(items, json_string(cmon_alert_dim_name((enum cmon_alert_dim)d)));
    return reply_json(r, 200, json_pack("{s:o, s:s}", "items", items, "each", CMON_DIM_EACH));
}

enum MHD_Result api_alert_rule_get(struct req *r)
{
    json_t *rows = NULL;
    enum MHD_Result ret = rule_rows(r, &rows);
    return r->replied ? ret : reply_named(r, rows, "rule", "alert rule", NULL);
}

/* Every action group the rule names must exist (a typo would silence it). */
static bool rule_groups_exist(struct req *r, const struct cmon_alert_rule *rule)
{
    struct store *s = req_store(r);
    json_t *groups = NULL;
    struct cmon_errbuf eb;
    if (!s)
        return false;
    enum cmon_err err = s->ops->action_group_list(s, &groups, &eb);
    if (err) {
        reply_store_error(r, err, eb.msg);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < rule->n_action_groups; i++) {
        if (row_body(groups, "group", rule->action_groups[i]))
            continue;
        char field[40];
        snprintf(field, sizeof field, "actionGroups[%zu]", i);
        reply_error(r, 400, "validation_failed", field,
                    "%s: unknown action group \"%s\"; create it first (PUT "
                    "/api/v1/actionGroups/%s)",
                    field, rule->action_groups[i], rule->action_groups[i]);
        ok = false;
    }
    json_decref(groups);
    return ok;
}

/* The API's alert writes on the writer thread: a rule or group body by name. */
struct named_write {
    const char *name, *text;
    bool created;
};

static enum cmon_err write_rule(struct store *s, void *arg, int64_t now_ns, struct cmon_errbuf *eb)
{
    struct named_write *w = arg;
    (void)now_ns;
    return s->ops->alert_rule_put(s, w->name, w->text, eb);
}

static enum cmon_err write_rule_delete(struct store *s, void *arg, int64_t now_ns,
                                       struct cmon_errbuf *eb)
{
    (void)now_ns;
    return s->ops->alert_rule_delete(s, arg, eb);
}

static enum cmon_err write_group(struct store *s, void *arg, int64_t now_ns, struct cmon_errbuf *eb)
{
    struct named_write *w = arg;
    (void)now_ns;
    return s->ops->action_group_put(s, w->name, w->text, &w->created, eb);
}

static enum cmon_err write_group_delete(struct store *s, void *arg, int64_t now_ns,
                                        struct cmon_errbuf *eb)
{
    (void)now_ns;
    return s->ops->action_group_delete(s, arg, eb);
}

/* Store the rule (normalized) and reply with it. */
static enum MHD_Result store_rule(struct req *r, const struct cmon_alert_rule *rule)
{
    json_t *rows = NULL;
    enum MHD_Result ret = rule_rows(r, &rows);
    if (r->replied)
        return ret;
    bool existed = row_body(rows, "rule", rule->name) != NULL;
    json_decref(rows);
    json_t *j = cmon_alert_rule_to_json(rule);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    struct cmon_errbuf eb;
    enum cmon_err err = CMON_ERR_NOMEM;
    snprintf(eb.msg, sizeof eb.msg, "out of memory");
    if (text) {
        struct named_write w = {rule->name, text, false};
        err = server_write(r->srv, write_rule, &w, &eb);
    }
    free(text);
    if (err) {
        json_decref(j);
        return reply_store_error(r, err, eb.msg);
    }
    return reply_json(r, existed ? 200 : 201, j);
}

enum MHD_Result api_alert_rule_put(struct req *r)
{
    if (!name_ok(r, "alert rule"))
        return MHD_YES;
    char *owned;
    int shift;
    const char *text = named_body(r, &owned, &shift);
    if (!text)
        return MHD_YES;
    struct cmon_problems probs = {0};
    struct cmon_alert_rule *rule = NULL;
    enum MHD_Result ret;
    if (cmon_alert_rule_parse(text, strlen(text), &rule, &probs) != CMON_OK)
        ret = reply_problems(r, &probs, shift);
    else if (!rule_groups_exist(r, rule))
        ret = MHD_YES;
    else
        ret = store_rule(r, rule);
    cmon_alert_rule_free(rule);
    cmon_problems_free(&probs);
    free(owned);
    return ret;
}

enum MHD_Result api_alert_rule_delete(struct req *r)
{
    struct cmon_errbuf eb;
    enum cmon_err err = server_write(r->srv, write_rule_delete, (void *)r->seg[1], &eb);
    if (err)
        return reply_store_error(r, err, eb.msg);
    return reply_text(r, 204, "application/json", strdup(""), 0);
}

static enum MHD_Result set_enabled(struct req *r, bool enabled)
{
    json_t *rows = NULL;
    enum MHD_Result ret = rule_rows(r, &rows);
    if (r->replied)
        return ret;
    json_t *b = row_body(rows, "rule", r->seg[1]);
    if (!b) {
        json_decref(rows);
        return reply_error(r, 404, "not_found", NULL, "alert rule '%s' not found", r->seg[1]);
    }
    json_object_set_new(b, "enabled", json_boolean(enabled));
    struct cmon_problems probs = {0};
    struct cmon_alert_rule *rule = NULL;
    if (cmon_alert_rule_from_json(b, "", &rule, &probs) != CMON_OK)
        ret = reply_problems(r, &probs, -1);
    else
        ret = store_rule(r, rule);
    cmon_alert_rule_free(rule);
    cmon_problems_free(&probs);
    json_decref(rows);
    return ret;
}

enum MHD_Result api_alert_rule_enable(struct req *r)
{
    return set_enabled(r, true);
}

enum MHD_Result api_alert_rule_disable(struct req *r)
{
    return set_enabled(r, false);
}

/* ---- action groups ---- */

/* A copy of a group's JSON with every webhook secret replaced by "***". */
static json_t *group_masked(const json_t *g)
{
    json_t *c = json_deep_copy(g);
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(c, "webhooks"), i, w)
    {
        if (json_is_string(json_object_get(w, "secret")))
            json_object_set_new(w, "secret", json_string(SECRET_MASK));
    }
    return c;
}

static enum MHD_Result group_rows(struct req *r, json_t **rows)
{
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    struct cmon_errbuf eb;
    enum cmon_err err = s->ops->action_group_list(s, rows, &eb);
    return err ? reply_store_error(r, err, eb.msg) : MHD_YES;
}

enum MHD_Result api_action_group_list(struct req *r)
{
    json_t *rows = NULL;
    enum MHD_Result ret = group_rows(r, &rows);
    return r->replied ? ret : reply_page(r, rows, "group", group_masked);
}

enum MHD_Result api_action_group_get(struct req *r)
{
    json_t *rows = NULL;
    enum MHD_Result ret = group_rows(r, &rows);
    return r->replied ? ret : reply_named(r, rows, "group", "action group", group_masked);
}

/* "***" as a secret keeps the stored secret of the webhook with that URL, so a
 * group read from the API can be sent back unchanged; false after replying. */
static bool keep_secrets(struct req *r, struct cmon_action_group *g, const json_t *old)
{
    for (size_t i = 0; i < g->n_webhooks; i++) {
        struct cmon_alert_webhook *w = &g->webhooks[i];
        if (!w->secret || strcmp(w->secret, SECRET_MASK) != 0)
            continue;
        const char *kept = NULL;
        size_t k;
        json_t *ow;
        json_array_foreach(json_object_get(old, "webhooks"), k, ow)
        {
            const char *u = json_string_value(json_object_get(ow, "url"));
            if (u && strcmp(u, w->url) == 0)
                kept = json_string_value(json_object_get(ow, "secret"));
        }
        char field[48];
        snprintf(field, sizeof field, "webhooks[%zu].secret", i);
        if (!kept) {
            reply_error(r, 400, "validation_failed", field,
                        "%s: \"***\" keeps the stored secret, but no stored webhook with url "
                        "\"%s\" has one; send the secret itself",
                        field, w->url);
            return false;
        }
        free(w->secret);
        if (!(w->secret = strdup(kept))) {
            reply_error(r, 500, "internal", NULL, "out of memory");
            return false;
        }
    }
    return true;
}

static enum MHD_Result store_group(struct req *r, const struct cmon_action_group *g)
{
    json_t *j = cmon_action_group_to_json(g);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    struct cmon_errbuf eb;
    enum cmon_err err = CMON_ERR_NOMEM;
    snprintf(eb.msg, sizeof eb.msg, "out of memory");
    bool created = false;
    if (text) {
        struct named_write w = {g->name, text, false};
        err = server_write(r->srv, write_group, &w, &eb);
        created = w.created;
    }
    free(text);
    if (err) {
        json_decref(j);
        return reply_store_error(r, err, eb.msg);
    }
    json_t *masked = group_masked(j);
    json_decref(j);
    return reply_json(r, created ? 201 : 200, masked);
}

enum MHD_Result api_action_group_put(struct req *r)
{
    if (!name_ok(r, "action group"))
        return MHD_YES;
    char *owned;
    int shift;
    const char *text = named_body(r, &owned, &shift);
    if (!text)
        return MHD_YES;
    struct cmon_problems probs = {0};
    struct cmon_action_group *g = NULL;
    json_t *rows = NULL;
    enum MHD_Result ret;
    if (cmon_action_group_parse(text, strlen(text), &g, &probs) != CMON_OK)
        ret = reply_problems(r, &probs, shift);
    else if (g->n_execs && !r->srv->opts.allow_exec)
        ret = reply_error(r, 403, "exec_disabled", "exec",
                          "exec actions are disabled on this server: start it with "
                          "--allow-exec-actions to allow them");
    else if ((ret = group_rows(r, &rows)), r->replied)
        ;
    else if (keep_secrets(r, g, row_body(rows, "group", g->name)))
        ret = store_group(r, g);
    json_decref(rows);
    cmon_action_group_free(g);
    cmon_problems_free(&probs);
    free(owned);
    return r->replied ? ret : MHD_YES;
}

/* The first rule naming the group, or NULL. */
static const char *group_user(json_t *rules, const char *group)
{
    size_t i, k;
    json_t *row, *g;
    json_array_foreach(rules, i, row)
    {
        json_array_foreach(json_object_get(json_object_get(row, "rule"), "actionGroups"), k, g)
        {
            if (json_string_value(g) && strcmp(json_string_value(g), group) == 0)
                return json_string_value(json_object_get(row, "name"));
        }
    }
    return NULL;
}

enum MHD_Result api_action_group_delete(struct req *r)
{
    json_t *rules = NULL;
    enum MHD_Result ret = rule_rows(r, &rules);
    if (r->replied)
        return ret;
    const char *user = group_user(rules, r->seg[1]);
    if (user) {
        ret = reply_error(r, 409, "in_use", NULL,
                          "action group '%s' is used by alert rule '%s'; change the rule first",
                          r->seg[1], user);
        json_decref(rules);
        return ret;
    }
    json_decref(rules);
    struct cmon_errbuf eb;
    enum cmon_err err = server_write(r->srv, write_group_delete, (void *)r->seg[1], &eb);
    if (err)
        return reply_store_error(r, err, eb.msg);
    return reply_text(r, 204, "application/json", strdup(""), 0);
}

/* ---- alerts ---- */

static bool alert_filter(struct req *r, struct store_alert_filter *f)
{
    f->state = req_arg(r, "state");
    f->rule = req_arg(r, "rule");
    f->monitor = req_arg(r, "monitor");
    if (f->state && strcmp(f->state, "pending") != 0 && strcmp(f->state, "firing") != 0 &&
        strcmp(f->state, "resolved") != 0) {
        reply_error(r, 400, "invalid_parameter", "state",
                    "state must be pending, firing or resolved, got '%s'", f->state);
        return false;
    }
    return true;
}

/* The API's alert: the stored instance without the store's raw times, plus
 * its transitions when asked. */
static void alert_item(struct store *s, json_t *item, bool with_transitions)
{
    json_object_del(item, "timesNs");
    json_t *tr = NULL;
    struct cmon_errbuf eb;
    if (with_transitions &&
        s->ops->alert_transitions(s, json_string_value(json_object_get(item, "key")), &tr, &eb) ==
            CMON_OK)
        json_object_set_new(item, "transitions", tr);
}

enum MHD_Result api_alert_list(struct req *r)
{
    struct store_alert_filter f;
    size_t limit, offset;
    if (!alert_filter(r, &f) || !req_page(r, &limit, &offset))
        return MHD_YES;
    const char *t = req_arg(r, "transitions");
    bool with_tr = t && (strcmp(t, "true") == 0 || strcmp(t, "1") == 0);
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    json_t *items = NULL;
    bool more = false;
    struct cmon_errbuf eb;
    enum cmon_err err = s->ops->alert_query(s, &f, offset, limit, &items, &more, &eb);
    if (err)
        return reply_store_error(r, err, eb.msg);
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) alert_item(s, item, with_tr);
    char next[32];
    snprintf(next, sizeof next, "%zu", offset + limit);
    return reply_json(
        r, 200,
        json_pack("{s:o, s:o}", "items", items, "next", more ? json_string(next) : json_null()));
}
