/* monitor.c: parse a monitor file (ARM envelope or bare properties), validate
 * the whole of it -- every problem, in file order -- and build the model. */
#include "model/monitor.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/text.h"
#include "model/alert_rule.h"
#include "model/alert_rule_internal.h"
#include "model/validate.h"

static const char *const envelope_fields[] = {"name", "properties", NULL};
/* Read-only fields of the service's responses, and the ARM template resource
 * form's own fields (docs/monitor-file.md lists them). */
static const char *const envelope_ignored[] = {"id",       "etag",       "type",       "location",
                                               "tags",     "systemData", "apiVersion", "dependsOn",
                                               "metadata", "comments",   "condition",  NULL};
static const char *const properties_fields[] = {"endpoints", "testConfigurations", "testGroups",
                                                "notes",     "alertRules",         NULL};
/* Bare properties may carry the monitor's name too. */
static const char *const bare_fields[] = {
    "name", "endpoints", "testConfigurations", "testGroups", "notes", "alertRules", NULL};
/* Read-only or cloud-only fields of the service's responses. */
static const char *const properties_ignored[] = {"provisioningState", "startTime",
                                                 "monitoringStatus",  "connectionMonitorType",
                                                 "outputs",           "autoStart",
                                                 "location",          "source",
                                                 "destination",       "monitoringIntervalInSeconds",
                                                 "resourceGuid",      NULL};
/* Classic (v1) monitor fields: reported with their own message, so they are
 * also in the ignored list of the unknown-field check. */
static const char *const classic_fields[] = {"source", "destination", "monitoringIntervalInSeconds",
                                             NULL};
static const char *const group_fields[] = {
    "name", "disable", "sources", "destinations", "testConfigurations", NULL};

bool cmon_monitor_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 80 || name[0] == '.' || name[0] == '-')
        return false;
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return false;
    }
    return true;
}

void cmon_problems_free(struct cmon_problems *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].path);
        free(p->items[i].message);
    }
    free(p->items);
    memset(p, 0, sizeof *p);
}

static int problem_cmp(const struct cmon_problem *x, const struct cmon_problem *y)
{
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->col < y->col ? -1 : x->col > y->col;
}

void cmon_problems_sort(struct cmon_problems *p)
{
    for (size_t i = 1; i < p->n; i++) { /* insertion: stable, and lists are short */
        struct cmon_problem cur = p->items[i];
        size_t k = i;
        while (k > 0 && problem_cmp(&p->items[k - 1], &cur) > 0) {
            p->items[k] = p->items[k - 1];
            k--;
        }
        p->items[k] = cur;
    }
}

void cmon_problem_format(const struct cmon_problem *p, const char *file, char *out, size_t outlen)
{
    char where[320] = "";
    if (file && p->line)
        snprintf(where, sizeof where, "%s:%d:%d: ", file, p->line, p->col);
    else if (file)
        snprintf(where, sizeof where, "%s: ", file);
    else if (p->line)
        snprintf(where, sizeof where, "%d:%d: ", p->line, p->col);
    snprintf(out, outlen, "%s%s%s%s", where, p->path, p->path[0] ? ": " : "", p->message);
}

void cmon_monitor_free(struct cmon_monitor *m)
{
    if (!m)
        return;
    free(m->name);
    free(m->notes);
    for (size_t i = 0; i < m->n_endpoints; i++)
        cmon_endpoint_clear(&m->endpoints[i]);
    free(m->endpoints);
    for (size_t i = 0; i < m->n_configs; i++)
        cmon_config_clear(&m->configs[i]);
    free(m->configs);
    for (size_t i = 0; i < m->n_groups; i++) {
        struct cmon_test_group *g = &m->groups[i];
        free(g->name);
        free(g->sources);
        free(g->destinations);
        free(g->configs);
    }
    free(m->groups);
    for (size_t i = 0; i < m->n_alert_rules; i++)
        cmon_alert_rule_free(m->alert_rules[i]);
    free(m->alert_rules);
    free(m);
}

/* Take copy into *field when it is NULL or holds old (old NULL: always). */
static void follow_name(char **field, const char *old, char *copy)
{
    if (*field && old && strcmp(*field, old) != 0) {
        free(copy);
        return;
    }
    free(*field);
    *field = copy;
}

enum cmon_err cmon_monitor_rename(struct cmon_monitor *m, const char *name)
{
    size_t n = 1 + 2 * m->n_alert_rules;
    char **copies = calloc(n, sizeof *copies);
    for (size_t i = 0; copies && i < n; i++) {
        if (!(copies[i] = strdup(name))) {
            while (i-- > 0)
                free(copies[i]);
            free(copies);
            copies = NULL;
        }
    }
    if (!copies)
        return CMON_ERR_NOMEM;
    for (size_t i = 0; i < m->n_alert_rules; i++) {
        struct cmon_alert_rule *r = m->alert_rules[i];
        follow_name(&r->dims[CMON_DIM_MONITOR], m->name, copies[1 + 2 * i]);
        follow_name(&r->monitor, NULL, copies[2 + 2 * i]);
    }
    free(m->name);
    m->name = copies[0];
    free(copies);
    return CMON_OK;
}

/* Names are unique per kind: report the second use, pointing at the first. */
static void check_unique(struct vctx *v, const char *list_path, const char *kind,
                         char *const *names, size_t stride_count)
{
    char p[512], first[512];
    for (size_t i = 0; i < stride_count; i++) {
        for (size_t k = 0; k < i && names[i]; k++) {
            if (names[k] && strcmp(names[i], names[k]) == 0) {
                vpath_idx(p, sizeof p, list_path, i);
                vpath_idx(first, sizeof first, list_path, k);
                char np[512];
                vpath_key(np, sizeof np, p, "name");
                const struct jpos_entry *e = jpos_find(v->pos, first);
                vproblem(v, np, false, "duplicate %s name \"%s\" (first used at line %d)", kind,
                         names[i], e ? e->line : 0);
                break;
            }
        }
    }
}

/* Resolve a list of names in a test group to indexes. */
static size_t *resolve_refs(struct vctx *v, const json_t *g, const char *gpath, const char *key,
                            const char *kind, char *const *names, size_t n_names, size_t *n_out)
{
    *n_out = 0;
    const json_t *arr = vget(v, g, gpath, key, JSON_ARRAY, true);
    if (!arr)
        return NULL;
    char p[512], ip[512];
    vpath_key(p, sizeof p, gpath, key);
    if (json_array_size(arr) == 0) {
        vproblem(v, p, false, "must name at least one %s", kind);
        return NULL;
    }
    size_t *idx = calloc(json_array_size(arr), sizeof *idx);
    if (!idx) {
        v->oom = true;
        return NULL;
    }
    size_t i;
    const json_t *it;
    json_array_foreach(arr, i, it)
    {
        vpath_idx(ip, sizeof ip, p, i);
        if (!json_is_string(it)) {
            vproblem(v, ip, false, "must be the name of a %s", kind);
            continue;
        }
        const char *want = json_string_value(it);
        size_t k = 0;
        while (k < n_names && !(names[k] && strcmp(names[k], want) == 0))
            k++;
        if (k == n_names) {
            const char *guess = cmon_suggest(want, (const char *const *)names, n_names);
            if (guess)
                vproblem(v, ip, false, "no %s named \"%s\" (did you mean \"%s\"?)", kind, want,
                         guess);
            else
                vproblem(v, ip, false, "no %s named \"%s\"", kind, want);
            continue;
        }
        bool dup = false;
        for (size_t d = 0; d < *n_out; d++)
            dup |= idx[d] == k;
        if (dup) {
            vproblem(v, ip, false, "%s \"%s\" is listed twice", kind, want);
            continue;
        }
        idx[(*n_out)++] = k;
    }
    return idx;
}

/* ep_names / cfg_names are NULL when their list itself is missing or empty:
 * references to them are then not checked (the list's problem says it all). */
static void parse_group(struct vctx *v, const json_t *g, const char *gp, struct cmon_monitor *m,
                        char *const *ep_names, char *const *cfg_names, struct cmon_test_group *tg)
{
    vcheck_fields(v, g, gp, group_fields, NULL);
    tg->name = vstrdup(v, vget_name(v, g, gp, "test group"));
    vget_bool(v, g, gp, "disable", &tg->disabled);
    if (ep_names) {
        tg->sources =
            resolve_refs(v, g, gp, "sources", "endpoint", ep_names, m->n_endpoints, &tg->n_sources);
        tg->destinations = resolve_refs(v, g, gp, "destinations", "endpoint", ep_names,
                                        m->n_endpoints, &tg->n_destinations);
    }
    if (cfg_names)
        tg->configs = resolve_refs(v, g, gp, "testConfigurations", "test configuration", cfg_names,
                                   m->n_configs, &tg->n_configs);
    char p[512], sp[512];
    vpath_key(p, sizeof p, gp, "destinations");
    for (size_t i = 0; i < tg->n_destinations; i++) {
        const struct cmon_endpoint *ep = &m->endpoints[tg->destinations[i]];
        if (ep->type == CMON_EP_AGENT && (ep->all_agents || ep->n_agents > 1 || ep->compound)) {
            vpath_idx(sp, sizeof sp, p, i);
            vproblem(v, sp, false,
                     "endpoint \"%s\" stands for several agents; a destination must be one "
                     "address or one agent",
                     ep->name);
        }
    }
    vpath_key(p, sizeof p, gp, "sources");
    for (size_t i = 0; i < tg->n_sources; i++) {
        const struct cmon_endpoint *ep = &m->endpoints[tg->sources[i]];
        if (ep->type != CMON_EP_AGENT) {
            vpath_idx(sp, sizeof sp, p, i);
            vproblem(v, sp, false,
                     "endpoint \"%s\" is an external address; sources must be agents "
                     "(type \"Agent\")",
                     ep->name);
        }
    }
}

/* The array under key, with a limit; each element must be an object. */
static const json_t *get_list(struct vctx *v, const json_t *props, const char *base,
                              const char *key, size_t limit, const char *what)
{
    const json_t *arr = vget(v, props, base, key, JSON_ARRAY, true);
    if (!arr)
        return NULL;
    char p[512];
    vpath_key(p, sizeof p, base, key);
    if (json_array_size(arr) == 0)
        vproblem(v, p, false, "must hold at least one %s", what);
    if (json_array_size(arr) > limit)
        vproblem(v, p, false, "at most %zu %ss per monitor, got %zu", limit, what,
                 json_array_size(arr));
    size_t i;
    const json_t *it;
    json_array_foreach(arr, i, it)
    {
        if (!json_is_object(it)) {
            char ip[512];
            vpath_idx(ip, sizeof ip, p, i);
            vproblem(v, ip, false, "must be an object");
        }
    }
    return arr;
}

/* The monitor's alertRules: each a rule of the alerts API's shape, managed
 * by this monitor and watching it unless its dimensions say otherwise (only
 * this monitor may be named: rules for others belong to the alerts API). */
static void parse_alert_rules(struct vctx *v, const json_t *props, const char *base,
                              struct cmon_monitor *m)
{
    const json_t *arr = vget(v, props, base, "alertRules", JSON_ARRAY, false);
    if (!arr)
        return;
    char lp[512], ip[512], dp[512], kp[512];
    vpath_key(lp, sizeof lp, base, "alertRules");
    size_t n = json_array_size(arr);
    if (n > CMON_MAX_MONITOR_ALERT_RULES) {
        vproblem(v, lp, false, "at most %d alert rules per monitor, got %zu",
                 CMON_MAX_MONITOR_ALERT_RULES, n);
        return;
    }
    char **names = calloc(n + 1, sizeof *names);
    if (!names || !(m->alert_rules = calloc(n + 1, sizeof *m->alert_rules))) {
        free(names);
        v->oom = true;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct cmon_alert_rule *r = calloc(1, sizeof *r);
        if (!r) {
            v->oom = true;
            break;
        }
        m->alert_rules[m->n_alert_rules++] = r;
        vpath_idx(ip, sizeof ip, lp, i);
        vparse_alert_rule(v, json_array_get(arr, i), ip, r);
        names[i] = r->name;
        r->monitor = vstrdup(v, m->name);
        const char *watched = r->dims[CMON_DIM_MONITOR];
        if (!watched) {
            r->dims[CMON_DIM_MONITOR] = vstrdup(v, m->name);
        } else if (m->name && strcmp(watched, m->name) != 0) {
            vpath_key(dp, sizeof dp, ip, "dimensions");
            vpath_key(kp, sizeof kp, dp, cmon_alert_dim_name(CMON_DIM_MONITOR));
            vproblem(v, kp, false,
                     "a rule inside monitor \"%s\" watches that monitor: leave \"%s\" out or set "
                     "it to \"%s\" (a rule about other monitors belongs to the alerts API)",
                     m->name, cmon_alert_dim_name(CMON_DIM_MONITOR), m->name);
        }
    }
    check_unique(v, lp, "alert rule", names, m->n_alert_rules);
    free(names);
}

enum cmon_err cmon_monitor_check_action_groups(const char *text, size_t len,
                                               const struct cmon_monitor *m,
                                               bool (*group_known)(void *arg, const char *name),
                                               void *arg, struct cmon_problems *probs)
{
    struct jpos_index pos = {0};
    jpos_build(text, len, &pos); /* it parsed before: only memory can fail */
    bool envelope = jpos_find(&pos, "properties") != NULL;
    struct vctx v = {.pos = &pos, .probs = probs, .strip = envelope ? strlen("properties.") : 0};
    char lp[64], ip[512], ap[512], gp[512];
    snprintf(lp, sizeof lp, "%salertRules", envelope ? "properties." : "");
    size_t before = probs->n;
    for (size_t i = 0; i < m->n_alert_rules; i++) {
        const struct cmon_alert_rule *r = m->alert_rules[i];
        vpath_idx(ip, sizeof ip, lp, i);
        vpath_key(ap, sizeof ap, ip, "actionGroups");
        for (size_t k = 0; k < r->n_action_groups; k++) {
            if (group_known(arg, r->action_groups[k]))
                continue;
            vpath_idx(gp, sizeof gp, ap, k);
            vproblem(&v, gp, false,
                     "unknown action group \"%s\"; create it first (PUT /api/v1/actionGroups/%s)",
                     r->action_groups[k], r->action_groups[k]);
        }
    }
    jpos_free(&pos);
    if (v.oom)
        return CMON_ERR_NOMEM;
    return probs->n > before ? CMON_ERR_INVALID : CMON_OK;
}

/* A classic monitor through and through (not a current one with a stray
 * classic field): one problem says so instead of one per field. */
static bool is_classic_only(const json_t *props)
{
    bool classic = false;
    for (size_t i = 0; classic_fields[i]; i++)
        classic |= json_object_get(props, classic_fields[i]) != NULL;
    return classic && !json_object_get(props, "endpoints") &&
           !json_object_get(props, "testConfigurations") && !json_object_get(props, "testGroups");
}

static void parse_properties(struct vctx *v, const json_t *props, const char *base, bool bare,
                             struct cmon_monitor *m)
{
    if (is_classic_only(props)) {
        vproblem(v, base, false,
                 "this is a classic (v1) connection monitor (source, destination, "
                 "monitoringIntervalInSeconds); cmon runs the current form: migrate it to "
                 "Connection monitor in the portal, or describe it with endpoints, "
                 "testConfigurations and testGroups");
        return;
    }
    for (size_t i = 0; classic_fields[i]; i++) {
        if (json_object_get(props, classic_fields[i])) {
            char p[512];
            vpath_key(p, sizeof p, base, classic_fields[i]);
            vproblem(v, p, true,
                     "\"%s\" belongs to the classic connection monitor format; describe the "
                     "monitor with endpoints, testConfigurations and testGroups",
                     classic_fields[i]);
        }
    }
    vcheck_fields(v, props, base, bare ? bare_fields : properties_fields, properties_ignored);
    const char *notes = vget_string(v, props, base, "notes", false);
    m->notes = vstrdup(v, notes);

    char lp[512], ip[512];
    const json_t *eps = get_list(v, props, base, "endpoints", CMON_MAX_ENDPOINTS, "endpoint");
    const json_t *cfgs =
        get_list(v, props, base, "testConfigurations", CMON_MAX_TEST_CONFIGS, "test configuration");
    const json_t *grps = get_list(v, props, base, "testGroups", CMON_MAX_TEST_GROUPS, "test group");
    size_t n_eps = json_array_size(eps), n_cfgs = json_array_size(cfgs);
    size_t n_grps = json_array_size(grps);
    m->endpoints = calloc(n_eps + 1, sizeof *m->endpoints);
    m->configs = calloc(n_cfgs + 1, sizeof *m->configs);
    m->groups = calloc(n_grps + 1, sizeof *m->groups);
    char **ep_names = calloc(n_eps + 1, sizeof *ep_names);
    char **cfg_names = calloc(n_cfgs + 1, sizeof *cfg_names);
    if (!m->endpoints || !m->configs || !m->groups || !ep_names || !cfg_names) {
        v->oom = true;
        goto out;
    }
    vpath_key(lp, sizeof lp, base, "endpoints");
    for (size_t i = 0; i < n_eps; i++) {
        const json_t *e = json_array_get(eps, i);
        vpath_idx(ip, sizeof ip, lp, i);
        if (json_is_object(e))
            vparse_endpoint(v, e, ip, &m->endpoints[i]);
        m->n_endpoints++;
        ep_names[i] = m->endpoints[i].name;
    }
    check_unique(v, lp, "endpoint", ep_names, n_eps);
    vpath_key(lp, sizeof lp, base, "testConfigurations");
    for (size_t i = 0; i < n_cfgs; i++) {
        const json_t *c = json_array_get(cfgs, i);
        vpath_idx(ip, sizeof ip, lp, i);
        if (json_is_object(c))
            vparse_config(v, c, ip, &m->configs[i]);
        m->n_configs++;
        cfg_names[i] = m->configs[i].name;
    }
    check_unique(v, lp, "test configuration", cfg_names, n_cfgs);
    vpath_key(lp, sizeof lp, base, "testGroups");
    char **grp_names = calloc(n_grps + 1, sizeof *grp_names);
    if (!grp_names) {
        v->oom = true;
        goto out;
    }
    for (size_t i = 0; i < n_grps; i++) {
        const json_t *g = json_array_get(grps, i);
        vpath_idx(ip, sizeof ip, lp, i);
        if (json_is_object(g))
            parse_group(v, g, ip, m, n_eps ? ep_names : NULL, n_cfgs ? cfg_names : NULL,
                        &m->groups[i]);
        m->n_groups++;
        grp_names[i] = m->groups[i].name;
    }
    check_unique(v, lp, "test group", grp_names, n_grps);
    free(grp_names);
    parse_alert_rules(v, props, base, m);
out:
    free(ep_names);
    free(cfg_names);
}

/* ARM template resources name a child resource "WATCHER/NAME": the monitor is
 * NAME.  A template expression ("[concat(...)]") has no value outside a
 * deployment. */
static const char *arm_name(struct vctx *v, const char *path, const char *name)
{
    if (name[0] == '[') {
        vproblem(v, path, false,
                 "monitor name \"%s\" is an ARM template expression: give the monitor a plain "
                 "name (a template's values are known only when Azure deploys it)",
                 name);
        return NULL;
    }
    const char *slash = strrchr(name, '/');
    return slash ? slash + 1 : name;
}

static void parse_name(struct vctx *v, const json_t *obj, const char *base,
                       const char *default_name, struct cmon_monitor *m)
{
    char p[512];
    vpath_key(p, sizeof p, base, "name");
    const char *name = vget_string(v, obj, base, "name", false);
    if (name) {
        name = arm_name(v, p, name);
        if (name)
            vcheck_name(v, p, "monitor", name);
        m->name = name ? vstrdup(v, name) : NULL;
    } else if (json_object_get(obj, "name")) {
        return; /* wrong type: already reported */
    } else if (default_name) {
        if (!cmon_monitor_name_valid(default_name))
            vproblem(v, base, false,
                     "the file name gives the monitor name \"%s\", which is not valid (letters, "
                     "digits, '.', '_', '-'); add a \"name\" field",
                     default_name);
        m->name = vstrdup(v, default_name);
    } else {
        vproblem(v, base, false, "missing required field \"name\"");
    }
}

/* An ARM resource of another type is not a monitor, whatever else it holds. */
static bool check_resource_type(struct vctx *v, const json_t *obj, const char *base)
{
    const char *type = json_string_value(json_object_get(obj, "type"));
    if (!type || strcasecmp(type, CMON_ARM_MONITOR_TYPE) == 0)
        return true;
    char p[512];
    vpath_key(p, sizeof p, base, "type");
    vproblem(v, p, false, "a resource of type \"%s\" is not a connection monitor (\"%s\")", type,
             CMON_ARM_MONITOR_TYPE);
    return false;
}

struct cmon_monitor *vparse_monitor(struct vctx *v, const json_t *obj, const char *base,
                                    const char *default_name)
{
    struct cmon_monitor *m = calloc(1, sizeof *m);
    if (!m) {
        v->oom = true;
        return NULL;
    }
    if (!json_is_object(obj)) {
        vproblem(v, base, false, "a monitor must be a JSON object");
    } else if (json_object_get(obj, "properties")) {
        char pp[512];
        vpath_key(pp, sizeof pp, base, "properties");
        if (!base[0]) /* the file is one monitor: paths are shown inside properties */
            v->strip = strlen("properties.");
        vcheck_fields(v, obj, base, envelope_fields, envelope_ignored);
        if (check_resource_type(v, obj, base))
            parse_name(v, obj, base, default_name, m);
        const json_t *props = vget(v, obj, base, "properties", JSON_OBJECT, true);
        if (props)
            parse_properties(v, props, pp, false, m);
    } else {
        parse_name(v, obj, base, default_name, m);
        parse_properties(v, obj, base, true, m);
    }
    return m;
}
