/* fuzz_icmp.c: libFuzzer target for the pure ICMP/ICMPv6 parser.  The first
 * byte picks the family and whether an IPv4 header leads (as on raw sockets);
 * the rest is the packet.  Crashes, out-of-bounds reads (ASan) and broken
 * invariants abort. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "probe/icmp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int family = (data[0] & 1) ? AF_INET6 : AF_INET;
    bool iphdr = (data[0] & 2) != 0;
    /* copy so ASan sees the exact extent of the packet */
    size_t n = size - 1;
    uint8_t *pkt = malloc(n ? n : 1);
    if (!pkt)
        return 0;
    memcpy(pkt, data + 1, n);
    struct icmp_msg m;
    enum cmon_err err = icmp_parse(family, iphdr, pkt, n, &m);
    if (err == CMON_OK) {
        if (n < 8)
            abort(); /* nothing shorter than an ICMP header may parse */
        if (m.kind == ICMP_MSG_ERROR && !m.has_inner_dst)
            abort();
        if (!m.has_token && m.token != 0)
            abort();
    } else if (err != CMON_ERR_PARSE && err != CMON_ERR_UNSUPPORTED) {
        abort();
    }
    free(pkt);
    return 0;
}
