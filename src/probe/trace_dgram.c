/* trace_dgram.c: UDP and ICMP trace probes -- one datagram socket, all
 * probes of a round at once, answers from the error queue (IP_RECVERR), ICMP
 * echo replies, or a raw ICMP socket where ping sockets are not allowed. */
#include "probe/trace_internal.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/clock.h"
#include "probe/icmp_parse.h"

static const uint8_t trace_magic[4] = {'C', 'M', 'T', 'R'};

uint16_t probe_trace_icmp_balance(uint16_t seq)
{
    return (uint16_t)~seq;
}

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
    trace_record(t, (seq & 63) + 1, sent, from, dest);
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
        uint8_t want = trace_is_v6(t) ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY;
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
        if (icmp_parse(t->dst.ss_family, !trace_is_v6(t), buf, (size_t)n, &m) != CMON_OK ||
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
        bool v6 = trace_is_v6(t);
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
        if (!trace_is_v6(t)) { /* IPv6's checksum is the kernel's (pseudo-header) */
            rawpkt[2] = rawpkt[3] = 0;
            uint16_t ck = icmp_checksum(rawpkt, len);
            rawpkt[2] = (uint8_t)(ck >> 8);
            rawpkt[3] = (uint8_t)ck;
        }
        out = rawpkt;
    } else if (t->o.proto == PROBE_TRACE_ICMP) {
        pkt[0] = trace_is_v6(t) ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
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
    if (trace_set_ttl(t, t->fd, ttl) != 0) {
        trace_socket_failed(t, "setsockopt TTL", errno);
        return false;
    }
    /* An ICMP error that came back for an earlier probe is reported once by
     * the next send(), which then sends nothing: read it, send again. */
    ssize_t n = sendto(t->fd, out, len, MSG_DONTWAIT, t->raw ? (struct sockaddr *)&t->dst : NULL,
                       t->raw ? t->dstlen : 0);
    for (int retry = 0; n < 0 && retry < 3; retry++) {
        int err = errno;
        if (err == ENETUNREACH || err == EACCES || err == EPERM) {
            trace_socket_failed(t, "send", err);
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
        trace_finish(t);
}

void trace_dgram_begin(struct probe_trace *t)
{
    bool icmp = t->o.proto == PROBE_TRACE_ICMP;
    int proto = icmp ? (trace_is_v6(t) ? IPPROTO_ICMPV6 : IPPROTO_ICMP) : IPPROTO_UDP;
    t->fd = socket(t->dst.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (t->fd < 0 && icmp && (errno == EACCES || errno == EPERM)) {
        /* no ping sockets for this group: raw, where CAP_NET_RAW allows */
        t->fd = socket(t->dst.ss_family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
        t->raw = t->fd >= 0;
        if (!t->raw)
            errno = EACCES;
    }
    if (t->fd < 0) {
        trace_socket_failed(t, icmp ? "ICMP socket (allow it with sysctl net.ipv4.ping_group_range, "
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
        if (trace_is_v6(t))
            probe_icmp6_raw_filter(t->fd);
    }
    /* a connected raw socket would only hear the destination, not routers */
    if (!t->raw && (trace_set_recverr(t, t->fd) != 0 ||
                    connect(t->fd, (struct sockaddr *)&t->dst, t->dstlen) != 0)) {
        trace_socket_failed(t, "trace socket", errno);
        return;
    }
    if (!trace_watch(t, UV_READABLE, dgram_poll_cb)) {
        trace_socket_failed(t, "trace socket watch", ENOMEM);
        return;
    }
    uv_timer_start(&t->timer, dgram_tick, 0, (uint64_t)t->o.interval_ms);
}
