/* trace_internal.h: what the parts of the traceroute share (trace.h is the
 * interface).  trace.c: the trace's life (start, DNS, end, delivery, hop
 * names, its socket and timer handles); trace_hops.c: per-hop statistics;
 * trace_dgram.c: UDP and ICMP probes (one datagram socket, error queue or
 * raw ICMP); trace_tcp.c: TCP SYN probes.  Loop thread only, as trace.h. */
#ifndef CMON_PROBE_TRACE_INTERNAL_H
#define CMON_PROBE_TRACE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "probe/probe_internal.h"
#include "probe/trace.h"

#define TRACE_MAX_TTL 64
#define TRACE_UDP_PORT 33434

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

static inline bool trace_is_v6(const struct probe_trace *t)
{
    return t->dst.ss_family == AF_INET6;
}

/* trace.c */
/* Watch t->fd for events with cb; false when out of memory. */
bool trace_watch(struct probe_trace *t, int events, uv_poll_cb cb);
/* Stop watching and close t->fd (if any). */
void trace_close_socket(struct probe_trace *t);
int trace_set_ttl(struct probe_trace *t, int fd, int ttl);
int trace_set_recverr(struct probe_trace *t, int fd);
/* Fill the path from the hops, name them, deliver, release (once). */
void trace_finish(struct probe_trace *t);
/* trace_finish on a later loop turn: the caller may be inside a c-ares or
 * libuv callback that must not see the engine closed under it. */
void trace_finish_later(struct probe_trace *t);
/* End the trace with the diagnostic of err during what. */
void trace_socket_failed(struct probe_trace *t, const char *what, int err);

/* trace_hops.c */
/* An answer for the probe of ttl sent at sent_ns, from addr. */
void trace_record(struct probe_trace *t, int ttl, int64_t sent_ns, const char *addr, bool dest);
/* Loss and min/avg/max/jitter RTT of one hop. */
void trace_fill_hop(struct cmon_hop *h, int ttl, const struct trace_hop_acc *a);

/* trace_dgram.c, trace_tcp.c: send the probes once the destination is known. */
void trace_dgram_begin(struct probe_trace *t);
void trace_tcp_begin(struct probe_trace *t);

#endif
