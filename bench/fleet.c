/* fleet.c: a fleet simulator -- N agents in one process speaking the real
 * agent protocol to a real `cmon server` (register with the workspace key,
 * heartbeat and ETag-polled assignments every 10 s, result batches (1 s, or the
 * server's longer batchIntervalMs) for
 * each assigned test at its frequency and the scheduler's phase, retried as
 * src/agent/agent_push.c does), plus one dashboard reader timing the API.
 * Nothing is probed: rounds are invented (fleet_gen.c).  Prints figures,
 * asserts nothing.  One thread, one curl multi; main() owns struct fleet and
 * everything in it (fleet.h). */
#include <getopt.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/assign.h"
#include "core/clock.h"
#include "fleet.h"
#include "probe/scheduler.h"

#define BATCH_MS 1000 /* cmon agent's --batch-ms */
#define BATCH_MAX_ROUNDS 2000
#define HEARTBEAT_MS 10000
#define POLL_MS 10000
#define NET_BACKOFF_MIN_MS 1000
#define NET_BACKOFF_MAX_MS 15000
#define AUTH_BACKOFF_MIN_MS 5000
#define AUTH_BACKOFF_MAX_MS 300000
#define TICK_MS 20
#define TRACE_PCT 2 /* a path with 2 % of later rounds, standing in for state changes */

enum req_kind { REQ_REGISTER, REQ_HEARTBEAT, REQ_POLL, REQ_RESULTS, REQ_READ, REQ__N };
static const char *const req_names[REQ__N] = {"register", "heartbeat", "assignments", "results",
                                              "reader"};

enum { RD_TESTS, RD_MONITOR, RD_GROUPS, RD_METRICS, RD_PROM, RD__N };

struct xfer {
    CURL *easy;
    enum req_kind kind;
    bool busy;
    char *body; /* the request body, owned while busy */
    struct curl_slist *hdrs;
    char *resp;
    size_t len;
    char etag[128];
    long retry_after_s; /* -1: none */
    const char *base;   /* the server this transfer talks to (one of --url's) */
};

struct batch {
    struct batch *next;
    uint64_t seq;
    char *text;
    size_t rounds;
};

struct sim_agent {
    struct fleet *f;
    char name[32], token[128], etag[128];
    bool registered;
    struct sim_test *tests;
    size_t n_tests;
    json_t *rounds, *paths;
    int64_t first_pending_ms;
    int batch_ms; /* the server's batchIntervalMs when longer than BATCH_MS */
    struct batch *head, *tail;
    size_t n_batches;
    uint64_t next_seq;
    int64_t next_register, next_heartbeat, next_poll, next_send, net_backoff, auth_backoff;
    uint64_t rng;
    struct xfer x;
};

#define MAX_SERVERS 4

/* --url and --server-pid take comma-separated lists: replicas of one store
 * (agent i talks to url i mod n; the reader to the first); CPU and RSS are
 * the sums over the pids. */
struct opts {
    const char *key, *admin, *prefix, *monitor;
    char *urls[MAX_SERVERS];
    int n_urls;
    int pids[MAX_SERVERS], n_pids;
    int agents, seconds, ramp_s, read_ms;
};

struct counts {
    uint64_t rounds_made, paths_made, results_acked, batches_acked, duplicates, rejected;
    uint64_t dropped_batches, net_errors[REQ__N], status[REQ__N][600];
    size_t peak_queue;
};

struct fleet {
    struct opts o;
    CURLM *multi;
    struct sim_agent *agents;
    struct xfer reader;
    int next_read;
    int64_t next_read_at, start_ms;
    struct counts c;
    struct lat ack, read_lat[RD__N];
};

static int64_t now_ms(void)
{
    return cmon_mono_ns() / CMON_NS_PER_MS;
}

static int64_t grow(int64_t cur, int64_t lo, int64_t hi)
{
    return cur ? (cur * 2 > hi ? hi : cur * 2) : lo;
}

/* ---- HTTP plumbing ---- */

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    struct xfer *x = arg;
    char *b = realloc(x->resp, x->len + sz * n + 1);
    if (!b)
        return 0;
    memcpy(b + x->len, p, sz * n);
    x->len += sz * n;
    b[x->len] = '\0';
    x->resp = b;
    return sz * n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0)
        return;
    const char *v = line + k;
    while (v < line + n && (*v == ' ' || *v == '\t'))
        v++;
    size_t m = (size_t)(line + n - v);
    while (m && (v[m - 1] == '\r' || v[m - 1] == '\n'))
        m--;
    snprintf(out, cap, "%.*s", (int)m, v);
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    struct xfer *x = arg;
    char ra[32] = "";
    header_value(p, sz * n, "ETag:", x->etag, sizeof x->etag);
    header_value(p, sz * n, "Retry-After:", ra, sizeof ra);
    if (ra[0])
        x->retry_after_s = atol(ra);
    return sz * n;
}

/* Start a request on x (one at a time).  body is owned by x from here. */
static void xfer_start(struct fleet *f, struct xfer *x, enum req_kind kind, const char *method,
                       const char *path, const char *token, char *body, const char *etag)
{
    char url[512], h[256];
    snprintf(url, sizeof url, "%s%s", x->base, path);
    x->kind = kind;
    x->busy = true;
    x->body = body;
    x->len = 0;
    x->etag[0] = '\0';
    x->retry_after_s = -1;
    curl_slist_free_all(x->hdrs);
    snprintf(h, sizeof h, "Authorization: Bearer %s", token);
    x->hdrs = curl_slist_append(NULL, h);
    x->hdrs = curl_slist_append(x->hdrs, "Content-Type: application/json");
    if (etag && *etag) {
        snprintf(h, sizeof h, "If-None-Match: %s", etag);
        x->hdrs = curl_slist_append(x->hdrs, h);
    }
    CURL *c = x->easy;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_multi_add_handle(f->multi, c);
}

static void xfer_init(struct xfer *x, void *priv)
{
    memset(x, 0, sizeof *x);
    x->easy = curl_easy_init();
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, priv);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT, 5L); /* as agent_http.c */
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
}

static void xfer_free(struct xfer *x)
{
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    free(x->body);
    free(x->resp);
}

/* ---- assignments -> tests ---- */

static const struct sim_test *find_test(const struct sim_agent *a, const char *id)
{
    for (size_t i = 0; i < a->n_tests; i++)
        if (strcmp(a->tests[i].id, id) == 0)
            return &a->tests[i];
    return NULL;
}

/* This agent's enabled tests of one monitor, appended to *v (as
 * agent_assign_wants chooses them; an unchanged test keeps its schedule). */
static void add_monitor_tests(struct sim_agent *a, const char *name, const char *body,
                              struct sim_test **v, size_t *n)
{
    struct cmon_monitor *m = NULL;
    struct cmon_problems probs = {0};
    struct cmon_test *ts = NULL;
    size_t nt = 0;
    struct agent_assign as;
    agent_assign_init(&as, NULL, NULL, NULL, a->name, NULL);
    if (cmon_monitor_parse(body, strlen(body), name, &m, &probs) != CMON_OK ||
        cmon_monitor_expand(m, &ts, &nt) != CMON_OK) {
        fprintf(stderr, "fleet: %s: monitor %s does not parse here\n", a->name, name);
        cmon_problems_free(&probs);
        cmon_monitor_free(m);
        return;
    }
    int64_t now = cmon_wall_ns();
    for (size_t i = 0; i < nt; i++) {
        const struct cmon_test *t = &ts[i];
        if (m->groups[t->group].disabled || !agent_assign_runs_here(&as, &m->endpoints[t->source]))
            continue;
        struct sim_test *grown = realloc(*v, (*n + 1) * sizeof **v);
        if (!grown)
            break;
        *v = grown;
        struct sim_test *s = &(*v)[(*n)++];
        const struct sim_test *old = find_test(a, t->id);
        memset(s, 0, sizeof *s);
        memcpy(s->id, t->id, sizeof s->id);
        s->proto = t->protocol;
        s->period_ns = (int64_t)t->frequency_sec * CMON_NS_PER_SEC;
        s->next_ns = old && old->period_ns == s->period_ns
                         ? old->next_ns
                         : probe_sched_next_round(now, probe_sched_phase_ns(t->id, s->period_ns),
                                                  s->period_ns);
        s->traced = old && old->traced;
    }
    cmon_tests_free(ts, nt);
    cmon_monitor_free(m);
}

static void take_assignments(struct sim_agent *a, const struct xfer *x)
{
    json_t *j = json_loads(x->resp ? x->resp : "", 0, NULL);
    json_t *mons = json_object_get(j, "monitors");
    if (!json_is_array(mons)) {
        fprintf(stderr, "fleet: %s: assignments answer is not {monitors: [...]}\n", a->name);
        json_decref(j);
        return;
    }
    struct sim_test *v = NULL;
    size_t n = 0, i;
    json_t *mon;
    json_array_foreach(mons, i, mon) {
        const char *name = json_string_value(json_object_get(mon, "name"));
        const char *body = json_string_value(json_object_get(mon, "body"));
        if (name && body)
            add_monitor_tests(a, name, body, &v, &n);
    }
    free(a->tests);
    a->tests = v;
    a->n_tests = n;
    snprintf(a->etag, sizeof a->etag, "%s", x->etag);
    json_decref(j);
}

/* ---- rounds and batches ---- */

static void make_rounds(struct sim_agent *a, int64_t wall, int64_t mono)
{
    for (size_t i = 0; i < a->n_tests; i++) {
        struct sim_test *t = &a->tests[i];
        while (t->next_ns <= wall) {
            if (!json_array_size(a->rounds) && !json_array_size(a->paths))
                a->first_pending_ms = mono;
            json_array_append_new(a->rounds, fleet_round_json(&a->rng, t, t->next_ns));
            a->f->c.rounds_made++;
            if (!t->traced || rng_next(&a->rng) % 100 < TRACE_PCT) {
                json_array_append_new(a->paths, fleet_path_json(&a->rng, t, t->next_ns));
                a->f->c.paths_made++;
                t->traced = true;
            }
            t->next_ns += t->period_ns;
        }
    }
}

/* Cut the pending rounds into a batch after BATCH_MS or the server's longer
 * batchIntervalMs (agent_push.c's spool_rounds; the spool here is an
 * in-memory queue). */
static void cut_batch(struct sim_agent *a, int64_t mono, bool force)
{
    size_t n = json_array_size(a->rounds), np = json_array_size(a->paths);
    if (!(n || np) ||
        !(force || n >= BATCH_MAX_ROUNDS ||
          mono - a->first_pending_ms >= (a->batch_ms > BATCH_MS ? a->batch_ms : BATCH_MS)))
        return;
    struct batch *b = calloc(1, sizeof *b);
    json_t *j = json_pack("{s:I, s:o, s:o}", "batch", (json_int_t)a->next_seq, "results",
                          a->rounds, "paths", a->paths);
    a->rounds = json_array();
    a->paths = json_array();
    if (!b || !j || !(b->text = json_dumps(j, JSON_COMPACT))) {
        free(b);
        json_decref(j);
        a->f->c.dropped_batches++;
        return;
    }
    json_decref(j);
    b->seq = a->next_seq++;
    b->rounds = n;
    if (a->tail)
        a->tail->next = b;
    else
        a->head = b;
    a->tail = b;
    a->n_batches++;
}

static void pop_batch(struct sim_agent *a)
{
    struct batch *b = a->head;
    a->head = b->next;
    if (!a->head)
        a->tail = NULL;
    a->n_batches--;
    free(b->text);
    free(b);
}

/* ---- one agent's requests (push_tick's order) ---- */

static char *facts_text(const struct sim_agent *a, bool with_name)
{
    json_t *j = json_pack("{s:s, s:[s], s:i}", "version", "fleet-sim", "addresses", "127.0.0.1",
                          "heartbeatSec", HEARTBEAT_MS / 1000);
    if (with_name)
        json_object_set_new(j, "name", json_string(a->name));
    else
        json_object_set_new(j, "spool",
                            json_pack("{s:I, s:i, s:i, s:i, s:i}", "pendingBatches",
                                      (json_int_t)a->n_batches, "droppedBatches", 0,
                                      "droppedResults", 0, "corruptRecords", 0, "pendingBytes", 0));
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static void agent_tick(struct sim_agent *a, int64_t mono, bool stopping)
{
    struct fleet *f = a->f;
    if (a->x.busy)
        return;
    if (!a->registered) {
        if (!stopping && mono >= a->next_register)
            xfer_start(f, &a->x, REQ_REGISTER, "POST", "/api/v1/agents/register", f->o.key,
                       facts_text(a, true), NULL);
    } else if (!stopping && mono >= a->next_heartbeat) {
        a->next_heartbeat = mono + HEARTBEAT_MS;
        xfer_start(f, &a->x, REQ_HEARTBEAT, "POST", "/api/v1/agent/heartbeat", a->token,
                   facts_text(a, false), NULL);
    } else if (!stopping && mono >= a->next_poll) {
        a->next_poll = mono + POLL_MS;
        xfer_start(f, &a->x, REQ_POLL, "GET", "/api/v1/agent/assignments", a->token, NULL,
                   a->etag);
    } else if (a->head && mono >= a->next_send) {
        xfer_start(f, &a->x, REQ_RESULTS, "POST", "/api/v1/agent/results", a->token,
                   strdup(a->head->text), NULL);
    }
}

static void net_failed(struct sim_agent *a, int64_t *next)
{
    a->net_backoff = grow(a->net_backoff, NET_BACKOFF_MIN_MS, NET_BACKOFF_MAX_MS);
    *next = now_ms() + a->net_backoff;
}

static void must_register(struct sim_agent *a)
{
    a->registered = false;
    a->next_register = now_ms();
}

/* The server's batchIntervalMs, in its registration and heartbeat answers
 * (agent_push.c take_limits). */
static void take_interval(struct sim_agent *a, const json_t *j)
{
    json_t *ms = json_object_get(j, "batchIntervalMs");
    if (json_is_integer(ms) && json_integer_value(ms) >= 100 && json_integer_value(ms) <= 60000)
        a->batch_ms = (int)json_integer_value(ms);
}

static void registered_as(struct sim_agent *a, const struct xfer *x)
{
    json_t *j = json_loads(x->resp ? x->resp : "", 0, NULL);
    take_interval(a, j);
    const char *token = json_string_value(json_object_get(j, "token"));
    json_t *next = json_object_get(j, "nextBatch");
    if (!token || strlen(token) >= sizeof a->token) {
        a->next_register = now_ms() + AUTH_BACKOFF_MIN_MS;
    } else {
        snprintf(a->token, sizeof a->token, "%s", token);
        if (json_is_integer(next) && (uint64_t)json_integer_value(next) > a->next_seq)
            a->next_seq = (uint64_t)json_integer_value(next);
        a->registered = true;
        a->etag[0] = '\0';
        a->auth_backoff = 0;
        a->next_heartbeat = a->next_poll = a->next_send = now_ms();
    }
    json_decref(j);
}

static void results_answered(struct sim_agent *a, const struct xfer *x, long status, double ms)
{
    struct counts *c = &a->f->c;
    if (status == 200) {
        json_t *j = json_loads(x->resp ? x->resp : "", 0, NULL);
        json_t *acked = json_object_get(j, "acked");
        if (json_is_integer(acked) && (uint64_t)json_integer_value(acked) == a->head->seq) {
            lat_add(&a->f->ack, ms);
            c->batches_acked++;
            c->results_acked += a->head->rounds;
            c->duplicates += json_is_true(json_object_get(j, "duplicate"));
            c->rejected += json_array_size(json_object_get(j, "rejected"));
            pop_batch(a);
            a->next_send = 0;
        } else {
            net_failed(a, &a->next_send);
        }
        json_decref(j);
    } else if (status == 401) {
        must_register(a);
    } else if (status == 400 || status == 413) {
        c->dropped_batches++; /* the real agent drops (400) or splits (413) it */
        pop_batch(a);
    } else if (status == 503 && x->retry_after_s >= 0) {
        a->next_send = now_ms() + x->retry_after_s * 1000;
    } else {
        net_failed(a, &a->next_send);
    }
}

static void agent_answered(struct sim_agent *a, CURLcode rc, long status, double ms)
{
    struct xfer *x = &a->x;
    int64_t *next[REQ__N] = {&a->next_register, &a->next_heartbeat, &a->next_poll,
                             &a->next_send, NULL};
    if (rc != CURLE_OK) {
        a->f->c.net_errors[x->kind]++;
        net_failed(a, next[x->kind]);
        if (x->kind == REQ_HEARTBEAT)
            a->next_heartbeat = now_ms() + HEARTBEAT_MS;
        return;
    }
    a->net_backoff = 0;
    if (x->kind == REQ_REGISTER && status == 201) {
        registered_as(a, x);
    } else if (x->kind == REQ_REGISTER) {
        a->auth_backoff = grow(a->auth_backoff, AUTH_BACKOFF_MIN_MS, AUTH_BACKOFF_MAX_MS);
        a->next_register = now_ms() + a->auth_backoff;
    } else if (x->kind == REQ_RESULTS) {
        results_answered(a, x, status, ms);
    } else if (status == 401 || (x->kind == REQ_HEARTBEAT && status == 409)) {
        must_register(a);
    } else if (x->kind == REQ_POLL && status == 200) {
        take_assignments(a, x);
    } else if (x->kind == REQ_HEARTBEAT && status == 200) {
        json_t *j = json_loads(x->resp ? x->resp : "", 0, NULL);
        take_interval(a, j);
        json_decref(j);
    }
}

/* ---- the dashboard reader ---- */

static void reader_tick(struct fleet *f, int64_t mono)
{
    if (f->reader.busy || mono < f->next_read_at)
        return;
    char path[512];
    const char *m = f->o.monitor;
    switch (f->next_read) {
    case RD_TESTS: snprintf(path, sizeof path, "/api/v1/tests?limit=100"); break;
    case RD_MONITOR: snprintf(path, sizeof path, "/api/v1/connectionMonitors/%s", m); break;
    case RD_GROUPS: snprintf(path, sizeof path, "/api/v1/testGroups?monitor=%s", m); break;
    case RD_METRICS:
        snprintf(path, sizeof path,
                 "/api/v1/metrics?name=RoundTripTimeMs&interval=PT1M"
                 "&ConnectionMonitorResourceId=%s", m);
        break;
    default: snprintf(path, sizeof path, "/metrics"); break;
    }
    xfer_start(f, &f->reader, REQ_READ, "GET", path, f->o.admin, NULL, NULL);
}

static void reader_answered(struct fleet *f, CURLcode rc, double ms)
{
    if (rc == CURLE_OK)
        lat_add(&f->read_lat[f->next_read], ms);
    f->next_read = (f->next_read + 1) % RD__N;
    f->next_read_at = now_ms() + f->o.read_ms;
}

static void on_done(struct fleet *f, CURLMsg *msg)
{
    void *priv = NULL;
    long status = 0;
    curl_off_t us = 0;
    CURL *c = msg->easy_handle;
    curl_easy_getinfo(c, CURLINFO_PRIVATE, &priv);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &us);
    curl_multi_remove_handle(f->multi, c);
    struct xfer *x = priv ? &((struct sim_agent *)priv)->x : &f->reader;
    CURLcode rc = msg->data.result;
    if (rc != CURLE_OK && x->kind == REQ_READ)
        f->c.net_errors[REQ_READ]++;
    else if (rc == CURLE_OK && status >= 100 && status < 600)
        f->c.status[x->kind][status]++;
    x->busy = false;
    free(x->body);
    x->body = NULL;
    if (priv)
        agent_answered(priv, rc, status, (double)us / 1000.0);
    else
        reader_answered(f, rc, (double)us / 1000.0);
}

/* ---- the loop ---- */

static void fleet_step(struct fleet *f, int64_t mono, bool stopping)
{
    int64_t wall = cmon_wall_ns();
    size_t queued = 0;
    for (int i = 0; i < f->o.agents; i++) {
        struct sim_agent *a = &f->agents[i];
        if (!stopping)
            make_rounds(a, wall, mono);
        cut_batch(a, mono, stopping);
        agent_tick(a, mono, stopping);
        queued += a->n_batches;
    }
    if (queued > f->c.peak_queue)
        f->c.peak_queue = queued;
    if (!stopping)
        reader_tick(f, mono);
    int running;
    curl_multi_perform(f->multi, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(f->multi, &left)))
        if (msg->msg == CURLMSG_DONE)
            on_done(f, msg);
    curl_multi_poll(f->multi, NULL, 0, TICK_MS, NULL);
}

static bool fleet_idle(const struct fleet *f)
{
    if (f->reader.busy)
        return false;
    for (int i = 0; i < f->o.agents; i++)
        if (f->agents[i].x.busy ||
            (f->agents[i].registered &&
             (f->agents[i].head || json_array_size(f->agents[i].rounds) ||
              json_array_size(f->agents[i].paths))))
            return false;
    return true;
}

/* ---- report ---- */

struct samples {
    struct proc_sample start, mid, end;
    int64_t t0, t1; /* mono ms of start and end */
};

static void print_lat(const char *label, struct lat *l)
{
    if (!l->n) {
        printf("  %-38s no answers\n", label);
        return;
    }
    double p50 = lat_pct(l, 50), p99 = lat_pct(l, 99), max = lat_pct(l, 100);
    printf("  %-38s n=%-6zu p50 %8.1f ms  p99 %8.1f ms  max %8.1f ms\n", label, l->n, p50, p99,
           max);
}

static void print_requests(const struct fleet *f)
{
    printf("requests answered:");
    for (int k = 0; k < REQ__N; k++) {
        unsigned long long n = 0;
        for (int st = 100; st < 600; st++)
            n += f->c.status[k][st];
        printf(" %s %llu%s", req_names[k], n, k + 1 < REQ__N ? "," : "");
    }
    printf(" (assignments 304: %llu)\n", (unsigned long long)f->c.status[REQ_POLL][304]);
}

static void print_errors(const struct fleet *f)
{
    bool any = false;
    printf("HTTP errors by status:");
    for (int k = 0; k < REQ__N; k++) {
        for (int s = 400; s < 600; s++)
            if (f->c.status[k][s]) {
                printf(" %s %d x%llu;", req_names[k], s, (unsigned long long)f->c.status[k][s]);
                any = true;
            }
        if (f->c.net_errors[k]) {
            printf(" %s network x%llu;", req_names[k], (unsigned long long)f->c.net_errors[k]);
            any = true;
        }
    }
    printf("%s\n", any ? "" : " none");
}

static void print_server(const struct fleet *f, const struct samples *s)
{
    if (!s->start.ok || !s->end.ok) {
        printf("server: /proc of a --server-pid not readable\n");
        return;
    }
    double cpu = s->end.cpu_s - s->start.cpu_s, secs = (double)(s->t1 - s->t0) / 1000.0;
    printf("server RSS: start %.1f MiB, middle %.1f MiB, end %.1f MiB\n",
           (double)s->start.rss_kb / 1024, (double)s->mid.rss_kb / 1024,
           (double)s->end.rss_kb / 1024);
    printf("server CPU: %.2f s in %.0f s (%.0f %% of one core), %.3f s per 1000 results\n", cpu,
           secs, 100.0 * cpu / secs,
           f->c.results_acked ? cpu * 1000.0 / (double)f->c.results_acked : 0.0);
}

static void fleet_report(struct fleet *f, const struct samples *s)
{
    static const char *const rd_names[RD__N] = {
        "GET /api/v1/tests?limit=100", "GET /api/v1/connectionMonitors/NAME",
        "GET /api/v1/testGroups?monitor=NAME", "GET /api/v1/metrics (RTT, PT1M, 1 h)",
        "GET /metrics"};
    size_t regd = 0, tests = 0, pending = 0;
    for (int i = 0; i < f->o.agents; i++) {
        regd += f->agents[i].registered;
        tests += f->agents[i].n_tests;
        pending += f->agents[i].n_batches;
    }
    double secs = (double)(s->t1 - s->t0) / 1000.0;
    printf("fleet: %d agents (%zu registered), %zu tests assigned, %.0f s\n", f->o.agents, regd,
           tests, secs);
    printf("results: %llu made, %llu accepted = %.0f results/s; %llu batches acked "
           "(%llu duplicate), %llu rounds rejected, %llu batches dropped, %zu left unsent; "
           "%llu paths; peak queue %zu batches\n",
           (unsigned long long)f->c.rounds_made, (unsigned long long)f->c.results_acked,
           (double)f->c.results_acked / secs, (unsigned long long)f->c.batches_acked,
           (unsigned long long)f->c.duplicates, (unsigned long long)f->c.rejected,
           (unsigned long long)f->c.dropped_batches, pending,
           (unsigned long long)f->c.paths_made, f->c.peak_queue);
    print_lat("batch ack (POST agent/results)", &f->ack);
    printf("API (one reader, admin token, every %d ms):\n", f->o.read_ms);
    for (int i = 0; i < RD__N; i++)
        print_lat(rd_names[i], &f->read_lat[i]);
    print_requests(f);
    print_errors(f);
    print_server(f, s);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("simulator CPU (this process, same machine): %.2f s\n",
           (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
}

/* ---- set-up and main ---- */

static int usage(void)
{
    fprintf(stderr, "usage: fleet --url URL[,URL...] --key WORKSPACE_KEY --admin TOKEN --monitor NAME\n"
                    "             [--agents N] [--seconds S] [--prefix NAME] [--ramp S]\n"
                    "             [--read-ms MS] [--server-pid PID[,PID...]]\n");
    return 2;
}

/* Split a comma-separated list into at most MAX_SERVERS pieces (in place). */
static int split_list(char *text, char **out)
{
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(text, ",", &save); tok && n < MAX_SERVERS;
         tok = strtok_r(NULL, ",", &save))
        out[n++] = tok;
    return n;
}

/* The servers' RSS and CPU, summed. */
static struct proc_sample servers_read(const struct opts *o)
{
    struct proc_sample sum = {.ok = o->n_pids > 0};
    for (int i = 0; i < o->n_pids; i++) {
        struct proc_sample p = proc_read(o->pids[i]);
        sum.ok = sum.ok && p.ok;
        sum.rss_kb += p.rss_kb;
        sum.cpu_s += p.cpu_s;
    }
    return sum;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"url", 1, 0, 'u'},    {"key", 1, 0, 'k'},     {"admin", 1, 0, 'a'},
        {"monitor", 1, 0, 'm'}, {"agents", 1, 0, 'n'}, {"seconds", 1, 0, 's'},
        {"prefix", 1, 0, 'p'}, {"ramp", 1, 0, 'r'},    {"read-ms", 1, 0, 'R'},
        {"server-pid", 1, 0, 'P'}, {0, 0, 0, 0}};
    *o = (struct opts){.prefix = "sim", .agents = 50, .seconds = 60, .ramp_s = 5, .read_ms = 500};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'u': o->n_urls = split_list(optarg, o->urls); break;
        case 'k': o->key = optarg; break;
        case 'a': o->admin = optarg; break;
        case 'm': o->monitor = optarg; break;
        case 'n': o->agents = atoi(optarg); break;
        case 's': o->seconds = atoi(optarg); break;
        case 'p': o->prefix = optarg; break;
        case 'r': o->ramp_s = atoi(optarg); break;
        case 'R': o->read_ms = atoi(optarg); break;
        case 'P': {
            char *p[MAX_SERVERS];
            o->n_pids = split_list(optarg, p);
            for (int i = 0; i < o->n_pids; i++)
                o->pids[i] = atoi(p[i]);
            break;
        }
        default: return usage();
        }
    }
    if (!o->n_urls || !o->key || !o->admin || !o->monitor || o->agents < 1 || o->seconds < 1 ||
        o->ramp_s < 0 || o->read_ms < 0)
        return usage();
    return 0;
}

static int fleet_init(struct fleet *f)
{
    f->multi = curl_multi_init();
    f->agents = calloc((size_t)f->o.agents, sizeof *f->agents);
    if (!f->multi || !f->agents)
        return -1;
    /* each agent keeps its connection, as a real agent's easy handle does */
    curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)f->o.agents + 8);
    f->start_ms = now_ms();
    xfer_init(&f->reader, NULL);
    f->reader.base = f->o.urls[0];
    for (int i = 0; i < f->o.agents; i++) {
        struct sim_agent *a = &f->agents[i];
        a->f = f;
        snprintf(a->name, sizeof a->name, "%s-%d", f->o.prefix, i);
        a->rounds = json_array();
        a->paths = json_array();
        a->rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
        a->next_register = f->start_ms + (int64_t)i * f->o.ramp_s * 1000 / f->o.agents;
        xfer_init(&a->x, a);
        a->x.base = f->o.urls[i % f->o.n_urls];
    }
    return 0;
}

static void fleet_free(struct fleet *f)
{
    for (int i = 0; f->agents && i < f->o.agents; i++) {
        struct sim_agent *a = &f->agents[i];
        if (a->x.busy)
            curl_multi_remove_handle(f->multi, a->x.easy);
        xfer_free(&a->x);
        while (a->head)
            pop_batch(a);
        free(a->tests);
        json_decref(a->rounds);
        json_decref(a->paths);
    }
    if (f->reader.busy)
        curl_multi_remove_handle(f->multi, f->reader.easy);
    xfer_free(&f->reader);
    free(f->agents);
    curl_multi_cleanup(f->multi);
    lat_free(&f->ack);
    for (int i = 0; i < RD__N; i++)
        lat_free(&f->read_lat[i]);
}

/* Every minute while it runs: the server's RSS and CPU so far, the
 * results acked and the machine's load (the flat-RSS goal). */
static void print_minute(const struct fleet *f, const struct samples *s, int minute)
{
    struct proc_sample p = servers_read(&f->o);
    double load = -1;
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf", &load) != 1)
            load = -1;
        fclose(la);
    }
    printf("minute %d: server RSS %.1f MiB, CPU %.1f s, %llu results acked, load %.2f\n", minute,
           (double)p.rss_kb / 1024, p.cpu_s - s->start.cpu_s,
           (unsigned long long)f->c.results_acked, load);
    fflush(stdout);
}

static void fleet_run(struct fleet *f, struct samples *s)
{
    s->t0 = now_ms();
    s->start = servers_read(&f->o);
    int64_t end = s->t0 + (int64_t)f->o.seconds * 1000, mid = s->t0 + (end - s->t0) / 2;
    bool have_mid = false;
    int minute = 0;
    int64_t t;
    while ((t = now_ms()) < end) {
        fleet_step(f, t, false);
        if (t >= s->t0 + (int64_t)(minute + 1) * 60000)
            print_minute(f, s, ++minute);
        if (!have_mid && t >= mid) {
            s->mid = servers_read(&f->o);
            have_mid = true;
        }
    }
    s->t1 = now_ms();
    s->end = servers_read(&f->o);
    /* send what was cut (up to 10 s), so accepted == made when the server kept up */
    while (!fleet_idle(f) && now_ms() < end + 10000)
        fleet_step(f, now_ms(), true);
}

int main(int argc, char **argv)
{
    struct fleet f;
    memset(&f, 0, sizeof f);
    if (parse_opts(argc, argv, &f.o))
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = 1;
    if (fleet_init(&f) == 0) {
        struct samples s;
        memset(&s, 0, sizeof s);
        fleet_run(&f, &s);
        fleet_report(&f, &s);
        rc = 0;
    } else {
        fprintf(stderr, "fleet: out of memory\n");
    }
    fleet_free(&f);
    curl_global_cleanup();
    return rc;
}
