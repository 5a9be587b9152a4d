/* icmp_parse.c: ICMP/ICMPv6 echo building and parsing on bytes (see the
 * header).  Every read is bounds-checked against len; packets are never cast
 * to structs, so alignment and truncation cannot bite. */
#include "probe/icmp_parse.h"

#include <string.h>
#include <sys/socket.h>

static const uint8_t payload_magic[4] = {'c', 'm', 'o', 'n'};

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint16_t icmp_checksum(const uint8_t *buf, size_t len)
{
    uint32_t sum = 0;
    size_t i = 0;
    for (; i + 1 < len; i += 2)
        sum += get16(buf + i);
    if (i < len)
        sum += (uint32_t)buf[i] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

size_t icmp_build_echo(int family, uint16_t id, uint16_t seq, uint32_t token, uint8_t *out,
                       size_t outlen)
{
    if (outlen < ICMP_ECHO_LEN)
        return 0;
    memset(out, 0, ICMP_ECHO_LEN);
    out[0] = family == AF_INET6 ? 128 : 8;
    out[4] = (uint8_t)(id >> 8);
    out[5] = (uint8_t)id;
    out[6] = (uint8_t)(seq >> 8);
    out[7] = (uint8_t)seq;
    memcpy(out + 8, payload_magic, sizeof payload_magic);
    out[12] = (uint8_t)(token >> 24);
    out[13] = (uint8_t)(token >> 16);
    out[14] = (uint8_t)(token >> 8);
    out[15] = (uint8_t)token;
    if (family != AF_INET6) {
        uint16_t ck = icmp_checksum(out, ICMP_ECHO_LEN);
        out[2] = (uint8_t)(ck >> 8);
        out[3] = (uint8_t)ck;
    }
    return ICMP_ECHO_LEN;
}

/* An echo header (8 bytes) and, if present, our payload's token. */
static void read_echo(const uint8_t *p, size_t len, struct icmp_msg *m)
{
    m->id = get16(p + 4);
    m->seq = get16(p + 6);
    m->has_token = len >= 16 && memcmp(p + 8, payload_magic, sizeof payload_magic) == 0;
    m->token = m->has_token ? get32(p + 12) : 0;
}

/* Skip an IPv4 header; returns its length, 0 if malformed.  *proto gets the
 * protocol, *len is trimmed to the header's total length when shorter. */
static size_t ipv4_header(const uint8_t *p, size_t *len, uint8_t *proto)
{
    if (*len < 20 || (p[0] >> 4) != 4)
        return 0;
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    size_t total = get16(p + 2);
    if (ihl < 20 || ihl > *len)
        return 0;
    if (total >= ihl && total < *len)
        *len = total;
    *proto = p[9];
    return ihl;
}

/* The request quoted by an ICMP error: an IP header and >= 8 bytes of ours. */
static enum cmon_err parse_quoted(int family, const uint8_t *p, size_t len, struct icmp_msg *m)
{
    size_t hl;
    uint8_t proto;
    if (family == AF_INET6) {
        if (len < 40 || (p[0] >> 4) != 6)
            return CMON_ERR_PARSE;
        hl = 40;
        proto = p[6];
        memcpy(m->inner_dst, p + 24, 16);
    } else {
        hl = ipv4_header(p, &len, &proto);
        if (!hl)
            return CMON_ERR_PARSE;
        memcpy(m->inner_dst, p + 16, 4);
    }
    uint8_t want_type = family == AF_INET6 ? 128 : 8;
    if (proto != (family == AF_INET6 ? 58 : 1))
        return CMON_ERR_UNSUPPORTED; /* an error about some other protocol's packet */
    if (len - hl < 8)
        return CMON_ERR_PARSE;
    if (p[hl] != want_type)
        return CMON_ERR_UNSUPPORTED;
    m->has_inner_dst = true;
    read_echo(p + hl, len - hl, m);
    return CMON_OK;
}

static bool is_error_type(int family, uint8_t type)
{
    if (family == AF_INET6)
        return type == 1 || type == 3; /* destination unreachable, time exceeded */
    return type == 3 || type == 11;
}

enum cmon_err icmp_parse(int family, bool with_ip_header, const uint8_t *buf, size_t len,
                         struct icmp_msg *out)
{
    memset(out, 0, sizeof *out);
    if (!buf || (family != AF_INET && family != AF_INET6))
        return CMON_ERR_PARSE;
    if (with_ip_header) {
        uint8_t proto;
        size_t hl = family == AF_INET ? ipv4_header(buf, &len, &proto) : 0;
        if (!hl || proto != 1)
            return CMON_ERR_PARSE;
        buf += hl;
        len -= hl;
    }
    if (len < 8)
        return CMON_ERR_PARSE;
    /* Raw IPv4 sockets see packets before the kernel's ICMP checksum test;
     * datagram sockets get verified replies, and the error queue returns our
     * own (possibly truncated) request, whose checksum cannot be checked. */
    if (with_ip_header && icmp_checksum(buf, len) != 0)
        return CMON_ERR_PARSE;
    out->type = buf[0];
    out->code = buf[1];
    uint8_t reply = family == AF_INET6 ? 129 : 0, request = family == AF_INET6 ? 128 : 8;
    if (out->type == reply || out->type == request) {
        out->kind = out->type == reply ? ICMP_MSG_ECHO_REPLY : ICMP_MSG_ECHO_REQUEST;
        read_echo(buf, len, out);
        return CMON_OK;
    }
    if (!is_error_type(family, out->type))
        return CMON_ERR_UNSUPPORTED;
    out->kind = ICMP_MSG_ERROR;
    return parse_quoted(family, buf + 8, len - 8, out);
}

#define RTT_SLACK_NS 1000000 /* 1 ms */

/* Wall time between two stamps, if no wall-clock step can lie between
 * them; else -1.  The slack covers NTP slewing (at most 500 ppm) and the
 * moments between reading the two clocks at the start. */
static int64_t stamps_apart(int64_t from, int64_t to, int64_t elapsed_ns)
{
    if (from <= 0 || to < from || to - from > elapsed_ns + elapsed_ns / 1000 + RTT_SLACK_NS)
        return -1;
    return to - from;
}

int64_t icmp_rtt_ns(int64_t tx_wall, int64_t start_wall, int64_t rx_wall, int64_t elapsed_ns)
{
    int64_t rtt = rx_wall > 0 ? stamps_apart(tx_wall, rx_wall, elapsed_ns) : -1;
    if (rtt < 0 && rx_wall > 0)
        rtt = stamps_apart(start_wall, rx_wall, elapsed_ns);
    return rtt < 0 ? elapsed_ns : rtt;
}
