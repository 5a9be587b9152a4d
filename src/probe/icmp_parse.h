/* icmp_parse.h: pure ICMP/ICMPv6 echo packet building and parsing, fed by
 * bytes (no sockets, no clock), so it can be unit-tested on exact bytes and
 * fuzzed.  Nothing in a packet is trusted: every length is checked against
 * the buffer, and a reply only counts when it carries the random token the
 * check put in its request.  No allocation; out structs are caller-owned. */
#ifndef CMON_PROBE_ICMP_PARSE_H
#define CMON_PROBE_ICMP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Our echo payload: "cmon", a 32-bit token (big-endian), 8 zero bytes. */
#define ICMP_PAYLOAD_LEN 16
#define ICMP_ECHO_LEN (8 + ICMP_PAYLOAD_LEN)

enum icmp_msg_kind {
    ICMP_MSG_ECHO_REPLY,   /* type 0 / 129 */
    ICMP_MSG_ECHO_REQUEST, /* type 8 / 128: our own request, as the error queue returns it */
    ICMP_MSG_ERROR,        /* unreachable / time exceeded quoting one of our requests */
};

struct icmp_msg {
    enum icmp_msg_kind kind;
    uint8_t type, code; /* of the message itself (for ERROR: the error's) */
    uint16_t id, seq;   /* echo id/seq; for ERROR those of the quoted request */
    bool has_token;     /* the payload (or the quoted one) carries our magic */
    uint32_t token;
    bool has_inner_dst;    /* ERROR: destination of the quoted request */
    uint8_t inner_dst[16]; /* 4 bytes used for IPv4 */
};

/* family: AF_INET or AF_INET6.  with_ip_header: buf starts with an IPv4
 * header (raw IPv4 sockets); datagram sockets and IPv6 deliver the ICMP
 * header first.  CMON_ERR_PARSE: malformed, truncated, bad checksum (with_ip_header);
 * CMON_ERR_UNSUPPORTED: well-formed but not an echo or an error about an
 * echo request (redirects, other protocols' errors, ...). */
enum cmon_err icmp_parse(int family, bool with_ip_header, const uint8_t *buf, size_t len,
                         struct icmp_msg *out);

/* Write an echo request (ICMP_ECHO_LEN bytes) into out; returns its length,
 * 0 if outlen is too small.  The IPv4 checksum is filled; ICMPv6's needs the
 * pseudo-header and is left 0 for the kernel. */
size_t icmp_build_echo(int family, uint16_t id, uint16_t seq, uint32_t token, uint8_t *out,
                       size_t outlen);

/* A reply's RTT in ns from the kernel's stamps, which are wall clock:
 * from tx_wall (transmit stamp; 0: none) or else start_wall (when the check
 * started) to rx_wall (receive stamp; 0: none).  elapsed_ns, monotonic time
 * since the check started, bounds the true RTT: stamps further apart than
 * that, or reversed, span a wall-clock step (NTP, VM resume) and lose to
 * elapsed_ns, as does a missing receive stamp. */
int64_t icmp_rtt_ns(int64_t tx_wall, int64_t start_wall, int64_t rx_wall, int64_t elapsed_ns);

/* RFC 1071 Internet checksum. */
uint16_t icmp_checksum(const uint8_t *buf, size_t len);

#endif
