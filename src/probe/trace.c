/* trace.c: Paris-style traceroute (UDP, ICMP, TCP) on the engine's loop --
 * the trace's life: options, DNS, the socket and timer handles, the end
 * (path, hop names, delivery) and freeing.  Probes: trace_dgram.c,
 * trace_tcp.c; per-hop statistics: trace_hops.c. */
#include "probe/trace_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "probe/diagnostics.h"
#include "probe/dns.h"

static void trace_free_if_done(struct probe_trace *t)
{
    if (t->open_handles > 0)
        return;
    for (int i = 0; i < TRACE_MAX_TTL; i++)
        free(t->hops[i].rtt);
    free(t->sent_ns);
    free(t);
}

static void timer_closed(uv_handle_t *h)
{
    struct probe_trace *t = h->data;
    probe_handle_closed(t->eng);
    t->open_handles--;
    trace_free_if_done(t);
}

static void poll_closed(uv_handle_t *h)
{
    struct trace_poll *p = h->data;
    struct probe_trace *t = p->t;
    free(p);
    probe_handle_closed(t->eng);
    t->open_handles--;
    trace_free_if_done(t);
}

bool trace_watch(struct probe_trace *t, int events, uv_poll_cb cb)
{
    struct trace_poll *p = calloc(1, sizeof *p);
    if (!p || uv_poll_init_socket(t->eng->loop, &p->h, t->fd) != 0) {
        free(p);
        return false;
    }
    p->t = t;
    p->h.data = p;
    t->poll = p;
    t->open_handles++;
    probe_handle_opened(t->eng);
    uv_poll_start(&p->h, events, cb);
    return true;
}

void trace_close_socket(struct probe_trace *t)
{
    if (t->poll) {
        uv_poll_stop(&t->poll->h);
        uv_close((uv_handle_t *)&t->poll->h, poll_closed);
        t->poll = NULL;
    }
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
}

static void release(struct probe_trace *t)
{
    trace_close_socket(t);
    uv_timer_stop(&t->timer);
    uv_close((uv_handle_t *)&t->timer, timer_closed);
}

static void deliver(struct probe_trace *t)
{
    if (!t->cancelled)
        t->cb(t->arg, &t->res);
    release(t);
}

static void deferred_deliver(uv_timer_t *h)
{
    deliver(h->data);
}

static void deliver_later(struct probe_trace *t)
{
    uv_timer_stop(&t->timer);
    uv_timer_start(&t->timer, deferred_deliver, 0, 0);
}

struct trace_name_req {
    struct probe_trace *t;
    size_t hop;
};

static void hop_named(void *arg, const char *name)
{
    struct trace_name_req *q = arg;
    struct probe_trace *t = q->t;
    if (name) { /* every hop with this address gets the name */
        const char *addr = t->res.path.hops[q->hop].address;
        for (size_t i = 0; i < t->res.path.n_hops; i++) {
            if (strcmp(t->res.path.hops[i].address, addr) == 0)
                snprintf(t->res.path.hops[i].name, sizeof t->res.path.hops[i].name, "%s", name);
        }
    }
    free(q);
    if (--t->names_pending == 0 && !t->naming)
        deliver_later(t); /* not from inside c-ares: the callee may close the engine */
}

/* Reverse names for the hops' distinct addresses; false when none is asked. */
static bool name_hops(struct probe_trace *t)
{
    struct cmon_path *p = &t->res.path;
    t->naming = true; /* answers may come synchronously (hosts file) */
    for (size_t i = 0; i < p->n_hops; i++) {
        bool seen = !p->hops[i].address[0];
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(p->hops[k].address, p->hops[i].address) == 0;
        struct sockaddr_storage ss = {0};
        socklen_t len = 0;
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        if (!seen && inet_pton(AF_INET, p->hops[i].address, &a4->sin_addr) == 1) {
            a4->sin_family = AF_INET;
            len = sizeof *a4;
        } else if (!seen && inet_pton(AF_INET6, p->hops[i].address, &a6->sin6_addr) == 1) {
            a6->sin6_family = AF_INET6;
            len = sizeof *a6;
        }
        struct trace_name_req *q = len ? malloc(sizeof *q) : NULL;
        if (!q)
            continue;
        *q = (struct trace_name_req){t, i};
        t->names_pending++;
        probe_dns_reverse(t->eng, (struct sockaddr *)&ss, len, hop_named, q);
    }
    t->naming = false;
    return t->names_pending > 0;
}

void trace_finish(struct probe_trace *t)
{
    if (t->finished)
        return;
    t->finished = true;
    struct probe_trace_result *r = &t->res;
    snprintf(r->address, sizeof r->address, "%s", t->dst_text);
    int last = t->reached_ttl ? t->reached_ttl : t->o.max_ttl;
    if (r->diag == CMON_DIAG_NONE) {
        r->path.reached = t->reached_ttl > 0;
        r->path.n_hops = (size_t)(last < CMON_MAX_HOPS ? last : CMON_MAX_HOPS);
        for (size_t i = 0; i < r->path.n_hops; i++)
            trace_fill_hop(&r->path.hops[i], (int)i + 1, &t->hops[i]);
    }
    trace_close_socket(t);
    uv_timer_stop(&t->timer);
    if (!t->cancelled && r->diag == CMON_DIAG_NONE && !t->o.numeric && name_hops(t))
        return; /* delivered when the names are in */
    deliver(t);
}

int trace_set_ttl(struct probe_trace *t, int fd, int ttl)
{
    if (trace_is_v6(t))
        return setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
    return setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
}

int trace_set_recverr(struct probe_trace *t, int fd)
{
    int on = 1;
    if (trace_is_v6(t))
        return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
    return setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
}

static void deferred_finish(uv_timer_t *h)
{
    trace_finish(h->data);
}

/* End the trace on a later loop turn: the caller may be inside a c-ares or
 * libuv callback that must not see the engine closed under it. */
void trace_finish_later(struct probe_trace *t)
{
    uv_timer_stop(&t->timer);
    uv_timer_start(&t->timer, deferred_finish, 0, 0);
}

void trace_socket_failed(struct probe_trace *t, const char *what, int err)
{
    struct probe_check_result tmp;
    probe_result_init(&tmp);
    probe_result_errno(&tmp, what, err);
    t->res.diag = tmp.diag;
    snprintf(t->res.detail, sizeof t->res.detail, "%s", tmp.detail);
    trace_close_socket(t);
    t->tcp_ttl = 0;
    trace_finish_later(t);
}

/* ---- start ---- */

static void begin(struct probe_trace *t)
{
    probe_addr_format((struct sockaddr *)&t->dst, t->dst_text, sizeof t->dst_text);
    if (t->o.proto == PROBE_TRACE_UDP) {
        uint16_t port = t->o.port ? t->o.port : TRACE_UDP_PORT;
        if (trace_is_v6(t))
            ((struct sockaddr_in6 *)&t->dst)->sin6_port = htons(port);
        else
            ((struct sockaddr_in *)&t->dst)->sin_port = htons(port);
    } else if (t->o.proto == PROBE_TRACE_TCP) {
        if (trace_is_v6(t))
            ((struct sockaddr_in6 *)&t->dst)->sin6_port = htons(t->o.port);
        else
            ((struct sockaddr_in *)&t->dst)->sin_port = htons(t->o.port);
    }
    if (t->o.proto == PROBE_TRACE_TCP)
        trace_tcp_begin(t);
    else
        trace_dgram_begin(t);
}

static void resolved(void *arg, int status, const struct sockaddr *sa, socklen_t salen)
{
    struct probe_trace *t = arg;
    if (t->cancelled) {
        trace_finish_later(t);
        return;
    }
    if (!sa) {
        t->res.diag = probe_diag_map(PROBE_DIAG_ARES, status);
        snprintf(t->res.detail, sizeof t->res.detail, "resolving %.100s failed (c-ares status %d)",
                 t->host, status);
        trace_finish_later(t);
        return;
    }
    memcpy(&t->dst, sa, salen);
    t->dstlen = salen;
    begin(t);
}

static int clamp(int v, int lo, int hi, int def)
{
    if (v == 0)
        return def;
    return v < lo ? lo : v > hi ? hi : v;
}

enum cmon_err probe_trace_start(struct probe_engine *eng, const struct probe_trace_opts *opts,
                                probe_trace_cb cb, void *arg, struct probe_trace **out,
                                struct cmon_errbuf *eb)
{
    if (!opts->host || strlen(opts->host) >= 256)
        return cmon_fail(eb, CMON_ERR_INVALID, "trace: no host, or a host name too long");
    if (opts->proto == PROBE_TRACE_TCP && !opts->port)
        return cmon_fail(eb, CMON_ERR_INVALID, "trace: TCP needs a port");
    struct probe_trace *t = calloc(1, sizeof *t);
    if (!t)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    t->eng = eng;
    t->o = *opts;
    t->o.max_ttl = clamp(opts->max_ttl, 1, TRACE_MAX_TTL, 30);
    t->o.probes_per_hop = clamp(opts->probes_per_hop, 1, 1000, 3);
    t->o.timeout_ms = clamp(opts->timeout_ms, 10, 60000, 1000);
    t->o.interval_ms = clamp(opts->interval_ms, 1, 60000, 100);
    snprintf(t->host, sizeof t->host, "%s", opts->host);
    t->o.host = t->host;
    t->cb = cb;
    t->arg = arg;
    t->fd = -1;
    t->sent_ns = calloc((size_t)t->o.probes_per_hop << 6, sizeof *t->sent_ns);
    bool ok = t->sent_ns != NULL;
    for (int i = 0; ok && i < t->o.max_ttl; i++)
        ok = (t->hops[i].rtt = calloc((size_t)t->o.probes_per_hop, sizeof(double))) != NULL;
    if (!ok) {
        for (int i = 0; i < TRACE_MAX_TTL; i++)
            free(t->hops[i].rtt);
        free(t->sent_ns);
        free(t);
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    }
    uv_timer_init(eng->loop, &t->timer);
    t->timer.data = t;
    t->open_handles = 1;
    probe_handle_opened(eng);
    probe_dns_resolve(eng, t->host, opts->ip_pref, false, resolved, t);
    if (out)
        *out = t;
    return CMON_OK;
}

void probe_trace_cancel(struct probe_trace *t)
{
    t->cancelled = true;
    /* past DNS: release now; else when the lookup (or the hop names) return */
    if (t->dstlen && !t->finished)
        trace_finish(t);
}
