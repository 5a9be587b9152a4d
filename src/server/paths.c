/* paths.c: traceroute paths on the server (issue 7) -- stored as they arrive
 * (writer thread) with a route-change mark against the test's previous path,
 * and served as a test's topology, its path history, and a monitor's
 * topology graph (sources -> shared hops -> destinations).  Hop issues
 * (hop_loss, hop_latency) are computed when read, by model/path.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "model/path.h"
#include "server/server_internal.h"
#include "store/store.h"

#define PATH_LOSS_PCT 10.0
#define PATH_LATENCY_MS 50.0

/* A stored path document: the path's JSON plus "routeChanged" and "agent". */
static bool doc_decode(const char *text, struct cmon_path *p, bool *changed, char *agent,
                       size_t agent_len)
{
    json_t *j = json_loads(text, 0, NULL);
    if (!j)
        return false;
    if (changed)
        *changed = json_is_true(json_object_get(j, "routeChanged"));
    if (agent)
        snprintf(agent, agent_len, "%s", json_string_value(json_object_get(j, "agent")) ?: "");
    json_object_del(j, "routeChanged");
    json_object_del(j, "agent");
    struct cmon_errbuf eb;
    bool ok = cmon_path_from_json(j, p, &eb) == CMON_OK;
    json_decref(j);
    return ok;
}

enum cmon_err paths_store(struct store *s, const char *agent, const struct cmon_path_report *rep,
                          struct cmon_errbuf *eb)
{
    char *prev_text = NULL;
    int64_t prev_ns = 0;
    bool changed = false;
    enum cmon_err err = s->ops->path_latest(s, rep->test_id, &prev_text, &prev_ns, eb);
    if (err == CMON_OK) {
        struct cmon_path *prev = malloc(sizeof *prev);
        if (prev && prev_ns < rep->time_ns && doc_decode(prev_text, prev, NULL, NULL, 0))
            changed = !cmon_path_same_route(prev, &rep->path);
        free(prev);
    } else if (err != CMON_ERR_NOTFOUND) {
        return err;
    }
    free(prev_text);
    json_t *doc = cmon_path_to_json(&rep->path);
    json_object_set_new(doc, "routeChanged", json_boolean(changed));
    json_object_set_new(doc, "agent", json_string(agent ? agent : ""));
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    err = s->ops->path_put(s, rep->test_id, rep->time_ns, text, eb);
    free(text);
    return err;
}

/* ?lossThreshold=&latencyThreshold= for hop issues; false after replying 400. */
static bool issue_args(struct req *r, double *loss, double *lat)
{
    *loss = PATH_LOSS_PCT;
    *lat = PATH_LATENCY_MS;
    const char *l = req_arg(r, "lossThreshold"), *t = req_arg(r, "latencyThreshold");
    char *end;
    if (l && (*loss = strtod(l, &end), *end || *loss <= 0 || *loss > 100)) {
        reply_error(r, 400, "invalid_parameter", "lossThreshold",
                    "lossThreshold must be a percentage in (0, 100]");
        return false;
    }
    if (t && (*lat = strtod(t, &end), *end || *lat <= 0)) {
        reply_error(r, 400, "invalid_parameter", "latencyThreshold",
                    "latencyThreshold must be a positive number of ms");
        return false;
    }
    return true;
}

static json_t *issues_json(const struct cmon_path *p, double loss, double lat)
{
    struct cmon_hop_issue is[2];
    size_t n = cmon_path_issues(p, loss, lat, is);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct cmon_hop *h = &p->hops[is[i].hop];
        json_array_append_new(arr, json_pack("{s:s, s:i, s:s, s:f, s:f}", "diagnostic",
                                             cmon_diag_code(is[i].kind), "ttl", h->ttl, "address",
                                             h->address, "value", is[i].value, "threshold",
                                             is[i].threshold));
    }
    return arr;
}

/* The path document as served: path + time + routeChanged + agent + issues. */
static json_t *path_view(int64_t start_ns, const char *text, double loss, double lat)
{
    struct cmon_path *p = malloc(sizeof *p);
    bool changed = false;
    char agent[128], ts[40];
    if (!p || !doc_decode(text, p, &changed, agent, sizeof agent)) {
        free(p);
        return NULL;
    }
    json_t *o = cmon_path_to_json(p);
    json_object_set_new(o, "time", json_string(cmon_rfc3339(start_ns, ts, sizeof ts)));
    json_object_set_new(o, "agent", json_string(agent));
    json_object_set_new(o, "routeChanged", json_boolean(changed));
    json_t *issues = issues_json(p, loss, lat);
    if (changed) /* the catalogue's route_changed, next to the hop issues */
        json_array_append_new(
            issues, json_pack("{s:s}", "diagnostic", cmon_diag_code(CMON_DIAG_ROUTE_CHANGED)));
    json_object_set_new(o, "issues", issues);
    free(p);
    return o;
}

/* GET /api/v1/tests/{id}/topology: the latest path with hop figures. */
enum MHD_Result api_test_topology(struct req *r)
{
    double loss, lat;
    if (!issue_args(r, &loss, &lat))
        return MHD_YES;
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    char *text = NULL;
    int64_t at = 0;
    struct cmon_errbuf eb;
    enum cmon_err err = s->ops->path_latest(s, r->seg[1], &text, &at, &eb);
    if (err)
        return reply_store_error(r, err, eb.msg);
    json_t *o = path_view(at, text, loss, lat);
    free(text);
    if (!o)
        return reply_error(r, 500, "internal", NULL, "a stored path could not be read");
    json_object_set_new(o, "testId", json_string(r->seg[1]));
    return reply_json(r, 200, o);
}

struct path_list {
    json_t *items;
    double loss, lat;
};

static int path_one(void *arg, int64_t start_ns, const char *text)
{
    struct path_list *l = arg;
    json_t *o = path_view(start_ns, text, l->loss, l->lat);
    if (o)
        json_array_append_new(l->items, o);
    return 0;
}

/* GET /api/v1/tests/{id}/paths?from=&to=: the path history, oldest first;
 * a route change shows as "routeChanged": true on the new path. */
enum MHD_Result api_test_paths(struct req *r)
{
    int64_t from, to;
    size_t limit, offset;
    struct path_list l = {0};
    if (!req_time_arg(r, "from", 0, &from) || !req_time_arg(r, "to", INT64_MAX, &to) ||
        !req_page(r, &limit, &offset) || !issue_args(r, &l.loss, &l.lat))
        return MHD_YES;
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    l.items = json_array();
    struct cmon_errbuf eb;
    enum cmon_err err = s->ops->path_query(s, r->seg[1], from, to, limit, path_one, &l, &eb);
    if (err) {
        json_decref(l.items);
        return reply_store_error(r, err, eb.msg);
    }
    return reply_json(r, 200, json_pack("{s:o, s:n}", "items", l.items, "next"));
}

/* --- monitor topology: nodes and edges from the latest path of each test --- */

struct topo {
    struct store *s;
    json_t *nodes; /* id -> node */
    json_t *edges; /* "a>b" -> edge */
    double loss, lat;
    size_t tests;
};

static void add_node(struct topo *t, const char *id, const char *kind, const char *label)
{
    if (json_object_get(t->nodes, id))
        return;
    json_object_set_new(t->nodes, id,
                        json_pack("{s:s, s:s, s:s}", "id", id, "kind", kind, "label", label));
}

static void add_edge(struct topo *t, const char *from, const char *to, const struct cmon_hop *h)
{
    char key[600];
    snprintf(key, sizeof key, "%s>%s", from, to);
    json_t *e = json_object_get(t->edges, key);
    double loss = h ? cmon_hop_loss_pct(h) : 0, rtt = h && h->received ? h->rtt_avg_ms : 0;
    if (!e) {
        json_object_set_new(t->edges, key,
                            json_pack("{s:s, s:s, s:i, s:f, s:f}", "from", from, "to", to, "tests",
                                      1, "lossPercent", loss, "rttMs", rtt));
        return;
    }
    /* an edge several tests share shows the worst of them */
    json_object_set_new(e, "tests",
                        json_integer(json_integer_value(json_object_get(e, "tests")) + 1));
    if (loss > json_real_value(json_object_get(e, "lossPercent")))
        json_object_set_new(e, "lossPercent", json_real(loss));
    if (rtt > json_real_value(json_object_get(e, "rttMs")))
        json_object_set_new(e, "rttMs", json_real(rtt));
}

static void topo_test(struct topo *t, const struct store_test *st, const struct cmon_path *p)
{
    char src[200], dst[200], prev[256], cur[256];
    snprintf(src, sizeof src, "source:%s", st->source);
    snprintf(dst, sizeof dst, "destination:%s", st->destination);
    add_node(t, src, "source", st->source);
    add_node(t, dst, "destination", st->destination);
    snprintf(prev, sizeof prev, "%s", src);
    size_t last = p->reached && p->n_hops ? p->n_hops - 1 : p->n_hops;
    for (size_t i = 0; i < last; i++) {
        const struct cmon_hop *h = &p->hops[i];
        if (h->address[0]) {
            snprintf(cur, sizeof cur, "hop:%s", h->address);
            add_node(t, cur, "hop", h->address);
        } else { /* a silent hop is its own node: it may be any router */
            snprintf(cur, sizeof cur, "silent:%s:%d", st->id, h->ttl);
            add_node(t, cur, "silent", "???");
        }
        add_edge(t, prev, cur, h);
        snprintf(prev, sizeof prev, "%s", cur);
    }
    add_edge(t, prev, dst, p->reached && p->n_hops ? &p->hops[p->n_hops - 1] : NULL);
    t->tests++;
}

static int topo_one(void *arg, const struct store_test *st)
{
    struct topo *t = arg;
    char *text = NULL;
    int64_t at;
    struct cmon_errbuf eb;
    if (t->s->ops->path_latest(t->s, st->id, &text, &at, &eb) != CMON_OK)
        return 0; /* not traced (yet): no path to draw */
    struct cmon_path *p = malloc(sizeof *p);
    if (p && doc_decode(text, p, NULL, NULL, 0))
        topo_test(t, st, p);
    free(p);
    free(text);
    return 0;
}

static json_t *values_of(json_t *obj)
{
    json_t *arr = json_array(), *v;
    const char *k;
    json_object_foreach(obj, k, v) json_array_append(arr, v);
    return arr;
}

/* GET /api/v1/connectionMonitors/{name}/topology */
enum MHD_Result api_monitor_topology(struct req *r)
{
    struct topo t = {.nodes = json_object(), .edges = json_object()};
    if (!issue_args(r, &t.loss, &t.lat) || !(t.s = req_store(r))) {
        json_decref(t.nodes);
        json_decref(t.edges);
        return MHD_YES;
    }
    struct cmon_errbuf eb;
    struct store_test_filter f = {.monitor = r->seg[1]};
    enum cmon_err err = t.s->ops->test_query(t.s, &f, topo_one, &t, &eb);
    if (err) {
        json_decref(t.nodes);
        json_decref(t.edges);
        return reply_store_error(r, err, eb.msg);
    }
    json_t *o = json_pack("{s:s, s:i, s:o, s:o}", "monitor", r->seg[1], "tracedTests", (int)t.tests,
                          "nodes", values_of(t.nodes), "edges", values_of(t.edges));
    json_decref(t.nodes);
    json_decref(t.edges);
    return reply_json(r, 200, o);
}
