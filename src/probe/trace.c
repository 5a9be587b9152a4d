/* trace.c: Paris-style traceroute (UDP, ICMP, TCP) on the engine's loop. */
#include "probe/trace.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <arpa/inet.h>
#include <math.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/clock.h"
#include "probe/diagnostics.h"
#include "probe/icmp_parse.h"
#include "probe/dns.h"
#include "model/result.h"
#include "probe/probe_internal.h"

#define TRACE_MAX_TTL 64
#define TRACE_UDP_PORT 33434
static const uint8_t trace_magic[4] = {'C', 'M', 'T', 'R'};

struct trace_hop_acc {
    char addr[64];
    uint32_t sent, received;
    double *rtt; /* received samples, in probe order */
};

/* A poll handle per socket: TCP opens a new socket per probe, and a handle
 * cannot be reused before its close callback ran. */
struct trace_poll {
    uv_poll_t h;
    struct probe_trace *t;
};

struct probe_trace {
    struct probe_engine *eng;
    struct probe_trace_opts o;
    char host[256];
    probe_trace_cb cb;
    void *arg;
    struct sockaddr_storage dst;
    socklen_t dstlen;
    char dst_text[64];
    int fd;
    struct trace_poll *poll;  /* NULL when no socket is watched */
    uv_timer_t timer;
    bool cancelled, finished;
    bool naming;              /* name_hops is still asking */
    int names_pending;        /* reverse lookups not answered yet */
    int open_handles;         /* initialised handles not yet closed */
    uint16_t tcp_port;        /* TCP: the fixed source port */
    bool raw;                 /* ICMP over a raw socket (no ping sockets allowed) */
    uint16_t raw_id;          /* raw ICMP: our echo id */
    uint32_t raw_token;
    int round;                /* next round to send (datagram) */
    int reached_ttl;          /* smallest TTL the destination answered, 0: not yet */
    int tcp_ttl;              /* TCP: probe in flight (ttl), 0 when none */
    int64_t tcp_sent_ns;
    /* outstanding datagram probes: sent time by seq, 0 = not outstanding */
    int64_t *sent_ns;         /* [probes_per_hop << 6] */
    struct trace_hop_acc hops[TRACE_MAX_TTL];
    struct probe_trace_result res;
};

uint16_t probe_trace_icmp_balance(uint16_t seq)
{
    return (uint16_t)~seq;
}

static bool is_v6(const struct probe_trace *t)
{
    return t->dst.ss_family == AF_INET6;
}

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

static bool watch(struct probe_trace *t, int events, uv_poll_cb cb)
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

static void close_socket(struct probe_trace *t)
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
    close_socket(t);
    uv_timer_stop(&t->timer);
    uv_close((uv_handle_t *)&t->timer, timer_closed);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void fill_hop(struct cmon_hop *h, int ttl, const struct trace_hop_acc *a)
{
    memset(h, 0, sizeof *h);
    h->ttl = ttl;
    snprintf(h->address, sizeof h->address, "%s", a->addr);
    h->sent = a->sent;
    h->received = a->received;
    if (!a->received)
        return;
    double sum = 0, jit = 0;
    for (uint32_t i = 0; i < a->received; i++) {
        sum += a->rtt[i];
        if (i)
            jit += fabs(a->rtt[i] - a->rtt[i - 1]);
    }
    h->rtt_jitter_ms = a->received > 1 ? jit / (a->received - 1) : 0;
    double *s = malloc(a->received * sizeof *s);
    if (s) {
        memcpy(s, a->rtt, a->received * sizeof *s);
        qsort(s, a->received, sizeof *s, cmp_double);
        h->rtt_min_ms = s[0];
        h->rtt_max_ms = s[a->received - 1];
        free(s);
        h->rtt_avg_ms = cmon_rtt_mean(sum, a->received, h->rtt_min_ms, h->rtt_max_ms);
    } else {
        h->rtt_min_ms = h->rtt_max_ms = h->rtt_avg_ms = sum / a->received;
    }
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

static void finish(struct probe_trace *t)
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
            fill_hop(&r->path.hops[i], (int)i + 1, &t->hops[i]);
    }
    close_socket(t);
    uv_timer_stop(&t->timer);
    if (!t->cancelled && r->diag == CMON_DIAG_NONE && !t->o.numeric && name_hops(t))
        return; /* delivered when the names are in */
    deliver(t);
}

/* An answer for the probe of ttl sent at sent_ns, from addr. */
static void record(struct probe_trace *t, int ttl, int64_t sent_ns, const char *addr, bool dest)
{
    if (ttl < 1 || ttl > t->o.max_ttl)
        return;
    struct trace_hop_acc *h = &t->hops[ttl - 1];
    if (h->received < h->sent)
        h->rtt[h->received++] = (double)(cmon_mono_ns() - sent_ns) / 1e6;
    if (!h->addr[0] && addr[0])
        snprintf(h->addr, sizeof h->addr, "%s", addr);
    if (dest && (!t->reached_ttl || ttl < t->reached_ttl))
        t->reached_ttl = ttl;
}

static int set_ttl(struct probe_trace *t, int fd, int ttl)
{
    if (is_v6(t))
        return setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
    return setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
}

static int set_recverr(struct probe_trace *t, int fd)
{
    int on = 1;
    if (is_v6(t))
        return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
    return setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
}

static void deferred_finish(uv_timer_t *h)
{
    finish(h->data);
}

/* End the trace on a later loop turn: the caller may be inside a c-ares or
 * libuv callback that must not see the engine closed under it. */
static void finish_later(struct probe_trace *t)
{
    uv_timer_stop(&t->timer);
    uv_timer_start(&t->timer, deferred_finish, 0, 0);
}

static void socket_failed(struct probe_trace *t, const char *what, int err)
{
    struct probe_check_result tmp;
    probe_result_init(&tmp);
    probe_result_errno(&tmp, what, err);
    t->res.diag = tmp.diag;
    snprintf(t->res.detail, sizeof t->res.detail, "%s", tmp.detail);
    close_socket(t);
    t->tcp_ttl = 0;
    finish_later(t);
}

/* ---- UDP and ICMP: one datagram socket, all probes of a round at once ---- */

static uint16_t seq_of_payload(const uint8_t *p, size_t n, bool icmp, bool *ok)
{
    *ok = false;
    if (icmp) { /* the echo header: type, code, cksum, id, seq */
        if (n < 8)
            return 0;
        *ok = true;
        return (uint16_t)(p[6] << 8 | p[7]);
    }
    if (n < 6 || memcmp(p, trace_magic, 4) != 0)
        return 0;
    *ok = true;
    return (uint16_t)(p[4] << 8 | p[5]);
}

static void take_answer(struct probe_trace *t, uint16_t seq, const char *from, bool dest)
{
    size_t slots = (size_t)t->o.probes_per_hop << 6;
    if (seq >= slots || !t->sent_ns[seq])
        return; /* not ours, or already answered or timed out */
    int64_t sent = t->sent_ns[seq];
    t->sent_ns[seq] = 0;
    record(t, (seq & 63) + 1, sent, from, dest);
}

static void read_errqueue(struct probe_trace *t)
{
    struct probe_errq e;
    bool icmp = t->o.proto == PROBE_TRACE_ICMP;
    while (probe_errq_read(t->fd, &e)) {
        bool ok;
        uint16_t seq = seq_of_payload(e.data, e.data_len, icmp, &ok);
        if (!ok)
            continue;
        bool v6 = e.origin == SO_EE_ORIGIN_ICMP6;
        bool exceeded = v6 ? e.type == ICMP6_TIME_EXCEEDED : e.type == ICMP_TIME_EXCEEDED;
        bool port_unreach = v6 ? (e.type == ICMP6_DST_UNREACH && e.code == ICMP6_DST_UNREACH_NOPORT)
                               : (e.type == ICMP_DEST_UNREACH && e.code == ICMP_PORT_UNREACH);
        if (e.origin != SO_EE_ORIGIN_ICMP && e.origin != SO_EE_ORIGIN_ICMP6)
            continue;
        /* time exceeded: a router on the way; port unreachable from the
         * destination: arrived; other unreachables end the path where they
         * came from */
        bool dest = !exceeded && (port_unreach || strcmp(e.offender, t->dst_text) == 0);
        if (!exceeded && !dest) {
            take_answer(t, seq, e.offender, false);
            int ttl = (seq & 63) + 1;
            if (!t->reached_ttl || ttl < t->reached_ttl)
                t->reached_ttl = ttl; /* nothing goes beyond a rejecting hop */
            continue;
        }
        take_answer(t, seq, e.offender, dest);
    }
}

static void read_replies(struct probe_trace *t)
{
    uint8_t buf[256];
    for (;;) {
        ssize_t n = recv(t->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0)
            return;
        bool ok;
        uint16_t seq = seq_of_payload(buf, (size_t)n, true, &ok);
        uint8_t want = is_v6(t) ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY;
        if (ok && buf[0] == want)
            take_answer(t, seq, t->dst_text, true);
    }
}

/* Raw ICMP: every ICMP packet of the host arrives; ours carry our id (echo
 * replies) or quote a request with it (time exceeded, unreachable). */
static void read_raw(struct probe_trace *t)
{
    uint8_t buf[1500];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(t->fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from,
                             &fromlen);
        if (n < 0)
            return;
        struct icmp_msg m;
        if (icmp_parse(t->dst.ss_family, !is_v6(t), buf, (size_t)n, &m) != CMON_OK ||
            m.kind == ICMP_MSG_ECHO_REQUEST || m.id != t->raw_id)
            continue;
        if (m.has_token && m.token != t->raw_token)
            continue;
        char who[64];
        probe_addr_format((struct sockaddr *)&from, who, sizeof who);
        if (m.kind == ICMP_MSG_ECHO_REPLY) {
            take_answer(t, m.seq, who, strcmp(who, t->dst_text) == 0);
            continue;
        }
        bool v6 = is_v6(t);
        bool exceeded = v6 ? m.type == ICMP6_TIME_EXCEEDED : m.type == ICMP_TIME_EXCEEDED;
        take_answer(t, m.seq, who, false);
        int ttl = (m.seq & 63) + 1;
        if (!exceeded && (!t->reached_ttl || ttl < t->reached_ttl))
            t->reached_ttl = ttl; /* rejected here: nothing goes beyond */
    }
}

static void dgram_poll_cb(uv_poll_t *h, int status, int events)
{
    struct probe_trace *t = ((struct trace_poll *)h->data)->t;
    if (t->raw) {
        read_raw(t);
    } else {
        read_errqueue(t);
        if (t->o.proto == PROBE_TRACE_ICMP && (status < 0 || (events & UV_READABLE)))
            read_replies(t);
    }
    if (status < 0 && t->poll && !t->finished) /* libuv stops a poll handle on POLLERR */
        uv_poll_start(&t->poll->h, UV_READABLE, dgram_poll_cb);
}

/* false when the trace ended (a local error: no route, not permitted). */
static bool send_probe(struct probe_trace *t, int round, int ttl)
{
    uint16_t seq = probe_trace_seq(round, ttl);
    uint8_t pkt[16] = {0};
    size_t len;
    uint8_t rawpkt[ICMP_ECHO_LEN];
    const uint8_t *out = pkt;
    if (t->raw) {
        /* our id and token; the balance word sits in the payload's spare
         * bytes so the checksum stays the same for every probe */
        len = icmp_build_echo(t->dst.ss_family, t->raw_id, seq, t->raw_token, rawpkt,
                              sizeof rawpkt);
        uint16_t bal = probe_trace_icmp_balance(seq);
        rawpkt[16] = (uint8_t)(bal >> 8);
        rawpkt[17] = (uint8_t)bal;
        if (!is_v6(t)) { /* IPv6's checksum is the kernel's (pseudo-header) */
            rawpkt[2] = rawpkt[3] = 0;
            uint16_t ck = icmp_checksum(rawpkt, len);
            rawpkt[2] = (uint8_t)(ck >> 8);
            rawpkt[3] = (uint8_t)ck;
        }
        out = rawpkt;
    } else if (t->o.proto == PROBE_TRACE_ICMP) {
        pkt[0] = is_v6(t) ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
        pkt[6] = (uint8_t)(seq >> 8);
        pkt[7] = (uint8_t)seq;
        uint16_t bal = probe_trace_icmp_balance(seq);
        pkt[8] = (uint8_t)(bal >> 8);
        pkt[9] = (uint8_t)bal;
        len = 10;
    } else {
        memcpy(pkt, trace_magic, 4);
        pkt[4] = (uint8_t)(seq >> 8);
        pkt[5] = (uint8_t)seq;
        len = 6;
    }
    t->hops[ttl - 1].sent++;
    if (set_ttl(t, t->fd, ttl) != 0) {
        socket_failed(t, "setsockopt TTL", errno);
        return false;
    }
    /* An ICMP error that came back for an earlier probe is reported once by
     * the next send(), which then sends nothing: read it, send again. */
    ssize_t n = sendto(t->fd, out, len, MSG_DONTWAIT, t->raw ? (struct sockaddr *)&t->dst : NULL,
                       t->raw ? t->dstlen : 0);
    for (int retry = 0; n < 0 && retry < 3; retry++) {
        int err = errno;
        if (err == ENETUNREACH || err == EACCES || err == EPERM) {
            socket_failed(t, "send", err);
            return false;
        }
        read_errqueue(t);
        n = sendto(t->fd, out, len, MSG_DONTWAIT, t->raw ? (struct sockaddr *)&t->dst : NULL,
                   t->raw ? t->dstlen : 0);
    }
    if (n < 0)
        return true; /* counted as sent and lost */
    t->sent_ns[seq] = cmon_mono_ns();
    return true;
}

static bool outstanding(const struct probe_trace *t, int64_t now, int64_t timeout_ns,
                        bool expire)
{
    size_t slots = (size_t)t->o.probes_per_hop << 6;
    bool any = false;
    for (size_t s = 0; s < slots; s++) {
        if (!t->sent_ns[s])
            continue;
        if (expire && now - t->sent_ns[s] > timeout_ns)
            t->sent_ns[s] = 0;
        else
            any = true;
    }
    return any;
}

static void dgram_tick(uv_timer_t *h)
{
    struct probe_trace *t = h->data;
    int64_t now = cmon_mono_ns();
    outstanding(t, now, (int64_t)t->o.timeout_ms * CMON_NS_PER_MS, true);
    if (t->round < t->o.probes_per_hop) {
        int last = t->reached_ttl ? t->reached_ttl : t->o.max_ttl;
        for (int ttl = 1; ttl <= last; ttl++) {
            if (!send_probe(t, t->round, ttl))
                return;
        }
        t->round++;
        return;
    }
    if (!outstanding(t, now, 0, false))
        finish(t);
}

static void dgram_begin(struct probe_trace *t)
{
    bool icmp = t->o.proto == PROBE_TRACE_ICMP;
    int proto = icmp ? (is_v6(t) ? IPPROTO_ICMPV6 : IPPROTO_ICMP) : IPPROTO_UDP;
    t->fd = socket(t->dst.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (t->fd < 0 && icmp && (errno == EACCES || errno == EPERM)) {
        /* no ping sockets for this group: raw, where CAP_NET_RAW allows */
        t->fd = socket(t->dst.ss_family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
        t->raw = t->fd >= 0;
        if (!t->raw)
            errno = EACCES;
    }
    if (t->fd < 0) {
        socket_failed(t, icmp ? "ICMP socket (allow it with sysctl net.ipv4.ping_group_range, "
                                "or grant CAP_NET_RAW)" :
                                "UDP socket", errno);
        return;
    }
    if (t->raw) {
        uint8_t rnd[6];
        if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
            memcpy(rnd, &t, sizeof rnd < sizeof t ? sizeof rnd : sizeof t);
        t->raw_id = (uint16_t)(rnd[0] << 8 | rnd[1]);
        t->raw_token = (uint32_t)rnd[2] << 24 | (uint32_t)rnd[3] << 16 | rnd[4] << 8 | rnd[5];
        if (is_v6(t)) {
            struct icmp6_filter f;
            ICMP6_FILTER_SETBLOCKALL(&f);
            ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
            ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &f);
            ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &f);
            setsockopt(t->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f);
        }
    }
    /* a connected raw socket would only hear the destination, not routers */
    if (!t->raw && (set_recverr(t, t->fd) != 0 ||
                    connect(t->fd, (struct sockaddr *)&t->dst, t->dstlen) != 0)) {
        socket_failed(t, "trace socket", errno);
        return;
    }
    if (!watch(t, UV_READABLE, dgram_poll_cb)) {
        socket_failed(t, "trace socket watch", ENOMEM);
        return;
    }
    uv_timer_start(&t->timer, dgram_tick, 0, (uint64_t)t->o.interval_ms);
}

/* ---- TCP: one SYN at a time from one source port ---- */

static void tcp_next(struct probe_trace *t);

static void tcp_answer(struct probe_trace *t, const char *from, bool dest)
{
    int ttl = t->tcp_ttl;
    t->tcp_ttl = 0;
    close_socket(t);
    if (from)
        record(t, ttl, t->tcp_sent_ns, from, dest);
    tcp_next(t);
}

static void tcp_poll_cb(uv_poll_t *h, int status, int events)
{
    struct probe_trace *t = ((struct trace_poll *)h->data)->t;
    struct probe_errq e;
    if (probe_errq_read(t->fd, &e) &&
        (e.origin == SO_EE_ORIGIN_ICMP || e.origin == SO_EE_ORIGIN_ICMP6)) {
        bool v6 = e.origin == SO_EE_ORIGIN_ICMP6;
        bool exceeded = v6 ? e.type == ICMP6_TIME_EXCEEDED : e.type == ICMP_TIME_EXCEEDED;
        if (!exceeded && (!t->reached_ttl || t->tcp_ttl < t->reached_ttl))
            t->reached_ttl = t->tcp_ttl; /* rejected here: the path ends */
        tcp_answer(t, e.offender, false);
        return;
    }
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0 && (events & UV_WRITABLE) && status >= 0) {
        tcp_answer(t, t->dst_text, true); /* SYN-ACK */
        return;
    }
    if (err == ECONNREFUSED) {
        tcp_answer(t, t->dst_text, true); /* RST from the destination */
        return;
    }
    if (status < 0 && t->poll) /* an error we do not use: keep waiting */
        uv_poll_start(&t->poll->h, UV_WRITABLE, tcp_poll_cb);
}

static bool tcp_send(struct probe_trace *t, int ttl)
{
    int fd = socket(t->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        socket_failed(t, "TCP socket", errno);
        return false;
    }
    int on = 1;
    struct linger lg = {1, 0}; /* close with RST: no TIME_WAIT, port reusable */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    struct sockaddr_storage src = {0};
    src.ss_family = t->dst.ss_family;
    socklen_t srclen = is_v6(t) ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (is_v6(t))
        ((struct sockaddr_in6 *)&src)->sin6_port = htons(t->tcp_port);
    else
        ((struct sockaddr_in *)&src)->sin_port = htons(t->tcp_port);
    if (bind(fd, (struct sockaddr *)&src, srclen) != 0 || set_ttl(t, fd, ttl) != 0 ||
        set_recverr(t, fd) != 0) {
        int saved = errno;
        close(fd);
        socket_failed(t, "TCP trace socket", saved);
        return false;
    }
    if (!t->tcp_port) { /* the first probe picks the flow's source port */
        getsockname(fd, (struct sockaddr *)&src, &srclen);
        t->tcp_port = ntohs(is_v6(t) ? ((struct sockaddr_in6 *)&src)->sin6_port
                                     : ((struct sockaddr_in *)&src)->sin_port);
    }
    t->fd = fd;
    t->tcp_ttl = ttl;
    t->hops[ttl - 1].sent++;
    t->tcp_sent_ns = cmon_mono_ns();
    if (connect(fd, (struct sockaddr *)&t->dst, t->dstlen) != 0 && errno != EINPROGRESS) {
        int err = errno;
        if (err == ECONNREFUSED) { /* loopback answers at once */
            tcp_answer(t, t->dst_text, true);
            return true;
        }
        t->tcp_ttl = 0;
        socket_failed(t, "connect", err);
        return false;
    }
    if (!watch(t, UV_WRITABLE, tcp_poll_cb))
        tcp_answer(t, NULL, false);
    return true;
}

/* Round 0 walks up until the destination answers; later rounds repeat the
 * hops 1..destination. */
static void tcp_next(struct probe_trace *t)
{
    for (;;) {
        int last = t->reached_ttl ? t->reached_ttl : t->o.max_ttl;
        int ttl = 1;
        while (ttl <= last && t->hops[ttl - 1].sent > (uint32_t)t->round)
            ttl++;
        if (ttl > last) {
            if (++t->round >= t->o.probes_per_hop) {
                finish_later(t); /* may be inside the DNS callback */
                return;
            }
            continue;
        }
        if (tcp_send(t, ttl))
            return;
        return; /* socket_failed finished the trace */
    }
}

static void tcp_tick(uv_timer_t *h)
{
    struct probe_trace *t = h->data;
    if (t->tcp_ttl && cmon_mono_ns() - t->tcp_sent_ns > (int64_t)t->o.timeout_ms * CMON_NS_PER_MS)
        tcp_answer(t, NULL, false); /* silent */
}

static void tcp_begin(struct probe_trace *t)
{
    uv_timer_start(&t->timer, tcp_tick, 10, 10);
    tcp_next(t);
}

/* ---- start ---- */

static void begin(struct probe_trace *t)
{
    probe_addr_format((struct sockaddr *)&t->dst, t->dst_text, sizeof t->dst_text);
    if (t->o.proto == PROBE_TRACE_UDP) {
        uint16_t port = t->o.port ? t->o.port : TRACE_UDP_PORT;
        if (is_v6(t))
            ((struct sockaddr_in6 *)&t->dst)->sin6_port = htons(port);
        else
            ((struct sockaddr_in *)&t->dst)->sin_port = htons(port);
    } else if (t->o.proto == PROBE_TRACE_TCP) {
        if (is_v6(t))
            ((struct sockaddr_in6 *)&t->dst)->sin6_port = htons(t->o.port);
        else
            ((struct sockaddr_in *)&t->dst)->sin_port = htons(t->o.port);
    }
    if (t->o.proto == PROBE_TRACE_TCP)
        tcp_begin(t);
    else
        dgram_begin(t);
}

static void resolved(void *arg, int status, const struct sockaddr *sa, socklen_t salen)
{
    struct probe_trace *t = arg;
    if (t->cancelled) {
        finish_later(t);
        return;
    }
    if (!sa) {
        t->res.diag = probe_diag_map(PROBE_DIAG_ARES, status);
        snprintf(t->res.detail, sizeof t->res.detail, "resolving %.100s failed (c-ares status %d)",
                 t->host, status);
        finish_later(t);
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
        finish(t);
}
