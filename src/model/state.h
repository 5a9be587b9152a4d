/* state.h: a test's state from its latest round (DESIGN section 4) and the
 * roll-up to groups, sources, destinations, configurations and monitors.
 * Pure: "now" is an argument. */
#ifndef CMON_MODEL_STATE_H
#define CMON_MODEL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/monitor.h"

/* Numbered as the Prometheus cmon_test_state gauge. */
enum cmon_state {
    CMON_STATE_INDETERMINATE = 0,
    CMON_STATE_PASS = 1,
    CMON_STATE_WARNING = 2,
    CMON_STATE_FAIL = 3,
    CMON_STATE_NOT_RUNNING = 4,
};

#define CMON_AUTO_FAILED_PCT 10.0
#define CMON_AUTO_RTT_MS 750.0
#define CMON_WARN_FRACTION 0.8

struct cmon_state_input {
    enum cmon_protocol protocol;
    int frequency_sec;
    bool has_failed_pct_threshold;
    double failed_pct_threshold;
    bool has_rtt_threshold;
    double rtt_threshold_ms;
    bool not_running;        /* group disabled or monitor stopped */
    const char *not_running_reason; /* "test group disabled", "monitor stopped" */
    bool agent_stopped;      /* the source agent is silent (DESIGN 7) */
    bool has_result;
    int64_t last_result_ns;  /* round start, Unix ns */
    int64_t now_ns;
    double checks_failed_pct;
    bool has_rtt;            /* false when no check succeeded */
    double rtt_ms;           /* average RTT of successful checks */
    const char *diagnostic;  /* dominant diagnostic code, "" or NULL when none */
    const char *diag_detail; /* e.g. "notAfter 2026-01-02"; may be NULL */
};

struct cmon_state_eval {
    enum cmon_state state;
    char reason[320];
};

void cmon_test_state_eval(const struct cmon_state_input *in, struct cmon_state_eval *out);

/* Worst of Fail > Warning > Indeterminate > Pass; Not Running only when every
 * state is Not Running (also for n == 0). */
enum cmon_state cmon_state_rollup(const enum cmon_state *states, size_t n);
/* Fold one more state into a running roll-up (start from CMON_STATE_NOT_RUNNING). */
enum cmon_state cmon_state_worse(enum cmon_state acc, enum cmon_state s);

/* What a configuration's tests are judged against, for people: the given
 * thresholds ("checks failed <= 5 %, RTT <= 300 ms") and the automatic ones
 * that apply where none is given ("automatic: Warning above 10 % checks
 * failed or 750 ms RTT"; the automatic RTT only for TCP and ICMP). */
void cmon_threshold_text(const struct cmon_test_config *c, char *out, size_t cap);

/* For people (alert summaries, logs): "Pass", "Not Running", ... */
const char *cmon_state_name(enum cmon_state s);
/* For machines, the one spelling of the API's rows, counts keys and state=
 * parameter: "Pass", "NotRunning", ... */
const char *cmon_state_key(enum cmon_state s);
/* Either spelling, case-insensitive ("not_running", "Not Running" too). */
bool cmon_state_parse(const char *s, enum cmon_state *out);

#endif
