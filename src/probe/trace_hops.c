/* trace_hops.c: per-hop statistics of a trace: each answer's RTT in probe
 * order, the first address heard, where the destination was reached, and the
 * hop's loss and min/avg/max/jitter for the path. */
#include "probe/trace_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "model/result.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void trace_fill_hop(struct cmon_hop *h, int ttl, const struct trace_hop_acc *a)
{
    memset(h, 0, sizeof *h);
    h->ttl = ttl;
    snprintf(h->address, sizeof h->address, "%s", a->addr);
    h->sent = a->sent;
    h->received = a->received;
    if (!a->received)
        return;
    double sum = 0, jit = 0;
    for (uint32_t i = 0; i < a->received; i++) {
        sum += a->rtt[i];
        if (i)
            jit += fabs(a->rtt[i] - a->rtt[i - 1]);
    }
    h->rtt_jitter_ms = a->received > 1 ? jit / (a->received - 1) : 0;
    double *s = malloc(a->received * sizeof *s);
    if (s) {
        memcpy(s, a->rtt, a->received * sizeof *s);
        qsort(s, a->received, sizeof *s, cmp_double);
        h->rtt_min_ms = s[0];
        h->rtt_max_ms = s[a->received - 1];
        free(s);
        h->rtt_avg_ms = cmon_rtt_mean(sum, a->received, h->rtt_min_ms, h->rtt_max_ms);
    } else {
        h->rtt_min_ms = h->rtt_max_ms = h->rtt_avg_ms = sum / a->received;
    }
}

/* An answer for the probe of ttl sent at sent_ns, from addr. */
void trace_record(struct probe_trace *t, int ttl, int64_t sent_ns, const char *addr, bool dest)
{
    if (ttl < 1 || ttl > t->o.max_ttl)
        return;
    struct trace_hop_acc *h = &t->hops[ttl - 1];
    if (h->received < h->sent)
        h->rtt[h->received++] = (double)(cmon_mono_ns() - sent_ns) / 1e6;
    if (!h->addr[0] && addr[0])
        snprintf(h->addr, sizeof h->addr, "%s", addr);
    if (dest && (!t->reached_ttl || ttl < t->reached_ttl))
        t->reached_ttl = ttl;
}
