/* round.h: fold the checks of one round into a struct cmon_round_result --
 * checks total/failed, RTT min/avg/max/jitter of the successful checks
 * (jitter = mean absolute difference of consecutive RTTs, in check order),
 * the dominant diagnostic (most frequent failure; ties: the first seen) with
 * its detail, and HTTP status and phases of the last check.  Pure: no clock,
 * no I/O.  The accumulator owns one array (n doubles); free with
 * probe_round_free.  Used by the scheduler and `cmon check`. */
#ifndef CMON_PROBE_ROUND_H
#define CMON_PROBE_ROUND_H

#include <stdint.h>

#include "model/result.h"
#include "probe/probe.h"

#define PROBE_ROUND_DIAGS 4 /* distinct failure kinds whose detail is kept */

struct probe_round_diag {
    enum cmon_diag diag;
    uint32_t count;
    uint32_t first_seq;
    char detail[160];
};

struct probe_round_acc {
    uint32_t n; /* checks planned */
    uint32_t done, failed;
    double *rtt;       /* by seq; < 0: failed or not done */
    uint32_t last_seq; /* highest seq added, for status and phases */
    bool has_last;
    int http_status;
    double dns_ms, connect_ms, tls_ms, first_byte_ms;
    uint32_t other_failures; /* failures beyond PROBE_ROUND_DIAGS kinds */
    struct probe_round_diag diags[PROBE_ROUND_DIAGS];
    uint32_t n_diags;
};

enum cmon_err probe_round_init(struct probe_round_acc *a, uint32_t n);
void probe_round_free(struct probe_round_acc *a);
/* seq is 0-based, < n; each seq is added once. */
void probe_round_add(struct probe_round_acc *a, uint32_t seq, const struct probe_check_result *r);
/* Fill the figures of out (test_id and start_ns are left to the caller);
 * checks_total = checks added. */
void probe_round_finish(const struct probe_round_acc *a, struct cmon_round_result *out);

#endif
