/* members.c: combining the members' rounds of a compound source (members.h). */
#include "model/members.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

static int by_agent_newest(const void *a, const void *b)
{
    const struct cmon_member_round *x = a, *y = b;
    int c = strcmp(x->agent, y->agent);
    if (c)
        return c;
    return x->r->start_ns > y->r->start_ns ? -1 : x->r->start_ns < y->r->start_ns;
}

size_t cmon_members_pick(struct cmon_member_round *rounds, size_t n, int frequency_sec)
{
    int64_t newest = 0;
    for (size_t i = 0; i < n; i++) {
        if (rounds[i].r->start_ns > newest)
            newest = rounds[i].r->start_ns;
    }
    int64_t from = newest - (int64_t)frequency_sec * CMON_NS_PER_SEC;
    qsort(rounds, n, sizeof *rounds, by_agent_newest);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool first_of_agent = i == 0 || strcmp(rounds[i].agent, rounds[i - 1].agent) != 0;
        if (first_of_agent && rounds[i].r->start_ns >= from)
            rounds[k++] = rounds[i];
    }
    return k;
}

/* a worse than b: more checks failed, then a slower RTT */
static bool worse(const struct cmon_round_result *a, const struct cmon_round_result *b)
{
    double fa = cmon_round_failed_pct(a), fb = cmon_round_failed_pct(b);
    if (fa != fb)
        return fa > fb;
    return a->has_rtt && (!b->has_rtt || a->rtt_avg_ms > b->rtt_avg_ms);
}

void cmon_members_fold(const struct cmon_member_round *m, size_t n, struct cmon_members_fold *out)
{
    memset(out, 0, sizeof *out);
    uint64_t total = 0, failed = 0, ok = 0;
    double rtt_sum = 0;
    for (size_t i = 0; i < n; i++) {
        const struct cmon_round_result *r = m[i].r;
        total += r->checks_total;
        failed += r->checks_failed;
        if (r->has_rtt && r->checks_total > r->checks_failed) {
            uint32_t good = r->checks_total - r->checks_failed;
            ok += good;
            rtt_sum += r->rtt_avg_ms * good;
        }
        if (r->start_ns > out->latest_ns)
            out->latest_ns = r->start_ns;
        if (i && worse(r, m[out->worst].r))
            out->worst = i;
    }
    out->checks_failed_pct = total ? 100.0 * (double)failed / (double)total : 100.0;
    out->has_rtt = ok > 0;
    out->rtt_ms = ok ? rtt_sum / (double)ok : 0;
}
