/* probe_internal.h: what the protocol files of src/probe share with the
 * engine.  Not for use outside src/probe.
 * Loop affinity: everything here runs on the engine's loop thread. */
#ifndef CMON_PROBE_INTERNAL_H
#define CMON_PROBE_INTERNAL_H

#include "probe/probe.h"

struct probe_dns;
struct probe_engine_core;

struct probe_engine {
    uv_loop_t *loop;
    struct probe_engine_opts opts;
    struct probe_dns *dns; /* owned by dns.c */
    /* each protocol's loop state, owned by its file: made lazily by its
     * ops->start, freed by its ops->close */
    void *proto[CMON_N_PROTOCOLS];
    struct probe_engine_core *core; /* owned by engine.c: deferred results, close state */
};

extern const struct probe_ops probe_icmp_ops;
extern const struct probe_ops probe_tcp_ops;
extern const struct probe_ops probe_http_ops;

/* --- helpers of engine.c for the protocol files --- */

/* A failed result with every phase "not measured" (-1). */
void probe_result_init(struct probe_check_result *r);
void probe_result_fail(struct probe_check_result *r, enum cmon_diag d, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Failure from an errno (connect, sendto, socket): mapped through
 * probe_diag_map, detail "errno N (text)" prefixed by what failed. */
void probe_result_errno(struct probe_check_result *r, const char *what, int err);
/* "198.18.1.2" or "fd00:c30:1::2" (no port). */
void probe_addr_format(const struct sockaddr *sa, char *out, size_t outlen);

/* Deliver res to cb on a later loop turn: for failures found inside start(),
 * which must never call cb itself.  res is copied. */
void probe_complete_later(struct probe_engine *eng, probe_check_cb cb, void *arg,
                          const struct probe_check_result *res);

/* Every uv handle a protocol file opens is counted, so the engine's close
 * knows when the loop is done with them: call opened after uv_*_init and
 * closed from the handle's close callback. */
void probe_handle_opened(struct probe_engine *eng);
void probe_handle_closed(struct probe_engine *eng);
bool probe_engine_closing(const struct probe_engine *eng);

/* errqueue.c: one message of fd's IP_RECVERR/IPV6_RECVERR error queue.
 * Returns false when the queue is empty.  data receives the offending
 * packet's start as the kernel returns it (len in *data_len). */
struct probe_errq {
    int err;                   /* ee_errno */
    int origin;                /* SO_EE_ORIGIN_* */
    int type, code;            /* ICMP type/code when origin is ICMP/ICMP6 */
    char offender[64];         /* who sent the ICMP error, "" when unknown */
    uint32_t ee_info, ee_data; /* SO_EE_ORIGIN_TIMESTAMPING: ee_data is the OPT_ID key */
    int64_t ts_ns;             /* SCM_TIMESTAMPING software stamp (wall clock), 0 if none */
    uint8_t data[128];
    size_t data_len;
};
bool probe_errq_read(int fd, struct probe_errq *e);
/* Fill r from an error-queue entry: ICMP errors map by type/code (detail
 * names the sender), local errors by errno. */
void probe_result_errq(struct probe_check_result *r, const char *what, const struct probe_errq *e);
/* A raw ICMPv6 socket passes only echo replies and the errors that answer
 * our probes (destination unreachable, time exceeded): the kernel filters,
 * not our read loop.  For ICMP checks and the tracer. */
void probe_icmp6_raw_filter(int fd);

#endif
