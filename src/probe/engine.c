/* engine.c: the probe engine -- resolves a check's host (IP literals without
 * DNS, names through dns.c's cache or c-ares), then hands the address to the
 * protocol's ops->start.  Also owns what the protocol files share: deferred
 * result delivery (one uv_timer) and the handle count that tells close when
 * the loop is done with every handle. */
#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/clock.h"
#include "probe/diagnostics.h"
#include "probe/dns.h"
#include "probe/probe_internal.h"

static const struct probe_ops *const probe_ops_table[CMON_N_PROTOCOLS] = {
    [CMON_PROTO_ICMP] = &probe_icmp_ops,
    [CMON_PROTO_TCP] = &probe_tcp_ops,
    [CMON_PROTO_HTTP] = &probe_http_ops,
};

struct probe_defer {
    struct probe_defer *next;
    probe_check_cb cb;
    void *arg;
    struct probe_check_result res;
};

struct probe_engine_core {
    uv_timer_t defer_timer; /* closed last: its close callback frees the engine */
    struct probe_defer *defer_head, *defer_tail;
    unsigned handles; /* open uv handles of the protocol files */
    bool closing, finalizing;
    void (*done)(void *arg);
    void *done_arg;
};

/* A check waiting for DNS: owns a deep copy of the caller's target. */
struct dns_wait {
    struct probe_engine *eng;
    const struct probe_ops *ops;
    struct probe_target t; /* probe_target_dup */
    probe_check_cb cb;
    void *arg;
    int64_t start_ns;
    double dns_ms;
};

void probe_result_init(struct probe_check_result *r)
{
    memset(r, 0, sizeof *r);
    r->dns_ms = r->connect_ms = r->tls_ms = r->first_byte_ms = -1;
}

void probe_result_fail(struct probe_check_result *r, enum cmon_diag d, const char *fmt, ...)
{
    r->ok = false;
    r->rtt_ms = 0;
    r->diag = d;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
}

void probe_result_errno(struct probe_check_result *r, const char *what, int err)
{
    probe_result_fail(r, probe_diag_map(PROBE_DIAG_ERRNO, err), "%s: errno %d (%s)", what, err,
                      strerror(err));
}

void probe_addr_format(const struct sockaddr *sa, char *out, size_t outlen)
{
    const void *a = sa->sa_family == AF_INET6
                        ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    if (!inet_ntop(sa->sa_family, a, out, (socklen_t)outlen) && outlen)
        out[0] = '\0';
}

/* --- deferred delivery and close accounting --- */

static void defer_drain(struct probe_engine *eng)
{
    struct probe_engine_core *c = eng->core;
    while (c->defer_head) {
        struct probe_defer *d = c->defer_head;
        c->defer_head = d->next;
        if (!c->defer_head)
            c->defer_tail = NULL;
        d->cb(d->arg, &d->res);
        free(d);
    }
}

static void defer_timer_cb(uv_timer_t *t)
{
    defer_drain(t->data);
}

void probe_complete_later(struct probe_engine *eng, probe_check_cb cb, void *arg,
                          const struct probe_check_result *res)
{
    struct probe_engine_core *c = eng->core;
    struct probe_defer *d = malloc(sizeof *d);
    if (!d) { /* cannot queue: deliver now rather than lose the check */
        cb(arg, res);
        return;
    }
    d->next = NULL;
    d->cb = cb;
    d->arg = arg;
    d->res = *res;
    if (c->defer_tail)
        c->defer_tail->next = d;
    else
        c->defer_head = d;
    c->defer_tail = d;
    if (!c->finalizing)
        uv_timer_start(&c->defer_timer, defer_timer_cb, 0, 0);
}

static void engine_final_closed(uv_handle_t *h)
{
    struct probe_engine *eng = h->data;
    struct probe_engine_core *c = eng->core;
    defer_drain(eng);
    void (*done)(void *) = c->done;
    void *arg = c->done_arg;
    free(c);
    free(eng);
    if (done)
        done(arg);
}

static void maybe_finalize(struct probe_engine *eng)
{
    struct probe_engine_core *c = eng->core;
    if (!c->closing || c->handles > 0 || c->finalizing)
        return;
    defer_drain(eng);
    c->finalizing = true;
    uv_close((uv_handle_t *)&c->defer_timer, engine_final_closed);
}

void probe_handle_opened(struct probe_engine *eng)
{
    eng->core->handles++;
}

void probe_handle_closed(struct probe_engine *eng)
{
    eng->core->handles--;
    maybe_finalize(eng);
}

bool probe_engine_closing(const struct probe_engine *eng)
{
    return eng->core->closing;
}

enum cmon_err probe_engine_new(uv_loop_t *loop, const struct probe_engine_opts *opts,
                               struct probe_engine **out, struct cmon_errbuf *eb)
{
    struct probe_engine *eng = calloc(1, sizeof *eng);
    struct probe_engine_core *c = calloc(1, sizeof *c);
    if (!eng || !c) {
        free(eng);
        free(c);
        return cmon_fail(eb, CMON_ERR_NOMEM, "probe engine: out of memory");
    }
    eng->loop = loop;
    if (opts)
        eng->opts = *opts;
    eng->core = c;
    enum cmon_err err = probe_dns_new(eng, eb);
    if (err != CMON_OK) {
        free(c);
        free(eng);
        return err;
    }
    uv_timer_init(loop, &c->defer_timer);
    c->defer_timer.data = eng;
    *out = eng;
    return CMON_OK;
}

void probe_engine_close(struct probe_engine *eng, void (*done)(void *arg), void *arg)
{
    struct probe_engine_core *c = eng->core;
    if (c->closing)
        return;
    c->closing = true;
    c->done = done;
    c->done_arg = arg;
    for (size_t i = 0; i < CMON_N_PROTOCOLS; i++)
        probe_ops_table[i]->close(eng);
    /* a lookup cancelled here ends deferred (closing: it starts no check) */
    probe_dns_close(eng);
    maybe_finalize(eng);
}

/* --- starting a check --- */

const struct probe_ops *probe_ops_of(enum cmon_protocol proto)
{
    return (unsigned)proto < CMON_N_PROTOCOLS ? probe_ops_table[proto] : NULL;
}

/* IP literal ("198.18.1.2", "fd00::2", "[fd00::2]") -> sockaddr; false if a name. */
static bool parse_ip_literal(const char *host, uint16_t port, struct sockaddr_storage *ss,
                             socklen_t *len)
{
    char buf[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof buf) {
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
        host = buf;
    }
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        *len = sizeof *s4;
        return true;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        *len = sizeof *s6;
        return true;
    }
    return false;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static bool family_refused(const struct probe_target *t, int family)
{
    return t->ip_strict && ((t->ip_pref == CMON_IP_V4 && family != AF_INET) ||
                            (t->ip_pref == CMON_IP_V6 && family != AF_INET6));
}

static void dns_wait_free(struct dns_wait *w)
{
    probe_target_free(&w->t);
    free(w);
}

static struct dns_wait *dns_wait_new(struct probe_engine *eng, const struct probe_ops *ops,
                                     const struct probe_target *t, probe_check_cb cb, void *arg)
{
    struct dns_wait *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    if (probe_target_dup(&w->t, t) != CMON_OK) {
        free(w);
        return NULL;
    }
    w->eng = eng;
    w->ops = ops;
    w->cb = cb;
    w->arg = arg;
    w->start_ns = cmon_mono_ns();
    return w;
}

/* Failures go through the deferred queue: c-ares may answer synchronously
 * (hosts file, bad name) while probe_check_start is still on the stack. */
static void dns_wait_finish(struct dns_wait *w, const struct probe_check_result *res)
{
    probe_complete_later(w->eng, w->cb, w->arg, res);
    dns_wait_free(w);
}

/* Wraps the protocol's callback to add the DNS phase the engine measured. */
static void after_dns_check_done(void *arg, const struct probe_check_result *res)
{
    struct dns_wait *w = arg;
    struct probe_check_result r = *res;
    if (r.dns_ms < 0)
        r.dns_ms = w->dns_ms;
    w->cb(w->arg, &r);
    dns_wait_free(w);
}

static void dns_fail(struct dns_wait *w, int status)
{
    struct probe_check_result r;
    probe_result_init(&r);
    if (status == ARES_ECANCELLED)
        probe_result_fail(&r, CMON_DIAG_TIMEOUT, "cancelled");
    else if (status == ARES_ENODATA)
        probe_result_fail(&r, CMON_DIAG_NO_ADDRESS, "%s has no %saddress", w->t.host,
                          !w->t.ip_strict              ? ""
                          : w->t.ip_pref == CMON_IP_V6 ? "IPv6 "
                                                       : "IPv4 ");
    else
        probe_result_fail(&r, probe_diag_map(PROBE_DIAG_ARES, status), "resolving %s: %s",
                          w->t.host, probe_dns_status_text(status));
    dns_wait_finish(w, &r);
}

static void dns_done(void *arg, int status, const struct sockaddr *sa, socklen_t salen)
{
    struct dns_wait *w = arg;
    if (status != ARES_SUCCESS) {
        dns_fail(w, status);
        return;
    }
    int64_t elapsed = cmon_mono_ns() - w->start_ns;
    w->dns_ms = (double)elapsed / CMON_NS_PER_MS;
    struct probe_check_result r;
    probe_result_init(&r);
    int64_t left_ms = (int64_t)w->t.timeout_ms - elapsed / CMON_NS_PER_MS;
    if (left_ms <= 0) {
        probe_result_fail(&r, CMON_DIAG_DNS_TIMEOUT, "resolving %s took %.0f ms", w->t.host,
                          w->dns_ms);
        dns_wait_finish(w, &r);
        return;
    }
    struct sockaddr_storage ss;
    memcpy(&ss, sa, salen);
    set_port(&ss, w->t.port);
    struct probe_target t = w->t;
    t.timeout_ms = (uint32_t)left_ms;
    enum cmon_err err =
        w->ops->start(w->eng, &t, (struct sockaddr *)&ss, salen, after_dns_check_done, w);
    if (err != CMON_OK) {
        probe_result_fail(&r, CMON_DIAG_SOCKET_ERROR, "%s check: %s", w->ops->name,
                          cmon_strerror(err));
        dns_wait_finish(w, &r);
    }
}

enum cmon_err probe_check_start(struct probe_engine *eng, const struct probe_target *t,
                                probe_check_cb cb, void *arg)
{
    if (eng->core->closing)
        return CMON_ERR_INVALID;
    const struct probe_ops *ops = probe_ops_of(t->proto);
    if (!ops)
        return CMON_ERR_UNSUPPORTED;
    if (!t->host || !*t->host || t->timeout_ms == 0)
        return CMON_ERR_INVALID;
    struct sockaddr_storage ss;
    socklen_t len;
    bool literal = parse_ip_literal(t->host, t->port, &ss, &len);
    if (literal || probe_dns_cached(eng, t->host, t->ip_pref, t->ip_strict, &ss, &len)) {
        if (literal && family_refused(t, ss.ss_family)) {
            struct probe_check_result r;
            probe_result_init(&r);
            probe_result_fail(&r, CMON_DIAG_NO_ADDRESS, "%s is not an IPv%c address", t->host,
                              t->ip_pref == CMON_IP_V6 ? '6' : '4');
            probe_complete_later(eng, cb, arg, &r);
            return CMON_OK;
        }
        set_port(&ss, t->port);
        return ops->start(eng, t, (struct sockaddr *)&ss, len, cb, arg);
    }
    if (!cmon_hostname_valid(t->host)) { /* never send a malformed name to a DNS server */
        struct probe_check_result r;
        probe_result_init(&r);
        probe_result_fail(&r, CMON_DIAG_URL_INVALID, "'%.100s' is not a valid host name", t->host);
        probe_complete_later(eng, cb, arg, &r);
        return CMON_OK;
    }
    struct dns_wait *w = dns_wait_new(eng, ops, t, cb, arg);
    if (!w)
        return CMON_ERR_NOMEM;
    probe_dns_resolve(eng, w->t.host, t->ip_pref, t->ip_strict, dns_done, w);
    return CMON_OK;
}
