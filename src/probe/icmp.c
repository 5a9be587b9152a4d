/* icmp.c: ICMP echo checks, IPv4 and IPv6, one socket per family shared by
 * every check.  Unprivileged datagram ICMP sockets first (the kernel picks the
 * echo id and routes replies and, via IP_RECVERR, ICMP errors to us); raw
 * sockets when those are not allowed but CAP_NET_RAW is held; otherwise a
 * permission_denied result that says how to fix it.  Checks are found by
 * sequence number, and a reply counts only with the check's random token and
 * from the checked address. */
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <unistd.h>

#include "core/clock.h"
#include "probe/diagnostics.h"
#include "probe/icmp_parse.h"
#include "probe/probe_internal.h"

#define ICMP_SEQ_SPACE 65536
/* Packets read per wake-up: every reply queued (a loop that leaves replies
 * in the queue while it sends more overflows it), but a bound, because a raw
 * socket sees every ICMP packet of the host and a flood must not hold the
 * loop.  4 MiB of queue holds about this many small replies. */
#define ICMP_RECV_BATCH 4096
/* Checks in flight the scheduler admits: half the sequence space (both
 * families count against it), so next_free_seq always finds a slot fast. */
#define ICMP_MAX_INFLIGHT (ICMP_SEQ_SPACE / 2)
#define ICMP_RCVBUF (4 << 20)

struct icmp_sock;

struct icmp_check {
    struct probe_engine *eng;
    struct icmp_sock *s;
    struct icmp_check *prev, *next; /* the socket's deadline list */
    uint64_t deadline_ms;           /* loop time (uv_now) when the check times out */
    uint16_t seq;
    uint32_t token;
    struct sockaddr_storage dst;
    int64_t start_ns;      /* monotonic, for the fallback RTT */
    int64_t start_wall_ns; /* wall clock, to compare with kernel receive stamps */
    int64_t tx_wall_ns;    /* the kernel's transmit stamp (SO_TIMESTAMPING), 0 if none */
    uint32_t timeout_ms;
    uint32_t dropped_at_start; /* the socket's rx_dropped when sent */
    probe_check_cb cb;
    void *arg;
    struct probe_check_result res;
};

struct icmp_sock {
    struct probe_icmp *icmp;
    int family;
    int fd; /* -1: not open */
    bool raw;
    bool warned; /* permission_denied logged once */
    uv_poll_t poll;
    /* One timer for every check of the socket instead of one each: checks
     * wait in deadline order (appended in O(1) when all have the same
     * timeout) and the timer is armed for the earliest; a finished check
     * just leaves the list, so the timer may fire early and re-arm. */
    uv_timer_t timer;
    uint64_t armed_ms; /* deadline the timer is armed for, 0: stopped */
    struct icmp_check *head, *tail;
    uint16_t id; /* raw sockets: ours; datagram: the kernel's */
    uint16_t next_seq;
    size_t n_inflight;
    struct icmp_check **inflight; /* by sequence number, ICMP_SEQ_SPACE slots */
    uint32_t rx_dropped;          /* SO_RXQ_OVFL: packets the full queue dropped */
    bool tx_stamps;               /* SO_TIMESTAMPING transmit stamps are on */
    uint32_t tx_key;              /* OPT_ID key of the next packet sent */
    uint16_t *key_seq;            /* OPT_ID key (low 16 bits) -> sequence number */
};

struct probe_icmp {
    struct probe_engine *eng;
    struct icmp_sock s4, s6;
    uint64_t rng;
    int open_socks; /* handles (each socket's poll and timer) not yet closed */
};

static uint32_t icmp_random(struct probe_icmp *ic)
{
    /* xorshift64* seeded from getrandom(): tokens must not be guessable by
     * someone who cannot see our packets; they need not be cryptographic */
    uint64_t x = ic->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ic->rng = x;
    return (uint32_t)((x * 2685821657736338717ULL) >> 32);
}

static const char icmp_perm_help[] =
    "ICMP sockets not permitted: allow them with "
    "sysctl -w net.ipv4.ping_group_range=\"0 2147483647\" or grant CAP_NET_RAW "
    "(setcap cap_net_raw+ep cmon)";

static const char *family_name(const struct icmp_sock *s)
{
    return s->family == AF_INET6 ? "ipv6" : "ipv4";
}

static void sock_setup(struct icmp_sock *s)
{
    /* Datagram sockets learn about ICMP errors through the error queue; raw
     * sockets receive the error packets themselves and parse the quote. */
    int one = 1;
    if (!s->raw)
        setsockopt(s->fd, s->family == AF_INET6 ? SOL_IPV6 : SOL_IP,
                   s->family == AF_INET6 ? IPV6_RECVERR : IP_RECVERR, &one, sizeof one);
    if (s->family == AF_INET6) {
        if (s->raw)
            probe_icmp6_raw_filter(s->fd);
    }
    /* Kernel receive timestamps: the RTT then excludes the time a reply
     * waited in the socket while the loop served other checks. */
    setsockopt(s->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    /* Kernel transmit stamps too, taken where the packet leaves for the
     * device: the RTT is then wire to wire, like a capture's (bench/rtt.sh).
     * Each stamp comes back on the error queue with a per-packet key. */
    int ts = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID |
             SOF_TIMESTAMPING_OPT_TSONLY;
    s->tx_key = 0;
    s->tx_stamps = (s->key_seq || (s->key_seq = calloc(ICMP_SEQ_SPACE, sizeof *s->key_seq))) &&
                   setsockopt(s->fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof ts) == 0;
    /* Bursts of replies from many checks: a big receive queue (beyond
     * rmem_max when CAP_NET_ADMIN allows), and a count of what it dropped so
     * a timeout can say that cmon, not the network, lost the reply. */
    int buf = ICMP_RCVBUF, got = 0;
    socklen_t len = sizeof got;
    if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) != 0)
        setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    if (getsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &got, &len) == 0 && got < buf)
        cmon_info(s->icmp->eng->opts.log,
                  "ICMP receive queue smaller than wanted (net.core.rmem_max; CAP_NET_ADMIN "
                  "lifts it): replies may be dropped at high check rates",
                  "family=%s want_kib=%d got_kib=%d", family_name(s), buf >> 10, got >> 10);
    setsockopt(s->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
}

static void icmp_poll_cb(uv_poll_t *h, int status, int events);
static void sock_timer_cb(uv_timer_t *t);
static void drain_replies(struct icmp_sock *s);

/* Open the family's socket; on failure fill r and return false. */
static bool sock_open(struct icmp_sock *s, struct probe_check_result *r)
{
    int proto = s->family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
    int fd = socket(s->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    bool raw = false;
    if (fd < 0 && (errno == EACCES || errno == EPERM)) {
        fd = socket(s->family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
        raw = true;
        if (fd < 0 && (errno == EACCES || errno == EPERM)) {
            probe_result_fail(r, CMON_DIAG_PERMISSION_DENIED, "%s", icmp_perm_help);
            if (!s->warned)
                cmon_warn(s->icmp->eng->opts.log, icmp_perm_help, "family=%s", family_name(s));
            s->warned = true;
            return false;
        }
        if (fd >= 0)
            cmon_info(s->icmp->eng->opts.log,
                      "ICMP datagram sockets not permitted: using raw sockets", "family=%s",
                      family_name(s));
    }
    if (fd < 0) {
        probe_result_errno(r, "ICMP socket", errno);
        return false;
    }
    if (!s->inflight && !(s->inflight = calloc(ICMP_SEQ_SPACE, sizeof *s->inflight))) {
        close(fd);
        probe_result_fail(r, CMON_DIAG_SOCKET_ERROR, "out of memory");
        return false;
    }
    s->fd = fd;
    s->raw = raw;
    s->id = (uint16_t)icmp_random(s->icmp);
    s->next_seq = (uint16_t)icmp_random(s->icmp);
    sock_setup(s);
    uv_poll_init_socket(s->icmp->eng->loop, &s->poll, fd);
    s->poll.data = s;
    uv_timer_init(s->icmp->eng->loop, &s->timer);
    s->timer.data = s;
    s->armed_ms = 0;
    probe_handle_opened(s->icmp->eng);
    probe_handle_opened(s->icmp->eng);
    s->icmp->open_socks += 2;
    uv_poll_start(&s->poll, UV_READABLE, icmp_poll_cb);
    return true;
}

/* Into the deadline list, from the tail: O(1) when timeouts are equal. */
static void deadline_insert(struct icmp_sock *s, struct icmp_check *c)
{
    struct icmp_check *after = s->tail;
    while (after && after->deadline_ms > c->deadline_ms)
        after = after->prev;
    c->prev = after;
    c->next = after ? after->next : s->head;
    if (c->next)
        c->next->prev = c;
    else
        s->tail = c;
    if (after)
        after->next = c;
    else
        s->head = c;
    if (!s->armed_ms || c->deadline_ms < s->armed_ms) {
        uint64_t now = uv_now(s->icmp->eng->loop);
        s->armed_ms = c->deadline_ms;
        uv_timer_start(&s->timer, sock_timer_cb, c->deadline_ms > now ? c->deadline_ms - now : 0,
                       0);
    }
}

static void deadline_remove(struct icmp_sock *s, struct icmp_check *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        s->tail = c->prev;
    c->prev = c->next = NULL;
}

/* The check leaves the socket, then its callback runs (which may start more
 * checks or close the engine), then it is freed. */
static void check_finish(struct icmp_check *c)
{
    struct icmp_sock *s = c->s;
    s->inflight[c->seq] = NULL;
    s->n_inflight--;
    deadline_remove(s, c);
    c->cb(c->arg, &c->res);
    free(c);
}

static void check_timeout(struct icmp_check *c)
{
    uint32_t dropped = c->s->rx_dropped - c->dropped_at_start;
    if (dropped)
        probe_result_fail(&c->res, CMON_DIAG_TIMEOUT,
                          "no echo reply within %u ms (this host's receive queue dropped %u "
                          "packets meanwhile)",
                          c->timeout_ms, dropped);
    else
        probe_result_fail(&c->res, CMON_DIAG_TIMEOUT, "no echo reply within %u ms", c->timeout_ms);
    check_finish(c);
}

/* Time out every check whose deadline has come, then re-arm for the next.
 * The queue is read first: libuv runs timers before polling, so a loop that
 * fell behind would otherwise time out checks whose replies (kernel-stamped
 * in time) are already waiting. */
static void sock_timer_cb(uv_timer_t *t)
{
    struct icmp_sock *s = t->data;
    drain_replies(s);
    if (s->fd < 0)
        return; /* a callback closed the engine */
    uint64_t now = uv_now(s->icmp->eng->loop);
    s->armed_ms = 0;
    while (s->head && s->head->deadline_ms <= now)
        check_timeout(s->head);
    if (s->fd >= 0 && s->head) {
        s->armed_ms = s->head->deadline_ms;
        uv_timer_start(&s->timer, sock_timer_cb, s->armed_ms - now, 0);
    }
}

static bool same_addr(const struct sockaddr_storage *a, const uint8_t *raw, int family)
{
    if (family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, raw, 16) == 0;
    return memcmp(&((const struct sockaddr_in *)a)->sin_addr, raw, 4) == 0;
}

static const uint8_t *sa_bytes(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
    return (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
}

/* The check a parsed message is about, or NULL when it is not one of ours. */
static struct icmp_check *match(struct icmp_sock *s, const struct icmp_msg *m)
{
    struct icmp_check *c = s->inflight[m->seq];
    if (!c || (s->raw && m->id != s->id))
        return NULL;
    if (m->has_token ? m->token != c->token : m->kind != ICMP_MSG_ERROR)
        return NULL; /* a reply must carry the token; an error may quote only 8 bytes */
    if (m->has_inner_dst && !same_addr(&c->dst, m->inner_dst, s->family))
        return NULL;
    return c;
}

static double reply_rtt_ms(const struct icmp_check *c, int64_t rx_wall_ns)
{
    int64_t elapsed = cmon_mono_ns() - c->start_ns;
    return (double)icmp_rtt_ns(c->tx_wall_ns, c->start_wall_ns, rx_wall_ns, elapsed) /
           CMON_NS_PER_MS;
}

static void handle_packet(struct icmp_sock *s, const uint8_t *buf, size_t n,
                          const struct sockaddr_storage *from, int64_t rx_wall_ns)
{
    struct icmp_msg m;
    bool iphdr = s->raw && s->family == AF_INET;
    if (icmp_parse(s->family, iphdr, buf, n, &m) != CMON_OK || m.kind == ICMP_MSG_ECHO_REQUEST)
        return;
    struct icmp_check *c = match(s, &m);
    if (!c)
        return;
    if (m.kind == ICMP_MSG_ECHO_REPLY) {
        if (from->ss_family != s->family || !same_addr(from, sa_bytes(&c->dst), s->family))
            return; /* right token from the wrong host: not an answer */
        double rtt = reply_rtt_ms(c, rx_wall_ns);
        if (rtt > c->timeout_ms) { /* read late (see sock_timer_cb): still too late */
            probe_result_fail(&c->res, CMON_DIAG_TIMEOUT,
                              "no echo reply within %u ms (one came after %.0f ms)", c->timeout_ms,
                              rtt);
        } else {
            c->res.ok = true;
            c->res.rtt_ms = rtt;
            c->res.diag = CMON_DIAG_NONE;
            c->res.detail[0] = '\0';
        }
    } else {
        char who[64];
        probe_addr_format((const struct sockaddr *)from, who, sizeof who);
        enum probe_diag_source src = s->family == AF_INET6 ? PROBE_DIAG_ICMP6 : PROBE_DIAG_ICMP4;
        probe_result_fail(&c->res, probe_diag_map(src, m.type << 8 | m.code),
                          "echo: ICMP%s type %d code %d from %s", s->family == AF_INET6 ? "v6" : "",
                          m.type, m.code, who);
    }
    check_finish(c);
}

/* A transmit stamp: its key says which packet; the check must still be in
 * flight and the stamp close to when we sent it (else it is not ours). */
static void take_tx_stamp(struct icmp_sock *s, const struct probe_errq *e)
{
    if (!s->key_seq || e->ts_ns <= 0)
        return;
    struct icmp_check *c = s->inflight[s->key_seq[e->ee_data & (ICMP_SEQ_SPACE - 1)]];
    if (c && !c->tx_wall_ns && e->ts_ns >= c->start_wall_ns - CMON_NS_PER_MS &&
        e->ts_ns <= c->start_wall_ns + CMON_NS_PER_SEC)
        c->tx_wall_ns = e->ts_ns;
}

/* Datagram sockets: ICMP errors about our requests arrive in the error queue,
 * quoting the request we sent (so its sequence number and token). */
static void drain_errqueue(struct icmp_sock *s)
{
    struct probe_errq e;
    for (int i = 0; i < ICMP_RECV_BATCH && probe_errq_read(s->fd, &e); i++) {
        if (e.origin == SO_EE_ORIGIN_TIMESTAMPING) {
            take_tx_stamp(s, &e);
            continue;
        }
        struct icmp_msg m;
        if (icmp_parse(s->family, false, e.data, e.data_len, &m) != CMON_OK ||
            m.kind != ICMP_MSG_ECHO_REQUEST)
            continue;
        /* The kernel delivered it to this socket by echo id; a router may
         * quote only 8 bytes of our request, so the token can be missing. */
        struct icmp_check *c = s->inflight[m.seq];
        if (!c || (m.has_token && m.token != c->token))
            continue;
        probe_result_errq(&c->res, "echo", &e);
        check_finish(c);
    }
}

/* One datagram with its kernel receive time; false when none is queued. */
static bool recv_one(struct icmp_sock *s)
{
    uint8_t buf[1500];
    char ctrl[256];
    struct sockaddr_storage from;
    memset(&from, 0, sizeof from);
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
    struct msghdr msg = {.msg_name = &from,
                         .msg_namelen = sizeof from,
                         .msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctrl,
                         .msg_controllen = sizeof ctrl};
    ssize_t n = recvmsg(s->fd, &msg, MSG_DONTWAIT);
    if (n < 0)
        return false;
    int64_t rx_wall = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_TIMESTAMPNS &&
            cm->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(cm), sizeof ts);
            rx_wall = (int64_t)ts.tv_sec * CMON_NS_PER_SEC + ts.tv_nsec;
        } else if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL &&
                   cm->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
            memcpy(&s->rx_dropped, CMSG_DATA(cm), sizeof s->rx_dropped);
        }
    }
    handle_packet(s, buf, (size_t)n, &from, rx_wall);
    return true;
}

static void drain_replies(struct icmp_sock *s)
{
    for (int i = 0; i < ICMP_RECV_BATCH && s->fd >= 0; i++) {
        if (!recv_one(s))
            break;
    }
}

static void icmp_poll_cb(uv_poll_t *h, int status, int events)
{
    struct icmp_sock *s = h->data;
    if (status < 0) /* POLLERR: the error queue has entries */
        drain_errqueue(s);
    drain_replies(s);
    /* libuv stops a poll handle on POLLERR: watch again */
    if (s->fd >= 0 && !uv_is_active((uv_handle_t *)&s->poll))
        uv_poll_start(&s->poll, UV_READABLE, icmp_poll_cb);
}

static bool next_free_seq(struct icmp_sock *s, uint16_t *seq)
{
    if (s->n_inflight >= ICMP_SEQ_SPACE)
        return false;
    while (s->inflight[s->next_seq])
        s->next_seq++;
    *seq = s->next_seq++;
    return true;
}

static struct probe_icmp *icmp_get(struct probe_engine *eng)
{
    if (eng->proto[CMON_PROTO_ICMP])
        return eng->proto[CMON_PROTO_ICMP];
    struct probe_icmp *ic = calloc(1, sizeof *ic);
    if (!ic)
        return NULL;
    ic->eng = eng;
    if (getrandom(&ic->rng, sizeof ic->rng, GRND_NONBLOCK) != sizeof ic->rng)
        ic->rng = (uint64_t)cmon_mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)ic;
    if (!ic->rng)
        ic->rng = 1;
    ic->s4 = (struct icmp_sock){.icmp = ic, .family = AF_INET, .fd = -1};
    ic->s6 = (struct icmp_sock){.icmp = ic, .family = AF_INET6, .fd = -1};
    eng->proto[CMON_PROTO_ICMP] = ic;
    return ic;
}

/* A longer echo: zeros after cmon's payload, the IPv4 checksum redone. */
static size_t pad_echo(int family, uint8_t *pkt, size_t len, size_t payload_size)
{
    size_t want = 8 + (payload_size < PROBE_ICMP_PAYLOAD_MAX ? payload_size : PROBE_ICMP_PAYLOAD_MAX);
    if (want <= len)
        return len;
    memset(pkt + len, 0, want - len);
    if (family != AF_INET6) {
        pkt[2] = pkt[3] = 0;
        uint16_t ck = icmp_checksum(pkt, want);
        pkt[2] = (uint8_t)(ck >> 8);
        pkt[3] = (uint8_t)ck;
    }
    return want;
}

/* The errnos an ICMP error leaves pending on a datagram socket
 * (icmp_err_convert, icmpv6_err_convert): what a send can fail with because
 * of an earlier packet's error rather than its own. */
static bool icmp_async_errno(int e)
{
    switch (e) {
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ECONNREFUSED:
    case EPROTO:
    case ENOPROTOOPT:
    case EACCES:
    case EMSGSIZE:
    case EOPNOTSUPP:
    case EHOSTDOWN:
    case ENONET:
        return true;
    default:
        return false;
    }
}

/* sendto, with the TTL / hop limit as ancillary data when the spec sets one
 * (the socket is shared by every check). */
static ssize_t send_echo(int fd, int family, const uint8_t *pkt, size_t len,
                         const struct sockaddr *sa, socklen_t salen, int ttl)
{
    if (ttl <= 0)
        return sendto(fd, pkt, len, 0, sa, salen);
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {.iov_base = (void *)pkt, .iov_len = len};
    struct msghdr mh = {.msg_name = (void *)sa, .msg_namelen = salen, .msg_iov = &iov,
                        .msg_iovlen = 1, .msg_control = ctl.buf,
                        .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
    cm->cmsg_type = family == AF_INET6 ? IPV6_HOPLIMIT : IP_TTL;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &ttl, sizeof ttl);
    return sendmsg(fd, &mh, 0);
}

static bool icmp_send(struct icmp_check *c, const struct sockaddr *sa, socklen_t salen,
                      const struct probe_icmp_spec *spec)
{
    struct icmp_sock *s = c->s;
    uint8_t pkt[8 + PROBE_ICMP_PAYLOAD_MAX];
    size_t len = icmp_build_echo(s->family, s->id, c->seq, c->token, pkt, sizeof pkt);
    if (spec && spec->payload_size)
        len = pad_echo(s->family, pkt, len, spec->payload_size);
    /* A datagram socket with IP_RECVERR keeps the errno of its latest ICMP
     * error pending, and the next send fails with it, sending nothing: that
     * error belongs to another check, whose details wait in the error queue
     * for the poll callback.  The failed send cleared it, so send again; a
     * send that keeps failing is this check's own failure.  (Draining the
     * queue here would finish other checks, and run their callbacks, from
     * inside this start.) */
    ssize_t sent = -1;
    for (int tries = 0; tries < 4; tries++) {
        c->start_ns = cmon_mono_ns();
        c->start_wall_ns = cmon_wall_ns();
        sent = send_echo(s->fd, s->family, pkt, len, sa, salen, spec ? spec->ttl : 0);
        if (sent >= 0 || s->raw || !icmp_async_errno(errno))
            break;
    }
    if (sent < 0) {
        probe_result_errno(&c->res, "send echo", errno);
        return false;
    }
    if (s->tx_stamps)
        s->key_seq[s->tx_key++ & (ICMP_SEQ_SPACE - 1)] = c->seq;
    return true;
}

static enum cmon_err icmp_start(struct probe_engine *eng, const struct probe_target *t,
                                const struct sockaddr *sa, socklen_t salen, probe_check_cb cb,
                                void *arg)
{
    struct probe_icmp *ic = icmp_get(eng);
    if (!ic)
        return CMON_ERR_NOMEM;
    struct icmp_sock *s = sa->sa_family == AF_INET6 ? &ic->s6 : &ic->s4;
    struct icmp_check *c = calloc(1, sizeof *c);
    if (!c)
        return CMON_ERR_NOMEM;
    probe_result_init(&c->res);
    probe_addr_format(sa, c->res.address, sizeof c->res.address);
    if ((s->fd < 0 && !sock_open(s, &c->res)) || !next_free_seq(s, &c->seq)) {
        if (s->fd >= 0)
            probe_result_fail(&c->res, CMON_DIAG_SOCKET_ERROR, "65536 ICMP checks in flight");
        probe_complete_later(eng, cb, arg, &c->res);
        free(c);
        return CMON_OK;
    }
    c->eng = eng;
    c->s = s;
    c->token = icmp_random(ic);
    memcpy(&c->dst, sa, salen);
    c->timeout_ms = t->timeout_ms;
    c->dropped_at_start = s->rx_dropped;
    c->cb = cb;
    c->arg = arg;
    if (!icmp_send(c, sa, salen, t->icmp)) {
        probe_complete_later(eng, cb, arg, &c->res);
        free(c);
        return CMON_OK;
    }
    s->inflight[c->seq] = c;
    s->n_inflight++;
    c->deadline_ms = uv_now(eng->loop) + t->timeout_ms;
    deadline_insert(s, c);
    return CMON_OK;
}

static void sock_closed(uv_handle_t *h)
{
    struct icmp_sock *s = h->data;
    struct probe_icmp *ic = s->icmp;
    struct probe_engine *eng = ic->eng;
    if (--ic->open_socks == 0)
        free(ic);
    probe_handle_closed(eng);
}

static void sock_close(struct icmp_sock *s)
{
    for (size_t i = 0; s->inflight && s->n_inflight && i < ICMP_SEQ_SPACE; i++) {
        struct icmp_check *c = s->inflight[i];
        if (c) {
            probe_result_fail(&c->res, CMON_DIAG_TIMEOUT, "cancelled");
            check_finish(c);
        }
    }
    free(s->inflight);
    s->inflight = NULL;
    free(s->key_seq);
    s->key_seq = NULL;
    if (s->fd >= 0) {
        uv_close((uv_handle_t *)&s->poll, sock_closed);
        uv_close((uv_handle_t *)&s->timer, sock_closed);
        close(s->fd);
        s->fd = -1;
    }
}

static void icmp_close(struct probe_engine *eng)
{
    struct probe_icmp *ic = eng->proto[CMON_PROTO_ICMP];
    if (!ic)
        return;
    eng->proto[CMON_PROTO_ICMP] = NULL;
    int socks = ic->open_socks;
    sock_close(&ic->s4);
    sock_close(&ic->s6);
    if (socks == 0)
        free(ic);
}

const struct probe_ops probe_icmp_ops = {
    .proto = CMON_PROTO_ICMP,
    .name = "icmp",
    .max_inflight = ICMP_MAX_INFLIGHT,
    .start = icmp_start,
    .close = icmp_close,
};
