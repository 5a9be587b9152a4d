/* path.c: route comparison, hop issue attribution and the path's JSON form. */
#include "model/path.h"

#include "core/clock.h"
#include "model/result.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

double cmon_hop_loss_pct(const struct cmon_hop *h)
{
    if (h->sent == 0)
        return 0.0;
    return 100.0 * (double)(h->sent - h->received) / (double)h->sent;
}

bool cmon_path_same_route(const struct cmon_path *a, const struct cmon_path *b)
{
    if (a->n_hops != b->n_hops)
        return false;
    for (size_t i = 0; i < a->n_hops; i++) {
        const struct cmon_hop *x = &a->hops[i], *y = &b->hops[i];
        if (x->address[0] && y->address[0] && strcmp(x->address, y->address) != 0)
            return false;
    }
    return true;
}

static bool answers(const struct cmon_hop *h)
{
    return h->received > 0;
}

/* P(X >= k) for X ~ Binomial(n, q): the chance that a hop losing a fraction
 * q of probes loses k or more of n. */
static double binomial_tail(unsigned n, unsigned k, double q)
{
    double term = pow(1.0 - q, n), below = 0.0; /* P(X = 0) */
    for (unsigned i = 0; i < k && i <= n; i++) {
        below += term;
        term *= (double)(n - i) / (double)(i + 1) * q / (1.0 - q);
    }
    return below >= 1.0 ? 0.0 : 1.0 - below;
}

/* A hop's losses count only when a healthy hop would seldom lose that many
 * probes: one lost probe in ten is what a 1 % background loss (a busy router,
 * a rate-limited ICMP reply) gives one trace in ten, and it must not raise an
 * issue on every re-trace, while two in ten (p < 0.5 %) or 30 in 100 do. */
bool cmon_hop_loss_significant(const struct cmon_hop *h)
{
    unsigned lost = h->sent - h->received;
    return lost > 0 &&
           binomial_tail(h->sent, lost, CMON_HOP_BACKGROUND_LOSS) < CMON_HOP_LOSS_SIGNIFICANCE;
}

static bool loss_persists(const struct cmon_path *p, size_t from, double loss_pct)
{
    for (size_t j = from + 1; j < p->n_hops; j++) {
        if (answers(&p->hops[j]) && cmon_hop_loss_pct(&p->hops[j]) < loss_pct)
            return false;
    }
    return true;
}

static bool find_loss(const struct cmon_path *p, double loss_pct, struct cmon_hop_issue *out)
{
    size_t last_answer = SIZE_MAX;
    for (size_t i = 0; i < p->n_hops; i++) {
        const struct cmon_hop *h = &p->hops[i];
        if (!answers(h))
            continue;
        last_answer = i;
        double loss = cmon_hop_loss_pct(h);
        if (loss >= loss_pct && cmon_hop_loss_significant(h) && loss_persists(p, i, loss_pct)) {
            *out = (struct cmon_hop_issue){CMON_DIAG_HOP_LOSS, i, loss, loss_pct};
            return true;
        }
    }
    if (!p->reached && p->n_hops > 0) {
        size_t at = last_answer == SIZE_MAX ? 0 : last_answer + 1;
        if (at < p->n_hops) {
            *out = (struct cmon_hop_issue){CMON_DIAG_HOP_LOSS, at, 100.0, loss_pct};
            return true;
        }
    }
    return false;
}

static bool find_latency(const struct cmon_path *p, double latency_ms, struct cmon_hop_issue *out)
{
    double prev = 0.0; /* the agent itself */
    for (size_t i = 0; i < p->n_hops; i++) {
        const struct cmon_hop *h = &p->hops[i];
        if (!answers(h))
            continue;
        double step = h->rtt_avg_ms - prev;
        if (step >= latency_ms) {
            bool persists = true;
            for (size_t j = i + 1; j < p->n_hops && persists; j++) {
                if (answers(&p->hops[j]))
                    persists = p->hops[j].rtt_avg_ms - prev >= latency_ms;
            }
            if (persists) {
                *out = (struct cmon_hop_issue){CMON_DIAG_HOP_LATENCY, i, step, latency_ms};
                return true;
            }
        }
        prev = h->rtt_avg_ms;
    }
    return false;
}

size_t cmon_path_issues(const struct cmon_path *p, double loss_pct, double latency_ms,
                        struct cmon_hop_issue out[2])
{
    size_t n = 0;
    if (find_loss(p, loss_pct, &out[n]))
        n++;
    if (find_latency(p, latency_ms, &out[n]))
        n++;
    return n;
}

json_t *cmon_path_to_json(const struct cmon_path *p)
{
    json_t *hops = json_array();
    for (size_t i = 0; hops && i < p->n_hops; i++) {
        const struct cmon_hop *h = &p->hops[i];
        json_t *o = json_pack("{s:i, s:s, s:s, s:i, s:i, s:f}", "ttl", h->ttl, "address",
                              h->address, "name", h->name, "sent", (int)h->sent, "received",
                              (int)h->received, "lossPercent", cmon_hop_loss_pct(h));
        if (o && h->received > 0)
            json_object_set_new(o, "rtt",
                                json_pack("{s:f, s:f, s:f, s:f}", "min", h->rtt_min_ms, "avg",
                                          h->rtt_avg_ms, "max", h->rtt_max_ms, "jitter",
                                          h->rtt_jitter_ms));
        json_array_append_new(hops, o);
    }
    return json_pack("{s:b, s:o}", "reached", p->reached, "hops", hops);
}

static enum cmon_err decode_hop(const json_t *o, size_t i, struct cmon_hop *h,
                                struct cmon_errbuf *eb)
{
    json_t *rtt = NULL;
    const char *addr = "", *name = "";
    int ttl, sent, received;
    double loss;
    json_error_t jerr;
    if (json_unpack_ex((json_t *)o, &jerr, JSON_STRICT, "{s:i, s?s, s?s, s:i, s:i, s?F, s?o}",
                       "ttl", &ttl, "address", &addr, "name", &name, "sent", &sent, "received",
                       &received, "lossPercent", &loss, "rtt", &rtt) != 0)
        return cmon_fail(eb, CMON_ERR_INVALID, "hops[%zu]: %s", i, jerr.text);
    if (ttl < 1 || ttl > 255 || sent < 0 || sent > 1000 || received < 0 || received > sent)
        return cmon_fail(eb, CMON_ERR_INVALID,
                         "hops[%zu]: ttl 1-255, 0 <= received <= sent <= 1000 required", i);
    if (strlen(addr) >= sizeof h->address || strlen(name) >= sizeof h->name)
        return cmon_fail(eb, CMON_ERR_INVALID, "hops[%zu]: address or name too long", i);
    h->ttl = ttl;
    h->sent = (uint32_t)sent;
    h->received = (uint32_t)received;
    strcpy(h->address, addr);
    strcpy(h->name, name);
    if (received > 0) {
        if (!rtt || json_unpack_ex(rtt, &jerr, JSON_STRICT, "{s:F, s:F, s:F, s:F}", "min",
                                   &h->rtt_min_ms, "avg", &h->rtt_avg_ms, "max", &h->rtt_max_ms,
                                   "jitter", &h->rtt_jitter_ms) != 0)
            return cmon_fail(eb, CMON_ERR_INVALID, "hops[%zu].rtt: min, avg, max, jitter required",
                             i);
        if (!(h->rtt_min_ms >= 0 && isfinite(h->rtt_max_ms) &&
              cmon_rtt_ordered(h->rtt_min_ms, &h->rtt_avg_ms, h->rtt_max_ms)))
            return cmon_fail(eb, CMON_ERR_INVALID, "hops[%zu].rtt: 0 <= min <= avg <= max", i);
    }
    return CMON_OK;
}

enum cmon_err cmon_path_from_json(const json_t *j, struct cmon_path *p, struct cmon_errbuf *eb)
{
    memset(p, 0, sizeof *p);
    json_t *hops;
    int reached;
    json_error_t jerr;
    if (json_unpack_ex((json_t *)j, &jerr, JSON_STRICT, "{s:b, s:o}", "reached", &reached, "hops",
                       &hops) != 0)
        return cmon_fail(eb, CMON_ERR_INVALID, "path: %s", jerr.text);
    if (!json_is_array(hops) || json_array_size(hops) > CMON_MAX_HOPS)
        return cmon_fail(eb, CMON_ERR_INVALID, "path.hops: an array of at most %d hops",
                         CMON_MAX_HOPS);
    p->reached = reached;
    size_t i;
    json_t *o;
    json_array_foreach(hops, i, o)
    {
        enum cmon_err err = decode_hop(o, i, &p->hops[i], eb);
        if (err)
            return err;
        p->n_hops++;
    }
    return CMON_OK;
}

json_t *cmon_path_report_to_json(const struct cmon_path_report *r)
{
    char ts[40];
    return json_pack("{s:s, s:s, s:I, s:o}", "testId", r->test_id, "startTime",
                     cmon_rfc3339(r->time_ns, ts, sizeof ts), "startNs", (json_int_t)r->time_ns,
                     "path", cmon_path_to_json(&r->path));
}

enum cmon_err cmon_path_report_from_json(const json_t *j, struct cmon_path_report *r,
                                         struct cmon_errbuf *eb)
{
    memset(r, 0, sizeof *r);
    const char *id = NULL, *ts = NULL;
    json_int_t ns = 0;
    json_t *path = NULL;
    json_error_t jerr;
    if (json_unpack_ex((json_t *)j, &jerr, JSON_STRICT, "{s:s, s?s, s?I, s:o}", "testId", &id,
                       "startTime", &ts, "startNs", &ns, "path", &path) != 0)
        return cmon_fail(eb, CMON_ERR_INVALID, "paths: %s", jerr.text);
    if (strlen(id) != 16 || strspn(id, "0123456789abcdef") != 16)
        return cmon_fail(eb, CMON_ERR_INVALID, "testId: must be 16 lowercase hex characters");
    memcpy(r->test_id, id, 17);
    if (ns > 0)
        r->time_ns = ns;
    else if (!ts || cmon_parse_rfc3339(ts, &r->time_ns) != 0)
        return cmon_fail(eb, CMON_ERR_INVALID, "startTime: must be an RFC 3339 time");
    return cmon_path_from_json(path, &r->path, eb);
}
