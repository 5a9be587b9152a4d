/* test_probe_icmp_parse.c: the pure ICMP/ICMPv6 parser and builder on exact
 * bytes, including truncated, lying and forged packets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>

#include "probe/icmp_parse.h"

/* Echo reply, id 0x1234 seq 0x0005, our payload with token 0xdeadbeef. */
static const uint8_t reply4[] = {
    0x00, 0x00, 0x00, 0x00, 0x12, 0x34, 0x00, 0x05, 'c', 'm', 'o', 'n',
    0xde, 0xad, 0xbe, 0xef, 0,    0,    0,    0,    0,   0,   0,   0,
};

static void fix_checksum(uint8_t *icmp, size_t len)
{
    icmp[2] = icmp[3] = 0;
    uint16_t ck = icmp_checksum(icmp, len);
    icmp[2] = (uint8_t)(ck >> 8);
    icmp[3] = (uint8_t)ck;
}

/* An IPv4 header (20 bytes) in front of payload. */
static size_t with_ip4(uint8_t *out, const uint8_t *payload, size_t len, uint8_t proto,
                       const uint8_t dst[4])
{
    static const uint8_t src[4] = {198, 18, 1, 2};
    memset(out, 0, 20);
    out[0] = 0x45;
    out[2] = (uint8_t)((20 + len) >> 8);
    out[3] = (uint8_t)(20 + len);
    out[8] = 64;
    out[9] = proto;
    memcpy(out + 12, src, 4);
    memcpy(out + 16, dst, 4);
    memcpy(out + 20, payload, len);
    return 20 + len;
}

static void test_checksum_rfc1071(void **state)
{
    (void)state;
    /* RFC 1071 section 3 example: one's complement sum 0xddf2 */
    static const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    assert_int_equal(icmp_checksum(b, sizeof b), 0x220d);
    static const uint8_t odd[] = {0x01};
    assert_int_equal(icmp_checksum(odd, 1), 0xfeff);
}

static void test_build_echo_v4_exact(void **state)
{
    (void)state;
    uint8_t pkt[ICMP_ECHO_LEN + 4];
    assert_int_equal(icmp_build_echo(AF_INET, 0x1234, 5, 0xdeadbeef, pkt, sizeof pkt), 24);
    static const uint8_t want[] = {
        0x08, 0x00, 0x75, 0x4d, 0x12, 0x34, 0x00, 0x05, 'c', 'm', 'o', 'n',
        0xde, 0xad, 0xbe, 0xef, 0,    0,    0,    0,    0,   0,   0,   0,
    };
    assert_memory_equal(pkt, want, sizeof want); /* checksum 0x754d worked out by hand */
    assert_int_equal(icmp_checksum(pkt, 24), 0);
    assert_int_equal(icmp_build_echo(AF_INET, 1, 1, 1, pkt, 23), 0); /* too small */
}

static void test_build_echo_v6(void **state)
{
    (void)state;
    uint8_t pkt[ICMP_ECHO_LEN];
    assert_int_equal(icmp_build_echo(AF_INET6, 0xabcd, 0xffff, 7, pkt, sizeof pkt), 24);
    assert_int_equal(pkt[0], 128);
    assert_int_equal(pkt[2], 0); /* the kernel fills the ICMPv6 checksum */
    assert_int_equal(pkt[3], 0);
    struct icmp_msg m;
    assert_int_equal(icmp_parse(AF_INET6, false, pkt, sizeof pkt, &m), CMON_OK);
    assert_int_equal(m.kind, ICMP_MSG_ECHO_REQUEST);
    assert_int_equal(m.id, 0xabcd);
    assert_int_equal(m.seq, 0xffff);
    assert_true(m.has_token);
    assert_int_equal(m.token, 7);
}

static void test_reply_datagram(void **state)
{
    (void)state;
    struct icmp_msg m;
    assert_int_equal(icmp_parse(AF_INET, false, reply4, sizeof reply4, &m), CMON_OK);
    assert_int_equal(m.kind, ICMP_MSG_ECHO_REPLY);
    assert_int_equal(m.id, 0x1234);
    assert_int_equal(m.seq, 5);
    assert_true(m.has_token);
    assert_int_equal(m.token, 0xdeadbeef);
    assert_false(m.has_inner_dst);
    /* 8-byte reply: valid, but no token (someone else's, or truncated) */
    assert_int_equal(icmp_parse(AF_INET, false, reply4, 8, &m), CMON_OK);
    assert_false(m.has_token);
    /* 7 bytes: not even a header */
    assert_int_equal(icmp_parse(AF_INET, false, reply4, 7, &m), CMON_ERR_PARSE);
    assert_int_equal(icmp_parse(AF_INET, false, reply4, 0, &m), CMON_ERR_PARSE);
    assert_int_equal(icmp_parse(AF_INET, false, NULL, 24, &m), CMON_ERR_PARSE);
    assert_int_equal(icmp_parse(AF_UNIX, false, reply4, sizeof reply4, &m), CMON_ERR_PARSE);
}

static void test_forged_payload(void **state)
{
    (void)state;
    uint8_t p[sizeof reply4];
    memcpy(p, reply4, sizeof p);
    p[8] = 'x'; /* not our magic: the token must not be believed */
    struct icmp_msg m;
    assert_int_equal(icmp_parse(AF_INET, false, p, sizeof p, &m), CMON_OK);
    assert_false(m.has_token);
    assert_int_equal(m.token, 0);
}

static void test_reply_raw_v4(void **state)
{
    (void)state;
    static const uint8_t dst[4] = {198, 18, 1, 1};
    uint8_t icmp[sizeof reply4], pkt[64];
    memcpy(icmp, reply4, sizeof icmp);
    fix_checksum(icmp, sizeof icmp);
    size_t n = with_ip4(pkt, icmp, sizeof icmp, 1, dst);
    struct icmp_msg m;
    assert_int_equal(icmp_parse(AF_INET, true, pkt, n, &m), CMON_OK);
    assert_int_equal(m.kind, ICMP_MSG_ECHO_REPLY);
    assert_int_equal(m.token, 0xdeadbeef);
    /* trailing garbage beyond the IP total length is ignored */
    pkt[n] = 0x55;
    assert_int_equal(icmp_parse(AF_INET, true, pkt, n + 1, &m), CMON_OK);
    /* bad checksum */
    pkt[30] ^= 1;
    assert_int_equal(icmp_parse(AF_INET, true, pkt, n, &m), CMON_ERR_PARSE);
    pkt[30] ^= 1;
    /* not ICMP */
    pkt[9] = 17;
    assert_int_equal(icmp_parse(AF_INET, true, pkt, n, &m), CMON_ERR_PARSE);
    pkt[9] = 1;
    /* IHL lies: 60 bytes of header in a 44-byte packet */
    pkt[0] = 0x4f;
    assert_int_equal(icmp_parse(AF_INET, true, pkt, n, &m), CMON_ERR_PARSE);
    /* IHL below the minimum */
    pkt[0] = 0x44;
    assert_int_equal(icmp_parse(AF_INET, true, pkt, n, &m), CMON_ERR_PARSE);
    /* not version 4 */
    pkt[0] = 0x65;
    assert_int_equal(icmp_parse(AF_INET, true, pkt, n, &m), CMON_ERR_PARSE);
    /* header only */
    pkt[0] = 0x45;
    assert_int_equal(icmp_parse(AF_INET, true, pkt, 20, &m), CMON_ERR_PARSE);
}

/* Destination unreachable (3/13) quoting the IP header and the first 8 bytes
 * of our echo request, as RFC 792 routers do. */
static size_t unreach4(uint8_t *out, uint8_t type, uint8_t code, size_t quote, uint8_t proto)
{
    static const uint8_t dst[4] = {198, 18, 2, 2};
    uint8_t req[ICMP_ECHO_LEN], inner[64];
    icmp_build_echo(AF_INET, 0x1234, 9, 0x01020304, req, sizeof req);
    size_t il = with_ip4(inner, req, quote, proto, dst);
    inner[2] = 0; /* the quoted total length is the original's (longer) */
    inner[3] = 20 + ICMP_ECHO_LEN;
    memset(out, 0, 8);
    out[0] = type;
    out[1] = code;
    memcpy(out + 8, inner, il);
    fix_checksum(out, 8 + il);
    return 8 + il;
}

static void test_error_v4(void **state)
{
    (void)state;
    uint8_t pkt[128];
    struct icmp_msg m;
    size_t n = unreach4(pkt, 3, 13, 8, 1);
    assert_int_equal(icmp_parse(AF_INET, false, pkt, n, &m), CMON_OK);
    assert_int_equal(m.kind, ICMP_MSG_ERROR);
    assert_int_equal(m.type, 3);
    assert_int_equal(m.code, 13);
    assert_int_equal(m.id, 0x1234);
    assert_int_equal(m.seq, 9);
    assert_false(m.has_token); /* only 8 bytes quoted */
    assert_true(m.has_inner_dst);
    static const uint8_t dst[4] = {198, 18, 2, 2};
    assert_memory_equal(m.inner_dst, dst, 4);
    /* a full quote carries the token */
    n = unreach4(pkt, 11, 0, ICMP_ECHO_LEN, 1);
    assert_int_equal(icmp_parse(AF_INET, false, pkt, n, &m), CMON_OK);
    assert_int_equal(m.type, 11);
    assert_true(m.has_token);
    assert_int_equal(m.token, 0x01020304);
    /* quote shorter than 8 bytes of ICMP */
    n = unreach4(pkt, 3, 1, 4, 1);
    assert_int_equal(icmp_parse(AF_INET, false, pkt, n, &m), CMON_ERR_PARSE);
    /* an error about a UDP packet is not ours */
    n = unreach4(pkt, 3, 3, 8, 17);
    assert_int_equal(icmp_parse(AF_INET, false, pkt, n, &m), CMON_ERR_UNSUPPORTED);
    /* redirect: ignored */
    n = unreach4(pkt, 5, 1, 8, 1);
    assert_int_equal(icmp_parse(AF_INET, false, pkt, n, &m), CMON_ERR_UNSUPPORTED);
    /* the quoted header itself truncated */
    n = unreach4(pkt, 3, 1, 8, 1);
    assert_int_equal(icmp_parse(AF_INET, false, pkt, 8 + 19, &m), CMON_ERR_PARSE);
}

static void test_error_quoting_reply_ignored(void **state)
{
    (void)state;
    uint8_t pkt[128];
    size_t n = unreach4(pkt, 3, 1, 8, 1);
    pkt[8 + 20] = 0; /* the quoted ICMP is an echo reply, not our request */
    struct icmp_msg m;
    assert_int_equal(icmp_parse(AF_INET, false, pkt, n, &m), CMON_ERR_UNSUPPORTED);
}

static void test_v6(void **state)
{
    (void)state;
    uint8_t pkt[128] = {0};
    struct icmp_msg m;
    /* echo reply */
    icmp_build_echo(AF_INET6, 0x4242, 77, 0xcafef00d, pkt, sizeof pkt);
    pkt[0] = 129;
    assert_int_equal(icmp_parse(AF_INET6, false, pkt, ICMP_ECHO_LEN, &m), CMON_OK);
    assert_int_equal(m.kind, ICMP_MSG_ECHO_REPLY);
    assert_int_equal(m.seq, 77);
    assert_int_equal(m.token, 0xcafef00d);
    /* IPv4 numbers mean nothing in ICMPv6 */
    pkt[0] = 0;
    assert_int_equal(icmp_parse(AF_INET6, false, pkt, ICMP_ECHO_LEN, &m), CMON_ERR_UNSUPPORTED);
    /* destination unreachable, admin prohibited, quoting IPv6 + our request */
    memset(pkt, 0, sizeof pkt);
    pkt[0] = 1;
    pkt[1] = 1;
    uint8_t *ip6 = pkt + 8;
    ip6[0] = 0x60;
    ip6[6] = 58;
    ip6[24] = 0xfd; /* destination fd00::5 */
    ip6[39] = 5;
    icmp_build_echo(AF_INET6, 0x4242, 78, 0x11223344, ip6 + 40, 24);
    assert_int_equal(icmp_parse(AF_INET6, false, pkt, 8 + 40 + 24, &m), CMON_OK);
    assert_int_equal(m.kind, ICMP_MSG_ERROR);
    assert_int_equal(m.type, 1);
    assert_int_equal(m.code, 1);
    assert_int_equal(m.seq, 78);
    assert_int_equal(m.token, 0x11223344);
    assert_int_equal(m.inner_dst[0], 0xfd);
    assert_int_equal(m.inner_dst[15], 5);
    /* truncated inside the quoted IPv6 header */
    assert_int_equal(icmp_parse(AF_INET6, false, pkt, 8 + 39, &m), CMON_ERR_PARSE);
    /* quoted packet with an extension header first: not recognised */
    ip6[6] = 0;
    assert_int_equal(icmp_parse(AF_INET6, false, pkt, 8 + 40 + 24, &m), CMON_ERR_UNSUPPORTED);
    /* not version 6 */
    ip6[6] = 58;
    ip6[0] = 0x40;
    assert_int_equal(icmp_parse(AF_INET6, false, pkt, 8 + 40 + 24, &m), CMON_ERR_PARSE);
}

/* RTTs from the kernel's wall-clock stamps, unless a wall step lies
 * between them: then the monotonic time since the check started. */
static void test_rtt_across_wall_steps(void **state)
{
    (void)state;
    const int64_t ms = 1000000, t0 = 1700000000000 * ms, hour = 3600000 * ms;
    /* transmit and receive stamps: 10 ms, though 12 ms passed by the time we looked */
    assert_int_equal(icmp_rtt_ns(t0 + 1 * ms, t0, t0 + 11 * ms, 12 * ms), 10 * ms);
    /* no transmit stamp: from the check's start */
    assert_int_equal(icmp_rtt_ns(0, t0, t0 + 11 * ms, 12 * ms), 11 * ms);
    /* no receive stamp */
    assert_int_equal(icmp_rtt_ns(t0 + 1 * ms, t0, 0, 12 * ms), 12 * ms);
    /* the wall clock stepped an hour forward between the stamps */
    assert_int_equal(icmp_rtt_ns(t0 + 1 * ms, t0, t0 + hour + 11 * ms, 12 * ms), 12 * ms);
    assert_int_equal(icmp_rtt_ns(0, t0, t0 + hour + 11 * ms, 12 * ms), 12 * ms);
    /* ... or an hour back */
    assert_int_equal(icmp_rtt_ns(t0 + 1 * ms, t0, t0 - hour + 11 * ms, 12 * ms), 12 * ms);
    /* NTP slewing (at most 500 ppm) is no step */
    assert_int_equal(icmp_rtt_ns(0, t0, t0 + 1000 * ms + ms / 2, 1000 * ms), 1000 * ms + ms / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksum_rfc1071),
        cmocka_unit_test(test_build_echo_v4_exact),
        cmocka_unit_test(test_build_echo_v6),
        cmocka_unit_test(test_reply_datagram),
        cmocka_unit_test(test_forged_payload),
        cmocka_unit_test(test_reply_raw_v4),
        cmocka_unit_test(test_error_v4),
        cmocka_unit_test(test_error_quoting_reply_ignored),
        cmocka_unit_test(test_v6),
        cmocka_unit_test(test_rtt_across_wall_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
