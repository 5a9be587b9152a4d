/* trace_tcp.c: TCP trace probes -- one SYN at a time from one source port;
 * a SYN-ACK or RST is the destination, ICMP on the error queue a router. */
#include "probe/trace_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <unistd.h>

#include "core/clock.h"

static void tcp_next(struct probe_trace *t);

static void tcp_answer(struct probe_trace *t, const char *from, bool dest)
{
    int ttl = t->tcp_ttl;
    t->tcp_ttl = 0;
    trace_close_socket(t);
    if (from)
        trace_record(t, ttl, t->tcp_sent_ns, from, dest);
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
        trace_socket_failed(t, "TCP socket", errno);
        return false;
    }
    int on = 1;
    struct linger lg = {1, 0}; /* close with RST: no TIME_WAIT, port reusable */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    struct sockaddr_storage src = {0};
    src.ss_family = t->dst.ss_family;
    socklen_t srclen = trace_is_v6(t) ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (trace_is_v6(t))
        ((struct sockaddr_in6 *)&src)->sin6_port = htons(t->tcp_port);
    else
        ((struct sockaddr_in *)&src)->sin_port = htons(t->tcp_port);
    if (bind(fd, (struct sockaddr *)&src, srclen) != 0 || trace_set_ttl(t, fd, ttl) != 0 ||
        trace_set_recverr(t, fd) != 0) {
        int saved = errno;
        close(fd);
        trace_socket_failed(t, "TCP trace socket", saved);
        return false;
    }
    if (!t->tcp_port) { /* the first probe picks the flow's source port */
        getsockname(fd, (struct sockaddr *)&src, &srclen);
        t->tcp_port = ntohs(trace_is_v6(t) ? ((struct sockaddr_in6 *)&src)->sin6_port
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
        trace_socket_failed(t, "connect", err);
        return false;
    }
    if (!trace_watch(t, UV_WRITABLE, tcp_poll_cb))
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
                trace_finish_later(t); /* may be inside the DNS callback */
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

void trace_tcp_begin(struct probe_trace *t)
{
    uv_timer_start(&t->timer, tcp_tick, 10, 10);
    tcp_next(t);
}
