/* tracer.c: per-test trace bookkeeping (a hash table by test id) and the
 * "trace now?" rule: due by interval, or the locally judged state changed. */
#include "agent/tracer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "model/state.h"
#include "probe/trace.h"

struct tracer_test {
    struct tracer_test *next; /* hash chain */
    struct agent_tracer *tr;
    char id[CMON_TEST_ID_LEN + 1];
    char *host;
    uint16_t port;
    enum cmon_protocol protocol;
    enum cmon_ip_pref ip_pref;
    bool enabled; /* traceroute on in its configuration */
    bool removed; /* freed when its trace returns */
    struct cmon_state_input thresholds;
    bool has_state;
    enum cmon_state last_state;
    int64_t last_trace_ns;      /* wall clock: stamps the path; 0: never */
    int64_t last_trace_mono_ns; /* monotonic: when the next is due (clock steps) */
    struct probe_trace *running;
};

struct agent_tracer {
    struct probe_engine *eng;
    struct agent_tracer_opts o;
    struct tracer_test **buckets;
    size_t n_buckets, n_tests, n_running;
};

static size_t bucket(const struct agent_tracer *tr, const char *id)
{
    return (size_t)(cmon_fnv1a(id) % tr->n_buckets);
}

static struct tracer_test **find(struct agent_tracer *tr, const char *id)
{
    struct tracer_test **link = &tr->buckets[bucket(tr, id)];
    while (*link && strcmp((*link)->id, id) != 0)
        link = &(*link)->next;
    return link;
}

static void test_free(struct tracer_test *t)
{
    free(t->host);
    free(t);
}

static bool rehash(struct agent_tracer *tr)
{
    size_t n = tr->n_buckets * 2;
    struct tracer_test **b = calloc(n, sizeof *b);
    if (!b)
        return false;
    for (size_t i = 0; i < tr->n_buckets; i++) {
        for (struct tracer_test *t = tr->buckets[i], *next; t; t = next) {
            next = t->next;
            size_t k = (size_t)(cmon_fnv1a(t->id) % n);
            t->next = b[k];
            b[k] = t;
        }
    }
    free(tr->buckets);
    tr->buckets = b;
    tr->n_buckets = n;
    return true;
}

enum cmon_err agent_tracer_new(struct probe_engine *eng, const struct agent_tracer_opts *opts,
                               struct agent_tracer **out, struct cmon_errbuf *eb)
{
    struct agent_tracer *tr = calloc(1, sizeof *tr);
    if (!tr || !(tr->buckets = calloc(64, sizeof *tr->buckets))) {
        free(tr);
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    }
    tr->n_buckets = 64;
    tr->eng = eng;
    tr->o = *opts;
    if (!tr->o.interval_ns)
        tr->o.interval_ns = 600LL * 1000000000LL;
    if (!tr->o.probes_per_hop)
        tr->o.probes_per_hop = 10;
    if (!tr->o.max_ttl)
        tr->o.max_ttl = 30;
    *out = tr;
    return CMON_OK;
}

enum cmon_err agent_tracer_put(struct agent_tracer *tr, const struct cmon_test *t,
                               const struct cmon_test_config *cfg, struct cmon_errbuf *eb)
{
    char host[256];
    if (t->protocol == CMON_PROTO_HTTP) {
        /* the URL's host: between "://" and the next '/', ':' or ']' */
        const char *h = strstr(t->target, "://");
        h = h ? h + 3 : t->target;
        bool v6 = *h == '[';
        h += v6;
        size_t n = strcspn(h, v6 ? "]" : ":/");
        if (n >= sizeof host)
            return cmon_fail(eb, CMON_ERR_INVALID, "test %s: host too long", t->id);
        memcpy(host, h, n);
        host[n] = '\0';
    } else {
        snprintf(host, sizeof host, "%s", t->target);
    }
    struct tracer_test **link = find(tr, t->id);
    struct tracer_test *x = *link;
    if (!x) {
        if (tr->n_tests >= tr->n_buckets && !rehash(tr))
            return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
        if (!(x = calloc(1, sizeof *x)))
            return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
        link = find(tr, t->id);
        x->next = *link;
        *link = x;
        x->tr = tr;
        tr->n_tests++;
        snprintf(x->id, sizeof x->id, "%s", t->id);
    }
    /* replaced in place; a running trace copied what it needs */
    free(x->host);
    x->host = strdup(host);
    if (!x->host)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    x->removed = false;
    x->protocol = t->protocol;
    x->port = (uint16_t)t->port;
    x->ip_pref = cfg->ip_pref;
    x->enabled = cfg->traceroute;
    x->thresholds = (struct cmon_state_input){
        .protocol = cfg->protocol,
        .frequency_sec = cfg->frequency_sec,
        .has_failed_pct_threshold = cfg->has_failed_pct_threshold,
        .failed_pct_threshold = cfg->failed_pct_threshold,
        .has_rtt_threshold = cfg->has_rtt_threshold,
        .rtt_threshold_ms = cfg->rtt_threshold_ms,
    };
    return CMON_OK;
}

static void unlink_test(struct agent_tracer *tr, struct tracer_test *x)
{
    struct tracer_test **link = find(tr, x->id);
    if (*link == x) {
        *link = x->next;
        tr->n_tests--;
    }
}

void agent_tracer_remove(struct agent_tracer *tr, const char *test_id)
{
    struct tracer_test *x = *find(tr, test_id);
    if (!x)
        return;
    unlink_test(tr, x);
    if (x->running)
        x->removed = true; /* freed by trace_done */
    else
        test_free(x);
}

static void trace_done(void *arg, const struct probe_trace_result *res)
{
    struct tracer_test *x = arg;
    struct agent_tracer *tr = x->tr;
    x->running = NULL;
    tr->n_running--;
    if (x->removed) {
        test_free(x);
        return;
    }
    if (res->diag != CMON_DIAG_NONE) {
        cmon_warn(tr->o.log, "trace failed", "test=%s diagnostic=%s detail=%s", x->id,
                  cmon_diag_code(res->diag), res->detail);
        return;
    }
    if (tr->o.on_path)
        tr->o.on_path(tr->o.arg, x->id, x->last_trace_ns, &res->path);
}

static void start_trace(struct agent_tracer *tr, struct tracer_test *x, int64_t mono_ns,
                        int64_t wall_ns)
{
    struct probe_trace_opts o = {
        .proto = x->protocol == CMON_PROTO_ICMP ? PROBE_TRACE_ICMP : PROBE_TRACE_TCP,
        .host = x->host,
        .ip_pref = x->ip_pref,
        .port = x->protocol == CMON_PROTO_ICMP ? 0 : x->port,
        .max_ttl = tr->o.max_ttl,
        .probes_per_hop = tr->o.probes_per_hop,
        .timeout_ms = 1000,
        .interval_ms = 50,
    };
    struct cmon_errbuf eb;
    x->last_trace_ns = wall_ns;
    x->last_trace_mono_ns = mono_ns;
    if (probe_trace_start(tr->eng, &o, trace_done, x, &x->running, &eb) != CMON_OK) {
        cmon_warn(tr->o.log, "trace not started", "test=%s error=%s", x->id, eb.msg);
        x->running = NULL;
        return;
    }
    tr->n_running++;
}

void agent_tracer_round(struct agent_tracer *tr, const struct cmon_round_result *r, int64_t mono_ns,
                        int64_t wall_ns)
{
    struct tracer_test *x = *find(tr, r->test_id);
    if (!x || !x->enabled || x->removed)
        return;
    struct cmon_state_input in = x->thresholds;
    in.has_result = true;
    in.last_result_ns = in.now_ns = r->start_ns;
    in.checks_failed_pct = cmon_round_failed_pct(r);
    in.has_rtt = r->has_rtt;
    in.rtt_ms = r->rtt_avg_ms;
    struct cmon_state_eval ev;
    cmon_test_state_eval(&in, &ev);
    bool changed = x->has_state && ev.state != x->last_state;
    x->has_state = true;
    x->last_state = ev.state;
    bool due = !x->last_trace_ns || mono_ns - x->last_trace_mono_ns >= tr->o.interval_ns;
    if ((due || changed) && !x->running)
        start_trace(tr, x, mono_ns, wall_ns);
}

size_t agent_tracer_running(const struct agent_tracer *tr)
{
    return tr->n_running;
}

void agent_tracer_close(struct agent_tracer *tr)
{
    if (!tr)
        return;
    for (size_t i = 0; i < tr->n_buckets; i++) {
        for (struct tracer_test *x = tr->buckets[i], *next; x; x = next) {
            next = x->next;
            if (x->running)
                probe_trace_cancel(x->running);
            test_free(x);
        }
    }
    free(tr->buckets);
    free(tr);
}
