/* alert_action.c: action groups (webhooks, Alertmanagers, exec commands): parse,
 * validate and write back as JSON; plus the parse driver alert_rule.c shares --
 * JSON text with positions or an already parsed value, every problem found,
 * sorted by position. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "model/alert_rule.h"
#include "model/alert_rule_internal.h"
#include "core/addr.h"
#include "model/jsonpos.h"

#define MAX_ACTIONS 20
#define MAX_EXEC_ARGS 64

static const char *const group_fields[] = {"name", "webhooks", "alertmanagers", "exec", NULL};
static const char *const webhook_fields[] = {"url", "secret", NULL};
static const char *const am_fields[] = {"url", NULL};
static const char *const exec_fields[] = {"command", "timeoutSec", NULL};

void alert_strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

json_t *alert_strv_to_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static enum cmon_err parse_with(struct vctx *v, const json_t *j, const char *prefix, size_t size,
                                void **out, alert_parse_fn parse, alert_free_fn free_fn)
{
    *out = NULL;
    void *obj = calloc(1, size);
    if (!obj)
        return CMON_ERR_NOMEM;
    parse(v, j, prefix ? prefix : "", obj);
    cmon_problems_sort(v->probs);
    if (v->oom || v->probs->n) {
        free_fn(obj);
        return v->oom ? CMON_ERR_NOMEM : CMON_ERR_INVALID;
    }
    *out = obj;
    return CMON_OK;
}

enum cmon_err alert_parse_value(const json_t *j, const char *prefix, struct cmon_problems *probs,
                                size_t size, void **out, alert_parse_fn parse,
                                alert_free_fn free_fn)
{
    struct vctx v = {.probs = probs};
    return parse_with(&v, j, prefix, size, out, parse, free_fn);
}

enum cmon_err alert_parse_text(const char *text, size_t len, struct cmon_problems *probs,
                               size_t size, void **out, alert_parse_fn parse, alert_free_fn free_fn)
{
    *out = NULL;
    struct vctx v = {.probs = probs};
    struct jpos_index pos;
    json_t *root = vload(&v, text, len, &pos);
    if (!root)
        return CMON_ERR_PARSE;
    enum cmon_err rc = parse_with(&v, root, "", size, out, parse, free_fn);
    jpos_free(&pos);
    json_decref(root);
    return rc;
}

void cmon_action_group_free(struct cmon_action_group *g)
{
    if (!g)
        return;
    free(g->name);
    for (size_t i = 0; i < g->n_webhooks; i++) {
        free(g->webhooks[i].url);
        free(g->webhooks[i].secret);
    }
    free(g->webhooks);
    for (size_t i = 0; i < g->n_alertmanagers; i++)
        free(g->alertmanagers[i].url);
    free(g->alertmanagers);
    for (size_t i = 0; i < g->n_execs; i++)
        alert_strv_free(g->execs[i].argv, g->execs[i].argc);
    free(g->execs);
    free(g);
}

/* An http(s) URL field; NULL (problem recorded) when absent or not one. */
static char *get_url(struct vctx *v, const json_t *obj, const char *base)
{
    const char *s = vget_string(v, obj, base, "url", true);
    if (!s)
        return NULL;
    struct cmon_url u;
    struct cmon_errbuf eb;
    if (cmon_url_parse(s, &u, &eb) != CMON_OK) {
        char p[512];
        vpath_key(p, sizeof p, base, "url");
        vproblem(v, p, false, "%s", eb.msg);
        return NULL;
    }
    return vstrdup(v, s);
}

/* The array at key: its size (0 when absent or wrong); problems if too long. */
static size_t list_size(struct vctx *v, const json_t *obj, const char *base, const char *key,
                        const json_t **arr)
{
    *arr = vget(v, obj, base, key, JSON_ARRAY, false);
    if (!*arr)
        return 0;
    if (json_array_size(*arr) > MAX_ACTIONS) {
        char p[512];
        vpath_key(p, sizeof p, base, key);
        vproblem(v, p, false, "at most %d entries", MAX_ACTIONS);
        return 0;
    }
    return json_array_size(*arr);
}

static void parse_webhook(struct vctx *v, const json_t *j, const char *p,
                          struct cmon_alert_webhook *w)
{
    vcheck_fields(v, j, p, webhook_fields, NULL);
    w->url = get_url(v, j, p);
    const char *secret = vget_string(v, j, p, "secret", false);
    if (secret && !secret[0]) {
        char sp[512];
        vpath_key(sp, sizeof sp, p, "secret");
        vproblem(v, sp, false, "must not be empty (leave it out to send unsigned requests)");
    }
    w->secret = vstrdup(v, secret);
}

static void parse_exec(struct vctx *v, const json_t *j, const char *p, struct cmon_alert_exec *e)
{
    vcheck_fields(v, j, p, exec_fields, NULL);
    e->timeout_sec = 10;
    long x;
    if (vget_int(v, j, p, "timeoutSec", 1, 300, &x))
        e->timeout_sec = (int)x;
    const json_t *cmd = vget(v, j, p, "command", JSON_ARRAY, true);
    if (!cmd)
        return;
    char cp[512], ap[512];
    vpath_key(cp, sizeof cp, p, "command");
    size_t n = json_array_size(cmd);
    if (n == 0 || n > MAX_EXEC_ARGS) {
        vproblem(v, cp, false, "must list the program and its arguments (1-%d strings)",
                 MAX_EXEC_ARGS);
        return;
    }
    e->argv = calloc(n + 1, sizeof *e->argv);
    if (!e->argv) {
        v->oom = true;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(cmd, i));
        vpath_idx(ap, sizeof ap, cp, i);
        if (!s)
            vproblem(v, ap, false, "must be a string");
        else if (i == 0 && !s[0])
            vproblem(v, ap, false, "the program must not be empty");
        e->argv[e->argc++] = vstrdup(v, s ? s : "");
    }
}

/* Run one entry parser over each element of the array at key. */
#define PARSE_LIST(v, obj, base, key, items, count, fn)                                            \
    do {                                                                                           \
        const json_t *arr_;                                                                        \
        size_t n_ = list_size(v, obj, base, key, &arr_);                                           \
        char lp_[512], ip_[512];                                                                   \
        vpath_key(lp_, sizeof lp_, base, key);                                                     \
        if (n_ && !((items) = calloc(n_, sizeof *(items)))) {                                      \
            (v)->oom = true;                                                                       \
            n_ = 0;                                                                                \
        }                                                                                          \
        for (size_t i_ = 0; i_ < n_; i_++) {                                                       \
            const json_t *e_ = json_array_get(arr_, i_);                                           \
            vpath_idx(ip_, sizeof ip_, lp_, i_);                                                   \
            (count)++;                                                                             \
            if (!json_is_object(e_))                                                               \
                vproblem(v, ip_, false, "must be an object");                                      \
            else                                                                                   \
                fn(v, e_, ip_, &(items)[i_]);                                                      \
        }                                                                                          \
    } while (0)

static void parse_am(struct vctx *v, const json_t *j, const char *p, struct cmon_alert_am *a)
{
    vcheck_fields(v, j, p, am_fields, NULL);
    a->url = get_url(v, j, p);
}

static void parse_group(struct vctx *v, const json_t *j, const char *base, void *out)
{
    struct cmon_action_group *g = out;
    if (!json_is_object(j)) {
        vproblem(v, base, false, "an action group must be a JSON object");
        return;
    }
    vcheck_fields(v, j, base, group_fields, NULL);
    const char *name = vget_string(v, j, base, "name", true);
    if (name) {
        char p[512];
        vpath_key(p, sizeof p, base, "name");
        vcheck_name(v, p, "action group", name);
    }
    g->name = vstrdup(v, name);
    PARSE_LIST(v, j, base, "webhooks", g->webhooks, g->n_webhooks, parse_webhook);
    PARSE_LIST(v, j, base, "alertmanagers", g->alertmanagers, g->n_alertmanagers, parse_am);
    PARSE_LIST(v, j, base, "exec", g->execs, g->n_execs, parse_exec);
    if (!g->n_webhooks && !g->n_alertmanagers && !g->n_execs)
        vproblem(v, base, false,
                 "an action group needs at least one of \"webhooks\", \"alertmanagers\", \"exec\"");
}

static void group_free_void(void *g)
{
    cmon_action_group_free(g);
}

enum cmon_err cmon_action_group_parse(const char *text, size_t len, struct cmon_action_group **out,
                                      struct cmon_problems *probs)
{
    void *obj = NULL;
    enum cmon_err rc =
        alert_parse_text(text, len, probs, sizeof **out, &obj, parse_group, group_free_void);
    *out = obj;
    return rc;
}

enum cmon_err cmon_action_group_from_json(const json_t *j, const char *prefix,
                                          struct cmon_action_group **out,
                                          struct cmon_problems *probs)
{
    void *obj = NULL;
    enum cmon_err rc =
        alert_parse_value(j, prefix, probs, sizeof **out, &obj, parse_group, group_free_void);
    *out = obj;
    return rc;
}

json_t *cmon_action_group_to_json(const struct cmon_action_group *g)
{
    json_t *wh = json_array(), *am = json_array(), *ex = json_array();
    for (size_t i = 0; wh && i < g->n_webhooks; i++) {
        json_t *w = json_pack("{s:s}", "url", g->webhooks[i].url);
        if (w && g->webhooks[i].secret)
            json_object_set_new(w, "secret", json_string(g->webhooks[i].secret));
        json_array_append_new(wh, w);
    }
    for (size_t i = 0; am && i < g->n_alertmanagers; i++)
        json_array_append_new(am, json_pack("{s:s}", "url", g->alertmanagers[i].url));
    for (size_t i = 0; ex && i < g->n_execs; i++)
        json_array_append_new(ex, json_pack("{s:o, s:i}", "command",
                                            alert_strv_to_json(g->execs[i].argv, g->execs[i].argc),
                                            "timeoutSec", g->execs[i].timeout_sec));
    return json_pack("{s:s, s:o, s:o, s:o}", "name", g->name, "webhooks", wh, "alertmanagers", am,
                     "exec", ex);
}

char *alert_dumps(json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return text;
}

/* Stored text, read on every alert tick: positions would only serve problems
 * nobody reads (a bad row is reported as invalid), so no position index. */
void *alert_loads(const char *text, size_t size, alert_parse_fn parse, alert_free_fn free_fn)
{
    void *obj = NULL;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (!j)
        return NULL;
    struct cmon_problems probs = {0};
    alert_parse_value(j, "", &probs, size, &obj, parse, free_fn);
    cmon_problems_free(&probs);
    json_decref(j);
    return obj;
}

char *cmon_action_group_dumps(const struct cmon_action_group *g)
{
    return alert_dumps(cmon_action_group_to_json(g));
}

struct cmon_action_group *cmon_action_group_loads(const char *text)
{
    return alert_loads(text, sizeof(struct cmon_action_group), parse_group, group_free_void);
}

/* ---- owned lists (the store's answers) ---- */

/* Append item (or, when NULL, name to invalid) to a list; false when out of
 * memory (item is then freed).  Both list types get the same functions. */
#define ALERT_LIST_FUNCS(list_t, item_t, prefix, free_fn)                                          \
    bool prefix##_list_add(list_t *l, item_t *item, const char *name)                              \
    {                                                                                              \
        if (!item) {                                                                               \
            char *copy = strdup(name ? name : "");                                                 \
            char **v = copy ? realloc(l->invalid, (l->n_invalid + 1) * sizeof *v) : NULL;          \
            if (!v) {                                                                              \
                free(copy);                                                                        \
                return false;                                                                      \
            }                                                                                      \
            l->invalid = v;                                                                        \
            v[l->n_invalid++] = copy;                                                              \
            return true;                                                                           \
        }                                                                                          \
        item_t **v = realloc(l->items, (l->n + 1) * sizeof *v);                                    \
        if (!v) {                                                                                  \
            free_fn(item);                                                                         \
            return false;                                                                          \
        }                                                                                          \
        l->items = v;                                                                              \
        v[l->n++] = item;                                                                          \
        return true;                                                                               \
    }                                                                                              \
    void prefix##_list_free(list_t *l)                                                             \
    {                                                                                              \
        for (size_t i = 0; i < l->n; i++)                                                          \
            free_fn(l->items[i]);                                                                  \
        free(l->items);                                                                            \
        alert_strv_free(l->invalid, l->n_invalid);                                                 \
        memset(l, 0, sizeof *l);                                                                   \
    }                                                                                              \
    const item_t *prefix##_find(const list_t *l, const char *name)                                 \
    {                                                                                              \
        for (size_t i = 0; i < l->n; i++) {                                                        \
            if (strcmp(l->items[i]->name, name) == 0)                                              \
                return l->items[i];                                                                \
        }                                                                                          \
        return NULL;                                                                               \
    }

ALERT_LIST_FUNCS(struct cmon_alert_rule_list, struct cmon_alert_rule, cmon_alert_rule,
                 cmon_alert_rule_free)
ALERT_LIST_FUNCS(struct cmon_action_group_list, struct cmon_action_group, cmon_action_group,
                 cmon_action_group_free)
