/* result.h: one round's result (DESIGN section 4), as the agent reports it and
 * the server stores it, with its JSON form for the agent protocol.
 * Pure data; decode validates every field.  A time past what int64 ns can
 * hold (year 2262) decodes as INT64_MAX, never wrapped: the window refuses it. */
#ifndef CMON_MODEL_RESULT_H
#define CMON_MODEL_RESULT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "model/diag.h"
#include "model/monitor.h"

struct cmon_round_result {
    char test_id[CMON_TEST_ID_LEN + 1];
    int64_t start_ns;       /* round start, Unix ns (UTC) */
    uint32_t checks_total;  /* >= 1 */
    uint32_t checks_failed; /* <= checks_total */
    /* RTT of successful checks, ms; meaningful only when has_rtt */
    bool has_rtt;
    double rtt_min_ms, rtt_avg_ms, rtt_max_ms, rtt_jitter_ms;
    enum cmon_diag diagnostic; /* dominant failure, CMON_DIAG_NONE if none */
    char detail[160];          /* e.g. "notAfter 2026-01-02", "errno 113" */
    int http_status;           /* 0 when not HTTP or no response */
    /* HTTP phases, ms; < 0 when not measured */
    double dns_ms, connect_ms, tls_ms, first_byte_ms;
};

double cmon_round_failed_pct(const struct cmon_round_result *r);

/* The mean of n > 0 RTTs summing to sum, held inside [min, max]: the division
 * can land an ulp outside (three checks of 0.1 ms average 0.10000000000000002
 * > 0.1), and min <= avg <= max is part of the agent protocol. */
double cmon_rtt_mean(double sum, uint32_t n, double min, double max);
/* min <= *avg <= max, up to rounding: an avg outside by no more than a
 * rounding error (relative 1e-9) is moved inside and accepted, so a peer's
 * last-bit error never costs a round. */
bool cmon_rtt_ordered(double min, double *avg, double max);

/* JSON object with camelCase keys: testId, startTime (RFC 3339), checksTotal,
 * checksFailed, rtt {min,avg,max,jitter} (absent when no RTT), diagnostic,
 * detail, httpStatus, phases {dnsMs, connectMs, tlsMs, firstByteMs}.
 * Returns a new reference. */
json_t *cmon_round_to_json(const struct cmon_round_result *r);
/* The clock window a reported round must start in (DESIGN 9): at most
 * CMON_ROUND_MAX_AHEAD_NS after now_ns (agents' clocks drift a little), and
 * not before now_ns - max_age_ns (a spool replayed after a long outage is
 * kept as long as raw results are).  Rounds older than
 * CMON_ROUND_LIVE_AGE_NS are history: stored, never the test's live figures. */
#define CMON_ROUND_MAX_AHEAD_NS (300LL * 1000000000LL)
#define CMON_ROUND_LIVE_AGE_NS (86400LL * 1000000000LL)
bool cmon_round_in_window(int64_t start_ns, int64_t now_ns, int64_t max_age_ns);

/* Strict decode: unknown or ill-typed fields are errors naming the field. */
enum cmon_err cmon_round_from_json(const json_t *j, struct cmon_round_result *r,
                                   struct cmon_errbuf *eb);

#endif
