/* result.h: one round's result (DESIGN section 4), as the agent reports it and
 * the server stores it, with its JSON form for the agent protocol.
 * Pure data; decode validates every field. */
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
    int64_t start_ns;          /* round start, Unix ns (UTC) */
    uint32_t checks_total;     /* >= 1 */
    uint32_t checks_failed;    /* <= checks_total */
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

/* JSON object with camelCase keys: testId, startTime (RFC 3339), checksTotal,
 * checksFailed, rtt {min,avg,max,jitter} (absent when no RTT), diagnostic,
 * detail, httpStatus, phases {dnsMs, connectMs, tlsMs, firstByteMs}.
 * Returns a new reference. */
json_t *cmon_round_to_json(const struct cmon_round_result *r);
/* Strict decode: unknown or ill-typed fields are errors naming the field. */
enum cmon_err cmon_round_from_json(const json_t *j, struct cmon_round_result *r,
                                   struct cmon_errbuf *eb);

#endif
