/* api_alerts.c: /api/v1/alertRules, /api/v1/actionGroups, /api/v1/alerts and
 * the rule form's choices (alertDimensions, alertSignals) (docs/api.md) --
 * rules and action groups validated by model/alert_rule.h (the same
 * "line:col: path: message" problems as the CLI), converted to the store's
 * typed rows here, at the edge; a rule a monitor file holds is changed only
 * through that monitor (409 managed_by_monitor); webhook
 * secrets are never echoed ("***"), and a "***" sent back keeps the stored
 * secret of the webhook with the same URL.  Writes are writer calls with
 * their checks inside (see "writes" below); the writer's next alert tick
 * picks them up.  Threads: handlers on the HTTP pool, the write fns on the
 * writer thread. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/alert_rule.h"
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

/* One page of items (a JSON array, consumed). */
static enum MHD_Result reply_page(struct req *r, json_t *all)
{
    size_t limit, offset;
    if (!req_page(r, &limit, &offset)) {
        json_decref(all);
        return MHD_YES;
    }
    json_t *items = json_array();
    size_t n = json_array_size(all);
    for (size_t i = offset; i < n && i < offset + limit; i++)
        json_array_append(items, json_array_get(all, i));
    json_decref(all);
    char next[32];
    snprintf(next, sizeof next, "%zu", offset + limit);
    return reply_json(r, 200,
                      json_pack("{s:o, s:o}", "items", items, "next",
                                offset + limit < n ? json_string(next) : json_null()));
}

/* A store write refused because a monitor manages the rule (or its name). */
static enum MHD_Result reply_write_error(struct req *r, enum cmon_err err, const char *msg)
{
    if (err == CMON_ERR_EXISTS)
        return reply_error(r, 409, "managed_by_monitor", NULL, "%s", msg);
    return reply_store_error(r, err, msg);
}

/* ---- alert rules ---- */

/* The rules (typed, from the store); false after replying. */
static bool load_rules(struct req *r, struct cmon_alert_rule_list *l)
{
    *l = (struct cmon_alert_rule_list){0};
    struct store *s = req_store(r);
    if (!s)
        return false;
    struct cmon_errbuf eb;
    enum cmon_err err = s->ops->alert_rule_list(s, l, &eb);
    if (err)
        reply_store_error(r, err, eb.msg);
    return !err;
}

static bool load_groups(struct req *r, struct cmon_action_group_list *l)
{
    *l = (struct cmon_action_group_list){0};
    struct store *s = req_store(r);
    if (!s)
        return false;
    struct cmon_errbuf eb;
    enum cmon_err err = s->ops->action_group_list(s, l, &eb);
    if (err)
        reply_store_error(r, err, eb.msg);
    return !err;
}

enum MHD_Result api_alert_rule_list(struct req *r)
{
    struct cmon_alert_rule_list l;
    if (!load_rules(r, &l))
        return MHD_YES;
    json_t *all = json_array();
    for (size_t i = 0; all && i < l.n; i++)
        json_array_append_new(all, cmon_alert_rule_to_json(l.items[i]));
    cmon_alert_rule_list_free(&l);
    return reply_page(r, all);
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

/* The signals, operators, aggregations, windows and frequencies a rule may
 * use: the table validation reads (model/alert_rule.h), for the rule form. */
enum MHD_Result api_alert_signals(struct req *r)
{
    json_t *o = cmon_alert_signals_json();
    return o ? reply_json(r, 200, o) : reply_error(r, 500, "internal", NULL, "out of memory");
}

enum MHD_Result api_alert_rule_get(struct req *r)
{
    struct cmon_alert_rule_list l;
    if (!load_rules(r, &l))
        return MHD_YES;
    const struct cmon_alert_rule *rule = cmon_alert_rule_find(&l, r->seg[1]);
    enum MHD_Result ret =
        rule ? reply_json(r, 200, cmon_alert_rule_to_json(rule))
             : reply_error(r, 404, "not_found", NULL, "alert rule '%s' not found", r->seg[1]);
    cmon_alert_rule_list_free(&l);
    return ret;
}

/* ---- writes ----
 * Each write is one writer call (req_write_call: no pool thread waits) that
 * runs its checks -- the rule is not a monitor's, the groups a rule names
 * exist, a deleted group is unused, "***" keeps a stored secret -- on the
 * write connection inside the write's own transaction, so no other write
 * can come between a check and the write it allows. */

/* What the writer refused, answered as the API always answered it. */
struct refusal {
    unsigned status; /* 0: nothing refused */
    const char *code;
    char field[64];
    char msg[600];
};

struct alert_write;
/* One write's checks and store op (the writer thread, in its transaction). */
typedef enum cmon_err (*alert_write_fn)(struct store *s, struct alert_write *w,
                                        struct cmon_errbuf *eb);

/* An alert write: the request's hold until the writer answered. */
struct alert_write {
    alert_write_fn fn;
    const char *name;                /* the URL's (the request's segment) */
    struct cmon_alert_rule *rule;    /* a rule PUT's, parsed (owned) */
    struct cmon_action_group *group; /* a group PUT's, parsed (owned) */
    bool enabled;                    /* enable / disable */
    bool created;
    json_t *out; /* the answer's body (owned); NULL: 204 */
    struct refusal no;
};

static void alert_write_free(void *p)
{
    struct alert_write *w = p;
    cmon_alert_rule_free(w->rule);
    cmon_action_group_free(w->group);
    json_decref(w->out);
    free(w);
}

static enum cmon_err refuse(struct alert_write *w, struct cmon_errbuf *eb, unsigned status,
                            const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Refuse the write (its transaction is rolled back) with this answer. */
static enum cmon_err refuse(struct alert_write *w, struct cmon_errbuf *eb, unsigned status,
                            const char *code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->no.msg, sizeof w->no.msg, fmt, ap);
    va_end(ap);
    w->no.status = status;
    w->no.code = code;
    snprintf(w->no.field, sizeof w->no.field, "%s", field ? field : "");
    return cmon_fail(eb, CMON_ERR_INVALID, "%s", w->no.msg);
}

/* The answer's body (NULL: out of memory, and the write is undone). */
static enum cmon_err answer(struct alert_write *w, json_t *body, struct cmon_errbuf *eb)
{
    w->out = body;
    return body ? CMON_OK : refuse(w, eb, 500, "internal", NULL, "out of memory");
}

static enum cmon_err alert_write_run(struct store *s, void *arg, int64_t now_ns,
                                     struct cmon_errbuf *eb)
{
    struct alert_write *w = arg;
    (void)now_ns;
    enum cmon_err err = s->ops->tx_begin(s, eb);
    if (!err)
        err = w->fn(s, w, eb);
    if (!err)
        err = s->ops->tx_commit(s, eb);
    if (err)
        s->ops->tx_rollback(s);
    return err;
}

static enum MHD_Result alert_written(struct req *r, enum cmon_err err, bool dup, const char *msg)
{
    struct alert_write *w = r->hold;
    (void)dup;
    if (w->no.status)
        return reply_error(r, w->no.status, w->no.code, w->no.field[0] ? w->no.field : NULL,
                           "%s", w->no.msg);
    if (err)
        return reply_write_error(r, err, msg);
    if (!w->out)
        return reply_text(r, 204, "application/json", strdup(""), 0);
    json_t *out = w->out;
    w->out = NULL;
    return reply_json(r, w->created ? 201 : 200, out);
}

/* The write fn for the URL's name, as the request's hold; NULL after
 * replying 500. */
static struct alert_write *alert_write_new(struct req *r, alert_write_fn fn)
{
    struct alert_write *w = req_hold_new(r, sizeof *w, alert_write_free);
    if (w)
        *w = (struct alert_write){.fn = fn, .name = r->seg[1]};
    return w;
}

static enum MHD_Result alert_write_submit(struct req *r, struct alert_write *w)
{
    return w ? req_write_call(r, alert_write_run, w, alert_written) : MHD_YES;
}

/* A rule a monitor manages is changed through that monitor only (the
 * store refuses it too). */
static enum cmon_err rule_unmanaged(struct alert_write *w, const struct cmon_alert_rule *stored,
                                    struct cmon_errbuf *eb)
{
    if (!stored || !stored->monitor)
        return CMON_OK;
    return refuse(w, eb, 409, "managed_by_monitor", NULL,
                  "alert rule '%s' is managed by monitor '%s': change it in that monitor's "
                  "alertRules (PUT /api/v1/connectionMonitors/%s)",
                  stored->name, stored->monitor, stored->monitor);
}

/* The stored rules, *stored the one named in the URL (NULL: none), which
 * the API may write. */
static enum cmon_err rule_writable(struct store *s, struct alert_write *w,
                                   struct cmon_alert_rule_list *rules,
                                   struct cmon_alert_rule **stored, struct cmon_errbuf *eb)
{
    enum cmon_err err = s->ops->alert_rule_list(s, rules, eb);
    *stored = err ? NULL : (struct cmon_alert_rule *)cmon_alert_rule_find(rules, w->name);
    return err ? err : rule_unmanaged(w, *stored, eb);
}

/* Every action group the rule names exists (a typo would silence it). */
static enum cmon_err rule_groups_exist(struct store *s, struct alert_write *w,
                                       struct cmon_errbuf *eb)
{
    struct cmon_action_group_list groups = {0};
    enum cmon_err err = s->ops->action_group_list(s, &groups, eb);
    for (size_t i = 0; !err && i < w->rule->n_action_groups; i++) {
        const char *g = w->rule->action_groups[i];
        if (cmon_action_group_find(&groups, g))
            continue;
        char field[48];
        snprintf(field, sizeof field, "actionGroups[%zu]", i);
        err = refuse(w, eb, 400, "validation_failed", field,
                     "%s: unknown action group \"%s\"; create it first (PUT "
                     "/api/v1/actionGroups/%s)",
                     field, g, g);
    }
    cmon_action_group_list_free(&groups);
    return err;
}

/* Store the rule (normalized) and answer with it. */
static enum cmon_err put_rule(struct store *s, struct alert_write *w, struct cmon_errbuf *eb)
{
    struct cmon_alert_rule_list rules = {0};
    struct cmon_alert_rule *stored;
    enum cmon_err err = rule_writable(s, w, &rules, &stored, eb);
    cmon_alert_rule_list_free(&rules);
    if (!err)
        err = rule_groups_exist(s, w, eb);
    if (!err)
        err = s->ops->alert_rule_put(s, w->rule, &w->created, eb);
    return err ? err : answer(w, cmon_alert_rule_to_json(w->rule), eb);
}

static enum cmon_err delete_rule(struct store *s, struct alert_write *w, struct cmon_errbuf *eb)
{
    struct cmon_alert_rule_list rules = {0};
    struct cmon_alert_rule *stored;
    enum cmon_err err = rule_writable(s, w, &rules, &stored, eb);
    cmon_alert_rule_list_free(&rules);
    return err ? err : s->ops->alert_rule_delete(s, w->name, eb);
}

/* Enable or disable the stored rule and answer with it. */
static enum cmon_err enable_rule(struct store *s, struct alert_write *w, struct cmon_errbuf *eb)
{
    struct cmon_alert_rule_list rules = {0};
    struct cmon_alert_rule *rule;
    enum cmon_err err = rule_writable(s, w, &rules, &rule, eb);
    if (!err && !rule)
        err = refuse(w, eb, 404, "not_found", NULL, "alert rule '%s' not found", w->name);
    if (!err) {
        rule->enabled = w->enabled;
        err = s->ops->alert_rule_put(s, rule, &w->created, eb);
    }
    if (!err)
        err = answer(w, cmon_alert_rule_to_json(rule), eb);
    cmon_alert_rule_list_free(&rules);
    return err;
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
    struct alert_write *w;
    enum MHD_Result ret = MHD_YES;
    if (cmon_alert_rule_parse(text, strlen(text), &rule, &probs) != CMON_OK) {
        ret = reply_problems(r, &probs, shift);
    } else if ((w = alert_write_new(r, put_rule)) != NULL) {
        w->rule = rule;
        rule = NULL;
        ret = alert_write_submit(r, w);
    }
    cmon_alert_rule_free(rule);
    cmon_problems_free(&probs);
    free(owned);
    return ret;
}

enum MHD_Result api_alert_rule_delete(struct req *r)
{
    return alert_write_submit(r, alert_write_new(r, delete_rule));
}

static enum MHD_Result set_enabled(struct req *r, bool enabled)
{
    struct alert_write *w = alert_write_new(r, enable_rule);
    if (w)
        w->enabled = enabled;
    return alert_write_submit(r, w);
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

/* A group's JSON with every webhook secret replaced by "***". */
static json_t *group_masked(const struct cmon_action_group *g)
{
    json_t *c = cmon_action_group_to_json(g);
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(c, "webhooks"), i, w)
    {
        if (json_is_string(json_object_get(w, "secret")))
            json_object_set_new(w, "secret", json_string(SECRET_MASK));
    }
    return c;
}

enum MHD_Result api_action_group_list(struct req *r)
{
    struct cmon_action_group_list l;
    if (!load_groups(r, &l))
        return MHD_YES;
    json_t *all = json_array();
    for (size_t i = 0; all && i < l.n; i++)
        json_array_append_new(all, group_masked(l.items[i]));
    cmon_action_group_list_free(&l);
    return reply_page(r, all);
}

enum MHD_Result api_action_group_get(struct req *r)
{
    struct cmon_action_group_list l;
    if (!load_groups(r, &l))
        return MHD_YES;
    const struct cmon_action_group *g = cmon_action_group_find(&l, r->seg[1]);
    enum MHD_Result ret =
        g ? reply_json(r, 200, group_masked(g))
          : reply_error(r, 404, "not_found", NULL, "action group '%s' not found", r->seg[1]);
    cmon_action_group_list_free(&l);
    return ret;
}

/* "***" as a secret keeps the stored secret of the webhook with that URL, so a
 * group read from the API can be sent back unchanged. */
static enum cmon_err keep_secrets(struct alert_write *w, const struct cmon_action_group *old,
                                  struct cmon_errbuf *eb)
{
    struct cmon_action_group *g = w->group;
    for (size_t i = 0; i < g->n_webhooks; i++) {
        struct cmon_alert_webhook *hook = &g->webhooks[i];
        if (!hook->secret || strcmp(hook->secret, SECRET_MASK) != 0)
            continue;
        const char *kept = NULL;
        for (size_t k = 0; old && k < old->n_webhooks; k++) {
            if (strcmp(old->webhooks[k].url, hook->url) == 0)
                kept = old->webhooks[k].secret;
        }
        char field[48];
        snprintf(field, sizeof field, "webhooks[%zu].secret", i);
        if (!kept)
            return refuse(w, eb, 400, "validation_failed", field,
                          "%s: \"***\" keeps the stored secret, but no stored webhook with url "
                          "\"%s\" has one; send the secret itself",
                          field, hook->url);
        free(hook->secret);
        if (!(hook->secret = strdup(kept)))
            return refuse(w, eb, 500, "internal", NULL, "out of memory");
    }
    return CMON_OK;
}

/* Store the group (its "***" secrets the stored ones) and answer with it. */
static enum cmon_err put_group(struct store *s, struct alert_write *w, struct cmon_errbuf *eb)
{
    struct cmon_action_group_list old = {0};
    enum cmon_err err = s->ops->action_group_list(s, &old, eb);
    if (!err)
        err = keep_secrets(w, cmon_action_group_find(&old, w->group->name), eb);
    cmon_action_group_list_free(&old);
    if (!err)
        err = s->ops->action_group_put(s, w->group, &w->created, eb);
    return err ? err : answer(w, group_masked(w->group), eb);
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
    struct alert_write *w;
    enum MHD_Result ret = MHD_YES;
    if (cmon_action_group_parse(text, strlen(text), &g, &probs) != CMON_OK) {
        ret = reply_problems(r, &probs, shift);
    } else if (g->n_execs && !r->srv->opts.allow_exec) {
        ret = reply_error(r, 403, "exec_disabled", "exec",
                          "exec actions are disabled on this server: start it with "
                          "--allow-exec-actions to allow them");
    } else if ((w = alert_write_new(r, put_group)) != NULL) {
        w->group = g;
        g = NULL;
        ret = alert_write_submit(r, w);
    }
    cmon_action_group_free(g);
    cmon_problems_free(&probs);
    free(owned);
    return ret;
}

/* The first rule naming the group, or NULL. */
static const char *group_user(const struct cmon_alert_rule_list *rules, const char *group)
{
    for (size_t i = 0; i < rules->n; i++) {
        const struct cmon_alert_rule *rule = rules->items[i];
        for (size_t k = 0; k < rule->n_action_groups; k++) {
            if (strcmp(rule->action_groups[k], group) == 0)
                return rule->name;
        }
    }
    return NULL;
}

/* Delete the group unless a rule names it (a rule would lose its actions). */
static enum cmon_err delete_group(struct store *s, struct alert_write *w, struct cmon_errbuf *eb)
{
    struct cmon_alert_rule_list rules = {0};
    enum cmon_err err = s->ops->alert_rule_list(s, &rules, eb);
    const char *user = err ? NULL : group_user(&rules, w->name);
    if (user)
        err = refuse(w, eb, 409, "in_use", NULL,
                     "action group '%s' is used by alert rule '%s'; change the rule first",
                     w->name, user);
    cmon_alert_rule_list_free(&rules);
    return err ? err : s->ops->action_group_delete(s, w->name, eb);
}

enum MHD_Result api_action_group_delete(struct req *r)
{
    return alert_write_submit(r, alert_write_new(r, delete_group));
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
