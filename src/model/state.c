/* state.c: the state engine of DESIGN section 4 -- thresholds (given, 80 %
 * warning band, automatic ones), staleness, roll-up and reason text. */
#include "model/state.h"

#include "model/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Up to two decimals, no trailing zeros: 40, 4.5, 33.33. */
static const char *num(double x, char *buf, size_t len)
{
    snprintf(buf, len, "%.2f", x);
    char *dot = strchr(buf, '.');
    if (dot) {
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0')
            *end-- = '\0';
        if (end == dot)
            *end = '\0';
    }
    if (strcmp(buf, "-0") == 0)
        strcpy(buf, "0");
    return buf;
}

static void append(char *reason, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append "; " + the formatted text (or just the text when reason is empty). */
static void append(char *reason, size_t len, const char *fmt, ...)
{
    size_t used = strlen(reason);
    if (used + 3 >= len)
        return;
    if (used) {
        memcpy(reason + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason + used, len - used, fmt, ap);
    va_end(ap);
}

static bool has_text(const char *s)
{
    return s && *s;
}

/* The diagnostic with its detail; one the catalogue calls temporary (a DNS
 * server that failed or did not answer, which may clear by itself) says so,
 * so it reads differently from a persistent one (a name that does not exist). */
static void add_diagnostic(const struct cmon_state_input *in, struct cmon_state_eval *out)
{
    if (!has_text(in->diagnostic))
        return;
    enum cmon_diag d;
    bool temp = cmon_diag_from_code(in->diagnostic, &d) && cmon_diag_is_temporary(d);
    bool detail = has_text(in->diag_detail);
    append(out->reason, sizeof out->reason, "%s%s%s", in->diagnostic,
           temp ? (detail ? " (temporary: " : " (temporary)") : (detail ? " (" : ""), "");
    if (detail) {
        size_t used = strlen(out->reason);
        snprintf(out->reason + used, sizeof out->reason - used, "%s)", in->diag_detail);
    }
}

void cmon_threshold_text(const struct cmon_test_config *c, char *out, size_t cap)
{
    char a[32], b[32], given[96] = "", autos[96] = "";
    bool auto_rtt = !c->has_rtt_threshold && c->protocol != CMON_PROTO_HTTP;
    if (c->has_failed_pct_threshold && c->has_rtt_threshold)
        snprintf(given, sizeof given, "checks failed ≤ %s %%, RTT ≤ %s ms",
                 num(c->failed_pct_threshold, a, sizeof a), num(c->rtt_threshold_ms, b, sizeof b));
    else if (c->has_failed_pct_threshold)
        snprintf(given, sizeof given, "checks failed ≤ %s %%",
                 num(c->failed_pct_threshold, a, sizeof a));
    else if (c->has_rtt_threshold)
        snprintf(given, sizeof given, "RTT ≤ %s ms", num(c->rtt_threshold_ms, a, sizeof a));
    if (!c->has_failed_pct_threshold && auto_rtt)
        snprintf(autos, sizeof autos, "%s %% checks failed or %s ms RTT",
                 num(CMON_AUTO_FAILED_PCT, a, sizeof a), num(CMON_AUTO_RTT_MS, b, sizeof b));
    else if (!c->has_failed_pct_threshold)
        snprintf(autos, sizeof autos, "%s %% checks failed",
                 num(CMON_AUTO_FAILED_PCT, a, sizeof a));
    else if (auto_rtt)
        snprintf(autos, sizeof autos, "%s ms RTT", num(CMON_AUTO_RTT_MS, a, sizeof a));
    snprintf(out, cap, "%s%s%s%s", given, given[0] && autos[0] ? "; " : "",
             autos[0] ? "automatic: Warning above " : "", autos);
}

/* Fail: beyond a given threshold, or every check failed. */
static bool eval_fail(const struct cmon_state_input *in, struct cmon_state_eval *out)
{
    char a[32], b[32];
    bool fail = false;
    if (in->has_failed_pct_threshold && in->checks_failed_pct > in->failed_pct_threshold) {
        append(out->reason, sizeof out->reason, "ChecksFailedPercent %s > %s%s",
               num(in->checks_failed_pct, a, sizeof a), num(in->failed_pct_threshold, b, sizeof b),
               "");
        fail = true;
    } else if (in->checks_failed_pct >= 100.0) {
        append(out->reason, sizeof out->reason, "ChecksFailedPercent %s%s%s", "100",
               " (every check failed)", "");
        fail = true;
    }
    if (in->has_rtt && in->has_rtt_threshold && in->rtt_ms > in->rtt_threshold_ms) {
        append(out->reason, sizeof out->reason, "RoundTripTimeMs %s > %s%s",
               num(in->rtt_ms, a, sizeof a), num(in->rtt_threshold_ms, b, sizeof b), "");
        fail = true;
    }
    return fail;
}

/* Warning: above 80 % of a given threshold, or above an automatic one. */
static bool eval_warning(const struct cmon_state_input *in, struct cmon_state_eval *out)
{
    char a[32], b[32], c[48];
    bool warn = false;
    if (in->has_failed_pct_threshold) {
        double band = in->failed_pct_threshold * CMON_WARN_FRACTION;
        if (in->checks_failed_pct > band) {
            snprintf(c, sizeof c, " (80%% of %s)", num(in->failed_pct_threshold, a, sizeof a));
            append(out->reason, sizeof out->reason, "ChecksFailedPercent %s > %s%s",
                   num(in->checks_failed_pct, a, sizeof a), num(band, b, sizeof b), c);
            warn = true;
        }
    } else if (in->checks_failed_pct > CMON_AUTO_FAILED_PCT) {
        append(out->reason, sizeof out->reason, "ChecksFailedPercent %s > %s%s",
               num(in->checks_failed_pct, a, sizeof a), num(CMON_AUTO_FAILED_PCT, b, sizeof b),
               " (automatic threshold)");
        warn = true;
    }
    if (!in->has_rtt)
        return warn;
    if (in->has_rtt_threshold) {
        double band = in->rtt_threshold_ms * CMON_WARN_FRACTION;
        if (in->rtt_ms > band) {
            snprintf(c, sizeof c, " (80%% of %s)", num(in->rtt_threshold_ms, a, sizeof a));
            append(out->reason, sizeof out->reason, "RoundTripTimeMs %s > %s%s",
                   num(in->rtt_ms, a, sizeof a), num(band, b, sizeof b), c);
            warn = true;
        }
    } else if (in->protocol != CMON_PROTO_HTTP && in->rtt_ms > CMON_AUTO_RTT_MS) {
        append(out->reason, sizeof out->reason, "RoundTripTimeMs %s > %s%s",
               num(in->rtt_ms, a, sizeof a), num(CMON_AUTO_RTT_MS, b, sizeof b),
               " (automatic threshold)");
        warn = true;
    }
    return warn;
}

void cmon_test_state_eval(const struct cmon_state_input *in, struct cmon_state_eval *out)
{
    out->reason[0] = '\0';
    if (in->not_running) {
        out->state = CMON_STATE_NOT_RUNNING;
        snprintf(out->reason, sizeof out->reason, "%s",
                 has_text(in->not_running_reason) ? in->not_running_reason : "test group disabled");
        return;
    }
    if (in->agent_stopped) {
        out->state = CMON_STATE_INDETERMINATE;
        snprintf(out->reason, sizeof out->reason,
                 "agent_stopped (the source agent stopped reporting)");
        return;
    }
    if (!in->has_result) {
        out->state = CMON_STATE_INDETERMINATE;
        snprintf(out->reason, sizeof out->reason, "no result yet");
        return;
    }
    int64_t limit_ns = ((int64_t)in->frequency_sec * 2 + 30) * 1000000000LL;
    int64_t age_ns = in->now_ns - in->last_result_ns;
    if (age_ns > limit_ns) {
        out->state = CMON_STATE_INDETERMINATE;
        snprintf(out->reason, sizeof out->reason, "no result for %lld s (expected every %d s)",
                 (long long)(age_ns / 1000000000LL), in->frequency_sec);
        return;
    }
    if (eval_fail(in, out)) {
        out->state = CMON_STATE_FAIL;
        add_diagnostic(in, out);
        return;
    }
    if (eval_warning(in, out)) {
        out->state = CMON_STATE_WARNING;
        add_diagnostic(in, out);
        return;
    }
    out->state = CMON_STATE_PASS;
}

/* Severity order for roll-up: Not Running < Pass < Indeterminate < Warning < Fail. */
static int severity(enum cmon_state s)
{
    switch (s) {
    case CMON_STATE_NOT_RUNNING:
        return 0;
    case CMON_STATE_PASS:
        return 1;
    case CMON_STATE_INDETERMINATE:
        return 2;
    case CMON_STATE_WARNING:
        return 3;
    case CMON_STATE_FAIL:
        return 4;
    }
    return 2;
}

enum cmon_state cmon_state_worse(enum cmon_state acc, enum cmon_state s)
{
    return severity(s) > severity(acc) ? s : acc;
}

enum cmon_state cmon_state_rollup(const enum cmon_state *states, size_t n)
{
    enum cmon_state acc = CMON_STATE_NOT_RUNNING;
    for (size_t i = 0; i < n; i++)
        acc = cmon_state_worse(acc, states[i]);
    return acc;
}

static const char *const state_names[] = {"Indeterminate", "Pass", "Warning", "Fail",
                                          "Not Running"};

static const char *const state_keys[] = {"Indeterminate", "Pass", "Warning", "Fail",
                                         "NotRunning"};

const char *cmon_state_name(enum cmon_state s)
{
    return (unsigned)s < 5 ? state_names[s] : "Indeterminate";
}

const char *cmon_state_key(enum cmon_state s)
{
    return (unsigned)s < 5 ? state_keys[s] : "Indeterminate";
}

bool cmon_state_parse(const char *s, enum cmon_state *out)
{
    char norm[32];
    size_t n = 0;
    for (const char *p = s; *p && n < sizeof norm - 1; p++) {
        if (*p != ' ' && *p != '_' && *p != '-')
            norm[n++] = *p;
    }
    norm[n] = '\0';
    for (int i = 0; i < 5; i++) {
        if (strcasecmp(norm, state_keys[i]) == 0) {
            *out = (enum cmon_state)i;
            return true;
        }
    }
    return false;
}
