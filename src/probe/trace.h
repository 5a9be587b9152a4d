/* trace.h: Paris-style traceroute on the probe engine's loop.  Every probe of
 * one trace uses the same flow identifiers (addresses, ports, ICMP id and
 * checksum), so per-flow load balancing (ECMP) keeps them on one path; only
 * the TTL and what lies past the flow fields change.  UDP and ICMP probes are
 * unprivileged datagram sockets with IP_RECVERR / IPV6_RECVERR (routers' time
 * exceeded come back on the error queue); TCP sends SYNs from one source port,
 * one probe at a time.  Several probes per hop give loss % and min/avg/max/
 * jitter RTT per hop; hops that never answer are reported silent.
 * Loop affinity: loop thread only.  Ownership: the trace owns its sockets and
 * handles and frees itself after calling cb; cancel traces in flight with
 * probe_trace_cancel before closing the engine. */
#ifndef CMON_PROBE_TRACE_H
#define CMON_PROBE_TRACE_H

#include <stdint.h>

#include "model/path.h"
#include "probe/probe.h"

enum probe_trace_proto { PROBE_TRACE_UDP, PROBE_TRACE_ICMP, PROBE_TRACE_TCP };

struct probe_trace_opts {
    enum probe_trace_proto proto;
    const char *host;          /* name or IP literal; resolved through the engine */
    enum cmon_ip_pref ip_pref;
    uint16_t port;             /* UDP: default 33434; TCP: required */
    int max_ttl;               /* 1-64, default 30 */
    int probes_per_hop;        /* 1-1000, default 3 */
    int timeout_ms;            /* wait for a probe's answer, default 1000 */
    int interval_ms;           /* between rounds of probes, default 100 */
    bool numeric;              /* no reverse names for the hops */
};

struct probe_trace_result {
    struct cmon_path path;     /* hops 1..destination (or max_ttl) */
    char address[64];          /* the destination address traced */
    enum cmon_diag diag;       /* CMON_DIAG_NONE, or why no trace ran (DNS, socket) */
    char detail[160];
};

typedef void (*probe_trace_cb)(void *arg, const struct probe_trace_result *res);

struct probe_trace;

/* Start a trace; cb runs exactly once, later (also on DNS or socket errors). */
enum cmon_err probe_trace_start(struct probe_engine *eng, const struct probe_trace_opts *opts,
                                probe_trace_cb cb, void *arg, struct probe_trace **out,
                                struct cmon_errbuf *eb);
/* Stop now: cb is not called; resources go on the next loop turns. */
void probe_trace_cancel(struct probe_trace *t);

/* --- pure helpers (exposed for tests) --- */
/* ICMP echo payload word that keeps the checksum constant whatever seq is:
 * seq + word is the same one's-complement sum for every seq. */
uint16_t probe_trace_icmp_balance(uint16_t seq);
/* Probe sequence numbers carry round and TTL: seq = round << 6 | (ttl - 1). */
static inline uint16_t probe_trace_seq(int round, int ttl)
{
    return (uint16_t)((round << 6) | (ttl - 1));
}

#endif
