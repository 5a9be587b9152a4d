/* api_monitors.c: connection monitors -- apply (PUT, also used by `cmon run
 * FILE`), get, list with rolled-up states, delete, start, stop.  Validation
 * is the model's (same messages as `cmon validate`); the URL's name wins.
 * The alert rules a monitor file holds are written (and deleted) with the
 * monitor, in the same store transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "server/server_internal.h"
#include "server/sources.h"

/* SourceType: "Agent", or a compound source's kind ("AgentGroup",
 * "AzureSubnet", "MMAWorkspaceMachine", ...), which tells the evaluator to
 * combine its members' rounds. */
static const char *endpoint_type(const struct cmon_endpoint *e)
{
    if (e->type != CMON_EP_AGENT)
        return "ExternalAddress";
    return e->compound && e->kind ? e->kind : "Agent";
}

/* The agent a source endpoint's tests run on: cmon run's embedded agent by
 * its one name (the host's) also where a monitor calls it by its alias, so
 * the agents list, the tests' source address, search and the agent that
 * sends their rounds all say the same name. */
static const char *source_address(const struct cmon_server *srv, const struct cmon_endpoint *ep)
{
    const char *alias = srv->opts.embedded_alias, *name = srv->opts.embedded_agent;
    if (ep->type == CMON_EP_AGENT && name && alias && ep->address &&
        strcmp(ep->address, alias) == 0)
        return name;
    return ep->address;
}

/* Each endpoint's SourceResourceId / DestinationResourceId: its resourceId,
 * else its cmon id (model/dims.h).  A new array of m->n_endpoints strings
 * (free with free_ids), NULL when out of memory. */
static char **endpoint_ids(const struct cmon_monitor *m)
{
    char **ids = calloc(m->n_endpoints + 1, sizeof *ids);
    for (size_t i = 0; ids && i < m->n_endpoints; i++) {
        const struct cmon_endpoint *ep = &m->endpoints[i];
        size_t cap = strlen(m->name) + strlen(ep->name) + 64;
        if (ep->resource_id) {
            ids[i] = strdup(ep->resource_id);
        } else if ((ids[i] = malloc(cap)) != NULL) {
            cmon_dim_endpoint_id(m->name, ep->name, ids[i], cap);
        }
        if (!ids[i]) {
            while (i-- > 0)
                free(ids[i]);
            free(ids);
            return NULL;
        }
    }
    return ids;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
}

/* Expanded tests as store rows; strings point into m, ids (endpoint_ids)
 * or the server's opts. */
static struct store_test *tests_for_store(const struct cmon_server *srv,
                                          const struct cmon_monitor *m, char *const *ids,
                                          const struct cmon_test *t, size_t n)
{
    struct store_test *st = calloc(n ? n : 1, sizeof *st);
    for (size_t i = 0; st && i < n; i++) {
        const struct cmon_endpoint *src = &m->endpoints[t[i].source];
        const struct cmon_endpoint *dst = &m->endpoints[t[i].destination];
        const struct cmon_test_config *c = &m->configs[t[i].config];
        st[i] = (struct store_test){
            .id = t[i].id,
            .number = t[i].number,
            .group = m->groups[t[i].group].name,
            .source = src->name,
            .source_address = source_address(srv, src),
            .source_type = endpoint_type(src),
            .destination = dst->name,
            .destination_address = dst->address,
            .destination_type = endpoint_type(dst),
            .source_resource_id = ids[t[i].source],
            .destination_resource_id = ids[t[i].destination],
            .config = c->name,
            .protocol = t[i].protocol,
            .target = t[i].target,
            .port = t[i].port,
            .frequency_sec = t[i].frequency_sec,
            .has_failed_pct_threshold = c->has_failed_pct_threshold,
            .failed_pct_threshold = c->failed_pct_threshold,
            .has_rtt_threshold = c->has_rtt_threshold,
            .rtt_threshold_ms = c->rtt_threshold_ms,
            .group_disabled = m->groups[t[i].group].disabled,
        };
    }
    return st;
}

static int ignore_monitor(void *arg, const struct store_monitor *m)
{
    (void)arg, (void)m;
    return 0;
}

/* A monitor write: the parsed monitor, its expanded tests as store rows,
 * and what they point into.  The writer borrows it until it answered (for
 * PUT it is the request's hold). */
struct monitor_write {
    const struct cmon_server *srv;
    struct cmon_monitor *m;
    const char *text;
    struct cmon_test *tests;
    char **ids;
    struct store_test *rows;
    size_t n;
    bool created;
    struct cmon_problems *probs;    /* the rules' unknown action groups */
    struct cmon_problems own_probs; /* probs of a PUT (its request's hold) */
};

static void monitor_write_free(void *p)
{
    struct monitor_write *w = p;
    if (!w)
        return;
    free(w->rows);
    if (w->m)
        free_ids(w->ids, w->m->n_endpoints);
    cmon_tests_free(w->tests, w->n);
    cmon_monitor_free(w->m);
    cmon_problems_free(&w->own_probs);
    free(w);
}

static bool group_known(void *arg, const char *name)
{
    return cmon_action_group_find(arg, name) != NULL;
}

/* The action groups the monitor's alert rules name exist (on the writer
 * thread, so a group cannot vanish between the check and the write). */
static enum cmon_err check_rule_groups(struct store *s, struct monitor_write *w,
                                       struct cmon_errbuf *eb)
{
    if (!w->m->n_alert_rules)
        return CMON_OK;
    struct cmon_action_group_list groups;
    size_t before = w->probs->n;
    enum cmon_err err = s->ops->action_group_list(s, &groups, eb);
    if (!err)
        err = cmon_monitor_check_action_groups(w->text, strlen(w->text), w->m, group_known, &groups,
                                               w->probs);
    cmon_action_group_list_free(&groups);
    if (err == CMON_ERR_INVALID)
        cmon_problem_format(&w->probs->items[before], NULL, eb->msg, sizeof eb->msg);
    else if (err == CMON_ERR_NOMEM)
        cmon_fail(eb, err, "out of memory");
    return err;
}

/* Refuse a new monitor beyond the configured limit (on the writer thread,
 * so two new monitors cannot both take the last place). */
static enum cmon_err check_limit(struct store *s, size_t max, const char *name,
                                 struct cmon_errbuf *eb)
{
    size_t n = 0;
    enum cmon_err err = s->ops->monitor_count(s, &n, eb);
    if (err || n < max)
        return err;
    bool exists = s->ops->monitor_get(s, name, ignore_monitor, NULL, eb) == CMON_OK;
    if (exists)
        return CMON_OK;
    return cmon_fail(eb, CMON_ERR_LIMIT, "this server holds at most %zu connection monitors", max);
}

/* Store the monitor and evaluate its tests. */
static enum cmon_err write_monitor(struct store *s, void *arg, int64_t now_ns,
                                   struct cmon_errbuf *eb)
{
    struct monitor_write *w = arg;
    const char *name = w->m->name;
    enum cmon_err err = check_limit(s, w->srv->opts.max_monitors, name, eb);
    if (!err)
        err = check_rule_groups(s, w, eb);
    if (!err)
        err = s->ops->monitor_put(s, name, w->text, w->rows, w->n,
                                  (const struct cmon_alert_rule *const *)w->m->alert_rules,
                                  w->m->n_alert_rules, now_ns, &w->created, eb);
    if (!err && server_eval_monitor(s, name, now_ns, eb))
        cmon_warn(w->srv->opts.log, "evaluation failed", "monitor=%s err=%s", name, eb->msg);
    return err;
}

/* Parse text as the monitor name (the URL's, which wins) or default_name;
 * problems in probs and the first in eb. */
static enum cmon_err monitor_parse_named(const char *name, const char *default_name,
                                         const char *text, size_t len, struct cmon_monitor **out,
                                         struct cmon_problems *probs, struct cmon_errbuf *eb)
{
    struct cmon_monitor *m = NULL;
    enum cmon_err err = cmon_monitor_parse(text, len, name ? name : default_name, &m, probs);
    if (err) {
        if (probs->n)
            cmon_problem_format(&probs->items[0], NULL, eb->msg, sizeof eb->msg);
        else
            cmon_fail(eb, err, "invalid monitor");
        return err;
    }
    if (name && strcmp(m->name, name) != 0 && cmon_monitor_rename(m, name) != CMON_OK) {
        cmon_monitor_free(m);
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    }
    *out = m;
    return CMON_OK;
}

/* The write for monitor m (taken: freed with the write, also on error);
 * the writer adds problems to probs (NULL: the write's own). */
static enum cmon_err monitor_prepare(const struct cmon_server *srv, struct cmon_monitor *m,
                                     const char *text, struct cmon_problems *probs,
                                     struct monitor_write **out, struct cmon_errbuf *eb)
{
    struct monitor_write *w = calloc(1, sizeof *w);
    if (!w) {
        cmon_monitor_free(m);
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    }
    *w = (struct monitor_write){.srv = srv, .m = m, .text = text};
    w->probs = probs ? probs : &w->own_probs;
    enum cmon_err err = cmon_monitor_expand(m, &w->tests, &w->n);
    if (err) {
        monitor_write_free(w);
        return cmon_fail(eb, err, "cannot expand the monitor's tests");
    }
    w->ids = endpoint_ids(m);
    w->rows = w->ids ? tests_for_store(srv, m, w->ids, w->tests, w->n) : NULL;
    if (!w->rows) {
        monitor_write_free(w);
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    }
    *out = w;
    return CMON_OK;
}

enum cmon_err cmon_server_apply_monitor(struct cmon_server *srv, const char *name,
                                        const char *default_name, const char *text, size_t len,
                                        bool *created, struct cmon_problems *probs,
                                        struct cmon_errbuf *eb)
{
    struct cmon_monitor *m = NULL;
    struct monitor_write *w = NULL;
    enum cmon_err err = monitor_parse_named(name, default_name, text, len, &m, probs, eb);
    if (!err)
        err = monitor_prepare(srv, m, text, probs, &w, eb);
    if (!err)
        err = server_write(srv, write_monitor, w, eb);
    *created = w && w->created;
    monitor_write_free(w);
    if (!err)
        server_monitors_changed(srv);
    return err;
}

struct monitor_stat {
    const char *text;
    bool exists, same;
    int64_t updated_ns;
};

static int stat_one(void *arg, const struct store_monitor *m)
{
    struct monitor_stat *st = arg;
    st->exists = true;
    st->updated_ns = m->updated_ns;
    st->same = strcmp(m->body, st->text) == 0;
    return 1;
}

enum cmon_err cmon_server_monitor_stat(struct cmon_server *srv, const char *name, const char *text,
                                       bool *exists, int64_t *updated_ns, bool *same_text,
                                       struct cmon_errbuf *eb)
{
    struct monitor_stat st = {.text = text};
    struct store *ro = server_ro_take(srv, eb);
    if (!ro)
        return CMON_ERR_STORE;
    enum cmon_err err = ro->ops->monitor_get(ro, name, stat_one, &st, eb);
    server_ro_give(srv, ro);
    if (err == CMON_ERR_NOTFOUND)
        err = CMON_OK;
    *exists = st.exists;
    *updated_ns = st.updated_ns;
    *same_text = st.same;
    return err;
}

/* ---- views of monitors ---- */

json_t *counts_json(const size_t n[5])
{
    json_t *o = json_object();
    for (int i = 0; i < 5; i++)
        json_object_set_new(o, cmon_state_key((enum cmon_state)i), json_integer((json_int_t)n[i]));
    return o;
}

struct monitor_fold {
    struct view_rollup u;
    const struct source_book *book; /* NULL: no regions */
    bool nomem;
};

static int count_test(void *arg, const struct store_test *t)
{
    struct monitor_fold *c = arg;
    if (!view_rollup_add(&c->u, t, c->book ? source_region_of(c->book, t) : NULL)) {
        c->nomem = true;
        return 1;
    }
    return 0;
}

/* at_ns: as the tests stood then (views_at.c), 0 now; book: the agents'
 * reports for the regions, NULL for none.  The caller frees c->u. */
static enum cmon_err monitor_counts(struct store *s, const char *name, int64_t at_ns,
                                    struct monitor_fold *c, struct cmon_errbuf *eb)
{
    view_rollup_init(&c->u, c->book != NULL);
    c->nomem = false;
    struct store_test_filter f = {.monitor = name};
    enum cmon_err err = views_test_query(s, &f, at_ns, count_test, c, eb);
    if (!err && c->nomem)
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    return err;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of set (NULL: none) as a sorted array. */
static json_t *sorted_keys(const json_t *set)
{
    json_t *out = json_array();
    size_t n = set ? json_object_size(set) : 0, i = 0;
    const char **keys = n ? malloc(n * sizeof *keys) : NULL;
    const char *key;
    json_t *v;
    if (!keys)
        return out;
    json_object_foreach((json_t *)set, key, v)
    {
        (void)v;
        if (i < n)
            keys[i++] = key;
    }
    n = i;
    qsort(keys, n, sizeof *keys, by_text);
    for (i = 0; i < n; i++)
        json_array_append_new(out, json_string(keys[i]));
    free(keys);
    return out;
}

/* The essentials of a monitor page: how many test groups, sources and
 * destinations its tests have, and the regions of its source agents. */
static void essentials_json(json_t *o, const struct view_rollup *u)
{
    static const struct {
        const char *key;
        enum rollup_set set;
    } counts[] = {{"testGroupCount", ROLLUP_GROUPS},
                  {"sourceCount", ROLLUP_SOURCES},
                  {"destinationCount", ROLLUP_DESTINATIONS}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        json_object_set_new(o, counts[i].key,
                            json_integer((json_int_t)view_rollup_distinct(u, counts[i].set)));
    json_object_set_new(o, "regions", sorted_keys(u->sets[ROLLUP_REGIONS]));
}

/* {configuration: what its tests are judged against}, from the model's one
 * rule (the dashboard shows it; it does not know the automatic thresholds). */
static json_t *thresholds_json(const struct store_monitor *sm)
{
    struct cmon_monitor *m = NULL;
    struct cmon_problems probs = {0};
    json_t *o = json_object();
    if (cmon_monitor_parse(sm->body, strlen(sm->body), sm->name, &m, &probs) == CMON_OK) {
        for (size_t i = 0; o && i < m->n_configs; i++) {
            char text[200];
            cmon_threshold_text(&m->configs[i], text, sizeof text);
            json_object_set_new(o, m->configs[i].name, json_string(text));
        }
    }
    cmon_problems_free(&probs);
    cmon_monitor_free(m);
    return o;
}

/* book: the agents' reports (the page of one monitor: its essentials), NULL
 * in lists. */
static json_t *monitor_json(struct store *s, const struct store_monitor *m, int64_t at_ns,
                            const struct source_book *book, struct cmon_errbuf *eb)
{
    struct monitor_fold c = {.book = book};
    if (monitor_counts(s, m->name, at_ns, &c, eb)) {
        view_rollup_free(&c.u);
        return NULL;
    }
    bool with_props = book != NULL;
    char created[40], updated[40];
    json_t *o = view_rollup_json(
        json_pack("{s:s, s:s, s:s, s:s}", "name", m->name, "monitoringStatus",
                  m->running ? "Running" : "Stopped", "createdAt",
                  cmon_rfc3339(m->created_ns, created, sizeof created), "updatedAt",
                  cmon_rfc3339(m->updated_ns, updated, sizeof updated)),
        &c.u);
    if (o && with_props)
        essentials_json(o, &c.u);
    view_rollup_free(&c.u);
    if (o && with_props)
        json_object_set_new(o, "successThresholds", thresholds_json(m));
    if (o && with_props) {
        json_t *body = json_loads(m->body, 0, NULL);
        json_t *props = json_object_get(body, "properties");
        json_object_set(o, "properties", props ? props : body ? body : json_null());
        json_decref(body);
    }
    return o;
}

struct monitor_list {
    struct store *s;
    int64_t at_ns;
    json_t *items;
    size_t by_state[5];
    enum cmon_err err;
    struct cmon_errbuf eb;
};

static int list_one(void *arg, const struct store_monitor *m)
{
    struct monitor_list *l = arg;
    json_t *o = monitor_json(l->s, m, l->at_ns, NULL, &l->eb);
    if (!o) {
        l->err = CMON_ERR_STORE;
        return 1;
    }
    enum cmon_state st;
    if (cmon_state_parse(json_string_value(json_object_get(o, "state")), &st))
        l->by_state[st]++;
    json_array_append_new(l->items, o);
    return 0;
}

enum MHD_Result api_monitor_list(struct req *r)
{
    int64_t at;
    if (!views_at(r, &at))
        return MHD_YES;
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    struct monitor_list l = {.s = s, .at_ns = at, .items = json_array()};
    enum cmon_err err = s->ops->monitor_list(s, list_one, &l, &l.eb);
    if (err || l.err) {
        json_decref(l.items);
        return reply_store_error(r, err ? err : l.err, l.eb.msg);
    }
    return reply_json(
        r, 200,
        json_pack("{s:o, s:n, s:o}", "items", l.items, "next", "counts", counts_json(l.by_state)));
}

struct one_monitor {
    struct store *s;
    const struct source_book *book;
    int64_t at_ns;
    json_t *out;
    struct cmon_errbuf eb;
};

static int get_one(void *arg, const struct store_monitor *m)
{
    struct one_monitor *o = arg;
    o->out = monitor_json(o->s, m, o->at_ns, o->book, &o->eb);
    return 1;
}

static enum MHD_Result reply_monitor(struct req *r, struct store *s, const char *name,
                                     int64_t at_ns, unsigned status)
{
    struct source_book book;
    struct one_monitor o = {.s = s, .book = &book, .at_ns = at_ns};
    enum cmon_err err = source_book_load(&r->srv->opts, s, &book, &o.eb);
    if (err)
        return reply_store_error(r, err, o.eb.msg);
    err = s->ops->monitor_get(s, name, get_one, &o, &o.eb);
    source_book_free(&book);
    if (err)
        return reply_store_error(r, err, o.eb.msg);
    if (!o.out)
        return reply_store_error(r, CMON_ERR_STORE, o.eb.msg);
    return reply_json(r, status, o.out);
}

static bool name_ok(struct req *r)
{
    if (cmon_monitor_name_valid(r->seg[1]))
        return true;
    reply_error(r, 400, "invalid_name", "name",
                "'%s' is not a valid monitor name: 1-80 characters of A-Z a-z 0-9 . _ -, "
                "not starting with . or -",
                r->seg[1]);
    return false;
}

enum MHD_Result api_monitor_get(struct req *r)
{
    int64_t at;
    if (!views_at(r, &at))
        return MHD_YES;
    struct store *s = req_store(r);
    return s ? reply_monitor(r, s, r->seg[1], at, 200) : MHD_YES;
}

static enum MHD_Result reply_validation(struct req *r, struct cmon_problems *probs, const char *msg)
{
    const char *field = probs->n ? probs->items[0].path : NULL;
    json_t *e = json_pack("{s:s, s:s, s:o, s:o}", "code", "validation_failed", "message", msg,
                          "field", field ? json_string(field) : json_null(), "problems",
                          cmon_problems_to_json(probs));
    return reply_json(r, 400, json_pack("{s:o}", "error", e));
}

/* A monitor refused: 400 with the problems, 409 at the limit, else the
 * store's error. */
static enum MHD_Result monitor_refused(struct req *r, enum cmon_err err,
                                       struct cmon_problems *probs, const char *msg)
{
    if (err == CMON_ERR_INVALID || err == CMON_ERR_PARSE)
        return reply_validation(r, probs, msg);
    if (err == CMON_ERR_LIMIT)
        return reply_error(r, 409, "limit_reached", NULL, "%s", msg);
    if (err == CMON_ERR_EXISTS) /* a rule name the alerts API or another monitor has */
        return reply_error(r, 409, "rule_name_taken", NULL, "%s", msg);
    return reply_store_error(r, err, msg);
}

static enum MHD_Result monitor_written(struct req *r, enum cmon_err err, bool dup,
                                       const char *msg)
{
    struct monitor_write *w = r->hold;
    (void)dup;
    if (err)
        return monitor_refused(r, err, w->probs, msg);
    server_monitors_changed(r->srv);
    struct store *s = req_store(r);
    return s ? reply_monitor(r, s, r->seg[1], 0, w->created ? 201 : 200) : MHD_YES;
}

enum MHD_Result api_monitor_put(struct req *r)
{
    if (!name_ok(r))
        return MHD_YES;
    if (!r->len)
        return reply_error(r, 400, "invalid_request", NULL, "a monitor JSON body is required");
    struct cmon_problems probs = {0};
    struct cmon_errbuf eb = {{0}};
    struct cmon_monitor *m = NULL;
    struct monitor_write *w = NULL;
    enum cmon_err err = monitor_parse_named(r->seg[1], NULL, r->body, r->len, &m, &probs, &eb);
    if (!err)
        err = monitor_prepare(r->srv, m, r->body, NULL, &w, &eb);
    enum MHD_Result ret;
    if (err) {
        ret = monitor_refused(r, err, &probs, eb.msg);
    } else {
        req_hold(r, w, monitor_write_free);
        ret = req_write_call(r, write_monitor, w, monitor_written);
    }
    cmon_problems_free(&probs);
    return ret;
}

static enum cmon_err write_monitor_delete(struct store *s, void *arg, int64_t now_ns,
                                          struct cmon_errbuf *eb)
{
    (void)now_ns;
    return s->ops->monitor_delete(s, arg, eb);
}

static enum MHD_Result monitor_deleted(struct req *r, enum cmon_err err, bool dup,
                                       const char *msg)
{
    (void)dup;
    if (err)
        return reply_store_error(r, err, msg);
    server_monitors_changed(r->srv);
    return reply_text(r, 204, "application/json", strdup(""), 0);
}

enum MHD_Result api_monitor_delete(struct req *r)
{
    return req_write_call(r, write_monitor_delete, (void *)r->seg[1], monitor_deleted);
}

struct running_write {
    const struct cmon_server *srv;
    const char *name;
    bool running;
};

static enum cmon_err write_running(struct store *s, void *arg, int64_t now_ns,
                                   struct cmon_errbuf *eb)
{
    struct running_write *w = arg;
    enum cmon_err err = s->ops->monitor_set_running(s, w->name, w->running, now_ns, eb);
    if (!err && server_eval_monitor(s, w->name, now_ns, eb))
        cmon_warn(w->srv->opts.log, "evaluation failed", "monitor=%s err=%s", w->name,
                  eb->msg);
    return err;
}

static enum MHD_Result running_set(struct req *r, enum cmon_err err, bool dup, const char *msg)
{
    (void)dup;
    if (err)
        return reply_store_error(r, err, msg);
    server_monitors_changed(r->srv);
    struct store *s = req_store(r);
    return s ? reply_monitor(r, s, r->seg[1], 0, 200) : MHD_YES;
}

static enum MHD_Result set_running(struct req *r, bool running)
{
    struct running_write *w = req_hold_new(r, sizeof *w, free);
    if (!w)
        return MHD_YES;
    *w = (struct running_write){r->srv, r->seg[1], running};
    return req_write_call(r, write_running, w, running_set);
}

enum MHD_Result api_monitor_start(struct req *r)
{
    return set_running(r, true);
}

enum MHD_Result api_monitor_stop(struct req *r)
{
    return set_running(r, false);
}
