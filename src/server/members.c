/* members.c: compound sources' tests on the server (members.h). */
#include "server/members.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/grow.h"
#include "model/diag.h"

bool members_compound(const struct store_test *t)
{
    return t->source_type && strcmp(t->source_type, "Agent") != 0 &&
           strcmp(t->source_type, "ExternalAddress") != 0;
}

static int keep_round(void *arg, const struct store_result *sr)
{
    struct members *m = arg;
    if (!cmon_grow(&m->rounds, &m->cap, m->n_rounds + 1, sizeof *m->rounds)) {
        m->nomem = true;
        return 1;
    }
    struct member_copy *c = &m->rounds[m->n_rounds++];
    snprintf(c->agent, sizeof c->agent, "%s", sr->agent ? sr->agent : "");
    c->r = sr->r;
    return 0;
}

enum cmon_err members_load(struct store *s, const char *test_id, int frequency_sec,
                           int64_t now_ns, struct members *out, struct cmon_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    int64_t from = now_ns - (2 * (int64_t)frequency_sec + 30) * CMON_NS_PER_SEC;
    enum cmon_err err = s->ops->result_query(s, test_id, from, now_ns + 1, 100000, keep_round,
                                             out, eb);
    if (!err && out->nomem)
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    if (!err && !(out->m = calloc(out->n_rounds + 1, sizeof *out->m)))
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    if (err) {
        members_free(out);
        return err;
    }
    for (size_t i = 0; i < out->n_rounds; i++)
        out->m[i] = (struct cmon_member_round){out->rounds[i].agent, &out->rounds[i].r};
    out->n = cmon_members_pick(out->m, out->n_rounds, frequency_sec);
    return CMON_OK;
}

void members_free(struct members *m)
{
    free(m->rounds);
    free(m->m);
    memset(m, 0, sizeof *m);
}

void members_eval(const struct members *m, struct cmon_state_input *in,
                  struct cmon_round_result *combined, struct cmon_state_eval *out)
{
    struct cmon_members_fold f;
    if (m->n) {
        cmon_members_fold(m->m, m->n, &f);
        const struct cmon_round_result *w = m->m[f.worst].r;
        in->has_result = true;
        in->last_result_ns = f.latest_ns;
        in->checks_failed_pct = f.checks_failed_pct;
        in->has_rtt = f.has_rtt;
        in->rtt_ms = f.rtt_ms;
        in->diagnostic = cmon_diag_code(w->diagnostic);
        in->diag_detail = w->detail;
        if (combined) {
            *combined = *w; /* the worst member's diagnostic and detail */
            combined->start_ns = f.latest_ns;
            combined->checks_total = combined->checks_failed = 0;
            for (size_t i = 0; i < m->n; i++) {
                combined->checks_total += m->m[i].r->checks_total;
                combined->checks_failed += m->m[i].r->checks_failed;
            }
            combined->has_rtt = f.has_rtt;
            combined->rtt_avg_ms = f.rtt_ms;
        }
    }
    cmon_test_state_eval(in, out);
    if (!m->n || (out->state != CMON_STATE_FAIL && out->state != CMON_STATE_WARNING))
        return;
    const struct cmon_round_result *w = m->m[f.worst].r;
    size_t used = strlen(out->reason);
    snprintf(out->reason + used, sizeof out->reason - used, "%sworst member %s (%.4g%% failed)",
             used ? "; " : "", m->m[f.worst].agent, cmon_round_failed_pct(w));
}
