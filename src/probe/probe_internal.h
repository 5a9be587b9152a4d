/* probe_internal.h: what the protocol files of src/probe share with the
 * engine.  Not for use outside src/probe. */
#ifndef CMON_PROBE_INTERNAL_H
#define CMON_PROBE_INTERNAL_H

#include "probe/probe.h"

struct probe_dns;
struct probe_icmp;
struct probe_http;

struct probe_engine {
    uv_loop_t *loop;
    struct probe_engine_opts opts;
    struct probe_dns *dns;    /* owned by dns.c */
    struct probe_icmp *icmp;  /* owned by icmp.c */
    struct probe_http *http;  /* owned by http.c */
};

extern const struct probe_ops probe_icmp_ops;
extern const struct probe_ops probe_tcp_ops;
extern const struct probe_ops probe_http_ops;

/* http.c: created lazily by its start(); released by the engine's close. */
void probe_http_close(struct probe_engine *eng);

#endif
