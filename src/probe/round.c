/* round.c: round aggregation (see round.h). */
#include "probe/round.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cmon_err probe_round_init(struct probe_round_acc *a, uint32_t n)
{
    memset(a, 0, sizeof *a);
    a->n = n;
    a->rtt = malloc((n ? n : 1) * sizeof *a->rtt);
    if (!a->rtt)
        return CMON_ERR_NOMEM;
    for (uint32_t i = 0; i < n; i++)
        a->rtt[i] = -1;
    a->dns_ms = a->connect_ms = a->tls_ms = a->first_byte_ms = -1;
    return CMON_OK;
}

void probe_round_free(struct probe_round_acc *a)
{
    free(a->rtt);
    a->rtt = NULL;
}

static void add_failure(struct probe_round_acc *a, uint32_t seq, const struct probe_check_result *r)
{
    a->failed++;
    for (uint32_t i = 0; i < a->n_diags; i++) {
        if (a->diags[i].diag == r->diag) {
            a->diags[i].count++;
            if (seq < a->diags[i].first_seq) { /* keep the detail of the earliest check */
                a->diags[i].first_seq = seq;
                memcpy(a->diags[i].detail, r->detail, sizeof a->diags[i].detail);
            }
            return;
        }
    }
    if (a->n_diags == PROBE_ROUND_DIAGS) {
        a->other_failures++;
        return;
    }
    struct probe_round_diag *d = &a->diags[a->n_diags++];
    d->diag = r->diag;
    d->count = 1;
    d->first_seq = seq;
    memcpy(d->detail, r->detail, sizeof d->detail);
    d->detail[sizeof d->detail - 1] = '\0';
}

void probe_round_add(struct probe_round_acc *a, uint32_t seq, const struct probe_check_result *r)
{
    if (seq >= a->n)
        return;
    a->done++;
    if (r->ok)
        a->rtt[seq] = r->rtt_ms >= 0 ? r->rtt_ms : 0;
    else
        add_failure(a, seq, r);
    if (!a->has_last || seq >= a->last_seq) {
        a->has_last = true;
        a->last_seq = seq;
        a->http_status = r->http_status;
        a->dns_ms = r->dns_ms;
        a->connect_ms = r->connect_ms;
        a->tls_ms = r->tls_ms;
        a->first_byte_ms = r->first_byte_ms;
    }
}

static void rtt_stats(const struct probe_round_acc *a, struct cmon_round_result *out)
{
    double sum = 0, jsum = 0, prev = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        double v = a->rtt[i];
        if (v < 0)
            continue;
        if (n == 0 || v < out->rtt_min_ms)
            out->rtt_min_ms = v;
        if (n == 0 || v > out->rtt_max_ms)
            out->rtt_max_ms = v;
        if (n > 0)
            jsum += fabs(v - prev);
        prev = v;
        sum += v;
        n++;
    }
    out->has_rtt = n > 0;
    out->rtt_avg_ms = n ? cmon_rtt_mean(sum, n, out->rtt_min_ms, out->rtt_max_ms) : 0;
    out->rtt_jitter_ms = n > 1 ? jsum / (n - 1) : 0;
    if (!n)
        out->rtt_min_ms = out->rtt_max_ms = 0;
}

void probe_round_finish(const struct probe_round_acc *a, struct cmon_round_result *out)
{
    out->checks_total = a->done;
    out->checks_failed = a->failed;
    rtt_stats(a, out);
    const struct probe_round_diag *best = NULL;
    for (uint32_t i = 0; i < a->n_diags; i++) {
        const struct probe_round_diag *d = &a->diags[i];
        if (!best || d->count > best->count ||
            (d->count == best->count && d->first_seq < best->first_seq))
            best = d;
    }
    out->diagnostic = best ? best->diag : CMON_DIAG_NONE;
    snprintf(out->detail, sizeof out->detail, "%s", best ? best->detail : "");
    out->http_status = a->http_status;
    out->dns_ms = a->dns_ms;
    out->connect_ms = a->connect_ms;
    out->tls_ms = a->tls_ms;
    out->first_byte_ms = a->first_byte_ms;
}
