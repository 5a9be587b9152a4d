/* test_probe_trace.c: the pure parts of the Paris traceroute -- probe
 * sequence numbers carry round and TTL, and the ICMP balance word keeps the
 * echo checksum (part of the flow some load balancers hash) constant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "probe/trace.h"

/* RFC 1071 checksum of an echo request: type 8, code 0, id, seq, balance. */
static uint16_t echo_checksum(uint16_t id, uint16_t seq, uint16_t balance)
{
    uint32_t words[] = {0x0800, id, seq, balance};
    uint32_t sum = 0;
    for (size_t i = 0; i < 4; i++)
        sum += words[i];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void test_checksum_constant(void **state)
{
    (void)state;
    uint16_t first = echo_checksum(0x1234, 0, probe_trace_icmp_balance(0));
    for (uint32_t seq = 1; seq < 65536; seq += 7)
        assert_int_equal(echo_checksum(0x1234, (uint16_t)seq,
                                       probe_trace_icmp_balance((uint16_t)seq)), first);
}

static void test_seq_layout(void **state)
{
    (void)state;
    assert_int_equal(probe_trace_seq(0, 1), 0);
    assert_int_equal(probe_trace_seq(0, 64), 63);
    assert_int_equal(probe_trace_seq(1, 1), 64);
    assert_int_equal(probe_trace_seq(999, 30), 999 * 64 + 29);
    /* TTL and round come back out */
    uint16_t s = probe_trace_seq(17, 9);
    assert_int_equal((s & 63) + 1, 9);
    assert_int_equal(s >> 6, 17);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksum_constant),
        cmocka_unit_test(test_seq_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
