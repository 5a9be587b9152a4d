/* document.c: what a monitor file holds (DESIGN 3).  Users bring documents
 * from the cloud service as they are: one monitor (ARM envelope, ARM template
 * resource, bare properties), a list response {"value": [...]}, or the cloud
 * CLI's JSON array.  A document that is not a monitor at all -- a REST API
 * example with its request and responses, a whole deployment template, a
 * query result -- gets one problem that says what it is and where a monitor
 * would be inside it, instead of a page of "unknown field" errors.
 * Pure: no I/O, no clock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/validate.h"

#define MAX_LIST_MONITORS 1000

enum doc_kind { DOC_MONITOR, DOC_LIST, DOC_REST_EXAMPLE, DOC_TEMPLATE, DOC_QUERY_RESULT };

static enum doc_kind doc_kind(const json_t *root, const json_t **list, const char **list_path)
{
    if (json_is_array(root) && json_is_object(json_array_get(root, 0))) {
        *list = root;
        *list_path = "";
        return DOC_LIST;
    }
    if (!json_is_object(root) || json_object_get(root, "properties") ||
        json_object_get(root, "endpoints"))
        return DOC_MONITOR;
    const json_t *value = json_object_get(root, "value");
    if (json_is_array(value)) {
        *list = value;
        *list_path = "value";
        return DOC_LIST;
    }
    if (json_object_get(root, "parameters") && json_object_get(root, "responses"))
        return DOC_REST_EXAMPLE;
    if (json_object_get(root, "$schema") ||
        (json_object_get(root, "resources") && json_object_get(root, "contentVersion")))
        return DOC_TEMPLATE;
    if (json_object_get(root, "states") || json_object_get(root, "sourceStatus"))
        return DOC_QUERY_RESULT;
    return DOC_MONITOR;
}

/* ", PATH (line N)" appended to out, where a monitor is (or may be). */
static void add_place(struct vctx *v, char *out, size_t cap, const char *path)
{
    const struct jpos_entry *e = jpos_find(v->pos, path);
    size_t len = strlen(out);
    snprintf(out + len, cap - len, "%s%s (line %d)", len ? ", " : "", path, e ? e->line : 0);
}

/* A request or response body that holds a monitor (or a list of them). */
static void note_place(struct vctx *v, char *out, size_t cap, const json_t *obj, const char *path)
{
    if (json_is_object(obj) &&
        (json_object_get(obj, "properties") || json_is_array(json_object_get(obj, "value"))))
        add_place(v, out, cap, path);
}

static void rest_example_problem(struct vctx *v, const json_t *root)
{
    char places[512] = "", p[64];
    note_place(v, places, sizeof places,
               json_object_get(json_object_get(root, "parameters"), "parameters"),
               "parameters.parameters");
    const char *code;
    const json_t *resp;
    json_object_foreach((json_t *)json_object_get(root, "responses"), code, resp)
    {
        snprintf(p, sizeof p, "responses.%s.body", code);
        note_place(v, places, sizeof places, json_object_get(resp, "body"), p);
    }
    const char *op = json_string_value(json_object_get(root, "operationId"));
    char what[160];
    snprintf(what, sizeof what, "a REST API example%s%s (request parameters and responses)",
             op ? " of " : "", op ? op : "");
    if (places[0])
        vproblem(v, "", false,
                 "this is %s, not a monitor; the monitors in it are at %s: save one of them as "
                 "the monitor file",
                 what, places);
    else
        vproblem(v, "", false, "this is %s with no connection monitor in it", what);
}

/* A template resource of the connection monitor type. */
static void template_place(struct vctx *v, char *out, size_t cap, const json_t *res,
                           const char *path)
{
    const char *type = json_string_value(json_object_get(res, "type"));
    if (type && strcasecmp(type, CMON_ARM_MONITOR_TYPE) == 0)
        add_place(v, out, cap, path);
}

/* Template resources are an array, or (languageVersion 2.0) an object of
 * symbolic names. */
static void template_problem(struct vctx *v, const json_t *root)
{
    char places[512] = "", p[300];
    const json_t *res = json_object_get(root, "resources"), *r;
    size_t i;
    const char *key;
    if (json_is_array(res)) {
        json_array_foreach(res, i, r)
        {
            vpath_idx(p, sizeof p, "resources", i);
            template_place(v, places, sizeof places, r, p);
        }
    } else if (json_is_object(res)) {
        json_object_foreach((json_t *)res, key, r)
        {
            vpath_key(p, sizeof p, "resources", key);
            template_place(v, places, sizeof places, r, p);
        }
    }
    if (places[0])
        vproblem(v, "", false,
                 "this is an ARM deployment template, not a monitor; its connection monitor "
                 "resources are at %s: save one as the monitor file, with the values its template "
                 "expressions stand for written out",
                 places);
    else
        vproblem(v, "", false,
                 "this is an ARM deployment template with no connection monitor resource (type "
                 "\"%s\") in it",
                 CMON_ARM_MONITOR_TYPE);
}

static enum cmon_err parse_list(struct vctx *v, const json_t *list, const char *list_path,
                                struct cmon_monitor ***out, size_t *n)
{
    size_t count = json_array_size(list);
    if (count == 0 || count > MAX_LIST_MONITORS) {
        vproblem(v, list_path, false, "a list of monitors must hold 1..%d monitors, got %zu",
                 MAX_LIST_MONITORS, count);
        return CMON_ERR_INVALID;
    }
    struct cmon_monitor **ms = calloc(count, sizeof *ms);
    if (!ms) {
        v->oom = true;
        return CMON_ERR_NOMEM;
    }
    char p[64];
    for (size_t i = 0; i < count; i++) {
        vpath_idx(p, sizeof p, list_path, i);
        ms[i] = vparse_monitor(v, json_array_get(list, i), p, NULL);
        v->oom |= !ms[i];
    }
    for (size_t i = 0; i < count && !v->oom && !v->probs->n; i++) {
        for (size_t k = 0; k < i; k++) {
            if (strcmp(ms[i]->name, ms[k]->name) == 0) {
                vpath_idx(p, sizeof p, list_path, i);
                vproblem(v, p, false, "a second monitor named \"%s\" (the first is %s[%zu])",
                         ms[i]->name, list_path, k);
                break;
            }
        }
    }
    *out = ms;
    *n = count;
    return CMON_OK;
}

static enum cmon_err parse_document(struct vctx *v, const json_t *root, const char *default_name,
                                    struct cmon_monitor ***out, size_t *n)
{
    const json_t *list = NULL;
    const char *list_path = "";
    switch (doc_kind(root, &list, &list_path)) {
    case DOC_LIST:
        return parse_list(v, list, list_path, out, n);
    case DOC_REST_EXAMPLE:
        rest_example_problem(v, root);
        return CMON_ERR_INVALID;
    case DOC_TEMPLATE:
        template_problem(v, root);
        return CMON_ERR_INVALID;
    case DOC_QUERY_RESULT:
        vproblem(v, "", false,
                 "this is the result of a connection monitor query (the states of its tests), "
                 "not a monitor: export the monitor itself");
        return CMON_ERR_INVALID;
    default:
        break;
    }
    *out = calloc(1, sizeof **out);
    if (!*out) {
        v->oom = true;
        return CMON_ERR_NOMEM;
    }
    (*out)[0] = vparse_monitor(v, root, "", default_name);
    *n = 1;
    v->oom |= !(*out)[0];
    return CMON_OK;
}

void cmon_monitors_free(struct cmon_monitor **ms, size_t n)
{
    for (size_t i = 0; ms && i < n; i++)
        cmon_monitor_free(ms[i]);
    free(ms);
}

enum cmon_err cmon_monitors_parse(const char *text, size_t len, const char *default_name,
                                  struct cmon_monitor ***out, size_t *n,
                                  struct cmon_problems *probs)
{
    *out = NULL;
    *n = 0;
    struct vctx v = {.probs = probs};
    struct jpos_index pos;
    json_t *root = vload(&v, text, len, &pos);
    if (!root)
        return CMON_ERR_PARSE;
    struct cmon_monitor **ms = NULL;
    size_t count = 0;
    enum cmon_err err = parse_document(&v, root, default_name, &ms, &count);
    jpos_free(&pos);
    json_decref(root);
    cmon_problems_sort(probs);
    if (v.oom || probs->n || err) {
        cmon_monitors_free(ms, count);
        return v.oom ? CMON_ERR_NOMEM : CMON_ERR_INVALID;
    }
    *out = ms;
    *n = count;
    return CMON_OK;
}

enum cmon_err cmon_monitor_parse(const char *text, size_t len, const char *default_name,
                                 struct cmon_monitor **out, struct cmon_problems *probs)
{
    *out = NULL;
    struct cmon_monitor **ms;
    size_t n;
    enum cmon_err err = cmon_monitors_parse(text, len, default_name, &ms, &n, probs);
    if (err)
        return err;
    if (n == 1) {
        *out = ms[0];
        free(ms);
        return CMON_OK;
    }
    cmon_monitors_free(ms, n);
    char msg[200];
    snprintf(msg, sizeof msg,
             "this document is a list of %zu monitors; give one monitor here (cmon validate and "
             "cmon monitor apply take the whole list)",
             n);
    struct cmon_problem *items = calloc(1, sizeof *items);
    char *path = strdup(""), *m = strdup(msg);
    if (!items || !path || !m) {
        free(items);
        free(path);
        free(m);
        return CMON_ERR_NOMEM;
    }
    items[0] = (struct cmon_problem){1, 1, path, m};
    probs->items = items;
    probs->n = probs->cap = 1;
    return CMON_ERR_INVALID;
}
