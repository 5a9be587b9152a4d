/* errqueue.c: read the socket error queue (IP_RECVERR / IPV6_RECVERR), where
 * the kernel puts the ICMP errors that came back for our packets, with the
 * ICMP type and code and the router that sent them.  Used by icmp.c (datagram
 * sockets) and tcp.c (connect failures); and the raw ICMPv6 socket's
 * filter, which decides which of those errors reach a raw socket. */
#include <errno.h>
#include <time.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <stddef.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "probe/diagnostics.h"
#include "probe/probe_internal.h"

bool probe_errq_read(int fd, struct probe_errq *e)
{
    char ctrl[512];
    struct sockaddr_storage from;
    struct iovec iov = {.iov_base = e->data, .iov_len = sizeof e->data};
    struct msghdr msg = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov,
                         .msg_iovlen = 1, .msg_control = ctrl, .msg_controllen = sizeof ctrl};
    ssize_t n = recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0)
        return false;
    memset(e, 0, offsetof(struct probe_errq, data));
    e->data_len = (size_t)n;
    bool found = false;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING &&
            c->cmsg_len >= CMSG_LEN(sizeof(struct scm_timestamping))) {
            struct scm_timestamping ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            e->ts_ns = (int64_t)ts.ts[0].tv_sec * 1000000000LL + ts.ts[0].tv_nsec;
            continue;
        }
        bool v4 = c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR;
        bool v6 = c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR;
        if (!v4 && !v6)
            continue;
        struct sock_extended_err ee;
        if (c->cmsg_len < CMSG_LEN(sizeof ee))
            continue;
        memcpy(&ee, CMSG_DATA(c), sizeof ee);
        found = true;
        e->err = (int)ee.ee_errno;
        e->origin = ee.ee_origin;
        e->type = ee.ee_type;
        e->code = ee.ee_code;
        e->ee_info = ee.ee_info;
        e->ee_data = ee.ee_data;
        const struct sockaddr *off = (const struct sockaddr *)(CMSG_DATA(c) + sizeof ee);
        size_t room = c->cmsg_len - CMSG_LEN(sizeof ee);
        if ((off->sa_family == AF_INET && room >= sizeof(struct sockaddr_in)) ||
            (off->sa_family == AF_INET6 && room >= sizeof(struct sockaddr_in6)))
            probe_addr_format(off, e->offender, sizeof e->offender);
    }
    if (!found)
        e->err = EIO;
    return true;
}

void probe_result_errq(struct probe_check_result *r, const char *what, const struct probe_errq *e)
{
    if (e->origin == SO_EE_ORIGIN_ICMP || e->origin == SO_EE_ORIGIN_ICMP6) {
        bool v6 = e->origin == SO_EE_ORIGIN_ICMP6;
        enum cmon_diag d =
            probe_diag_map(v6 ? PROBE_DIAG_ICMP6 : PROBE_DIAG_ICMP4, (e->type << 8) | e->code);
        probe_result_fail(r, d, "%s: ICMP%s type %d code %d from %s", what, v6 ? "v6" : "", e->type,
                          e->code, e->offender[0] ? e->offender : "?");
        return;
    }
    probe_result_errno(r, what, e->err ? e->err : EIO);
}

void probe_icmp6_raw_filter(int fd)
{
    struct icmp6_filter f;
    ICMP6_FILTER_SETBLOCKALL(&f);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
    ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &f);
    ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &f);
    setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f);
}
