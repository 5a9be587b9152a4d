/* path.h: a traceroute path (ordered hops with loss and RTT), route-change
 * detection, and hop-level issue attribution (hop_loss, hop_latency) that does
 * not blame a router for rate-limiting its own ICMP: an issue is raised at a
 * hop only when it persists at every later hop.  Pure: no I/O, no clock. */
#ifndef CMON_MODEL_PATH_H
#define CMON_MODEL_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "model/diag.h"

#define CMON_MAX_HOPS 32

struct cmon_hop {
    int ttl;                  /* 1-based */
    char address[64];         /* "" when no probe got an answer (a silent hop) */
    char name[128];           /* reverse DNS name, "" when unknown */
    uint32_t sent, received;
    double rtt_min_ms, rtt_avg_ms, rtt_max_ms, rtt_jitter_ms; /* when received > 0 */
};

struct cmon_path {
    size_t n_hops;
    struct cmon_hop hops[CMON_MAX_HOPS];
    bool reached;             /* the last hop is the destination */
};

double cmon_hop_loss_pct(const struct cmon_hop *h);
static inline bool cmon_hop_silent(const struct cmon_hop *h)
{
    return h->received == 0 && h->address[0] == '\0';
}

/* Same route: same length and the same address at every hop, where a silent
 * hop matches anything (it is unknown, not different). */
bool cmon_path_same_route(const struct cmon_path *a, const struct cmon_path *b);

struct cmon_hop_issue {
    enum cmon_diag kind;      /* CMON_DIAG_HOP_LOSS or CMON_DIAG_HOP_LATENCY */
    size_t hop;               /* index into hops */
    double value;             /* loss % or added latency, ms */
    double threshold;
};

/* A hop's losses are not chance: fewer than CMON_HOP_LOSS_SIGNIFICANCE of
 * healthy hops (losing CMON_HOP_BACKGROUND_LOSS of their probes) would lose
 * as many of as many probes (one-sided binomial test). */
#define CMON_HOP_BACKGROUND_LOSS 0.01
#define CMON_HOP_LOSS_SIGNIFICANCE 0.01
bool cmon_hop_loss_significant(const struct cmon_hop *h);

/* Issues of one path, at most 2 (one of each kind):
 * - hop_loss at the first answering hop whose loss >= loss_pct, and is
 *   significant (above), while every
 *   later answering hop (the destination included) also loses >= loss_pct; a
 *   path that stops short of the destination loses 100 % at the hop after the
 *   last one that answered;
 * - hop_latency at the first answering hop whose average RTT exceeds the
 *   previous answering hop's by >= latency_ms while every later answering hop
 *   stays that far above it. */
size_t cmon_path_issues(const struct cmon_path *p, double loss_pct, double latency_ms,
                        struct cmon_hop_issue out[2]);

/* {"reached": b, "hops": [{"ttl", "address", "name", "sent", "received", "lossPercent",
 *  "rtt": {min, avg, max, jitter}}]}; a new reference. */
json_t *cmon_path_to_json(const struct cmon_path *p);
/* Strict decode (agent protocol): errors name the field. */
enum cmon_err cmon_path_from_json(const json_t *j, struct cmon_path *p, struct cmon_errbuf *eb);

/* One traced path as an agent reports it (the "paths" of a result batch):
 * {"testId", "startTime" (RFC 3339) or "startNs", "path": <as above>}. */
struct cmon_path_report {
    char test_id[17];
    int64_t time_ns;
    struct cmon_path path;
};

json_t *cmon_path_report_to_json(const struct cmon_path_report *r);
enum cmon_err cmon_path_report_from_json(const json_t *j, struct cmon_path_report *r,
                                         struct cmon_errbuf *eb);

#endif
