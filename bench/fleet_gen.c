/* fleet_gen.c: what the fleet simulator invents and measures besides HTTP --
 * round results and traceroute paths in the agent protocol's JSON (built
 * with the model's own encoders, so the server decodes what real agents
 * send), latency percentiles, and the server's RSS and CPU from /proc.
 * Pure except proc_read().  See fleet.h for ownership. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fleet.h"
#include "model/path.h"
#include "model/result.h"

uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* 0..1 */
static double unit(uint64_t *rng)
{
    return (double)(rng_next(rng) >> 11) / (double)(1ULL << 53);
}

/* a stable base RTT per test, 2-80 ms, as a real destination has */
static double base_rtt_ms(const struct sim_test *t)
{
    unsigned h = 0;
    for (const char *p = t->id; *p; p++)
        h = h * 31u + (unsigned char)*p;
    return 2.0 + (double)(h % 7800) / 100.0;
}

static void round_failed(uint64_t *rng, const struct sim_test *t, struct cmon_round_result *r)
{
    r->checks_failed = r->checks_total;
    bool refused = t->proto != CMON_PROTO_ICMP && unit(rng) < 0.5;
    r->diagnostic = refused ? CMON_DIAG_CONNECTION_REFUSED : CMON_DIAG_TIMEOUT;
    snprintf(r->detail, sizeof r->detail, "%s", refused ? "errno 111" : "no answer in 2000 ms");
}

static void round_passed(uint64_t *rng, const struct sim_test *t, struct cmon_round_result *r)
{
    double base = base_rtt_ms(t);
    r->has_rtt = true;
    r->rtt_min_ms = base * (0.95 + 0.04 * unit(rng));
    r->rtt_avg_ms = base * (1.0 + 0.05 * unit(rng));
    r->rtt_max_ms = r->rtt_avg_ms * (1.0 + 0.3 * unit(rng));
    r->rtt_jitter_ms = (r->rtt_max_ms - r->rtt_min_ms) / 4;
    if (t->proto != CMON_PROTO_HTTP && unit(rng) < 0.03) {
        r->checks_failed = 1; /* one lost check, as a lossy path shows */
        r->diagnostic = CMON_DIAG_TIMEOUT;
    }
    if (t->proto == CMON_PROTO_HTTP) {
        r->http_status = 200;
        r->dns_ms = 0.5 + unit(rng);
        r->connect_ms = base / 3;
        r->tls_ms = base / 3;
        r->first_byte_ms = base * (0.9 + 0.2 * unit(rng));
    }
}

json_t *fleet_round_json(uint64_t *rng, const struct sim_test *t, int64_t start_ns)
{
    struct cmon_round_result r;
    memset(&r, 0, sizeof r);
    memcpy(r.test_id, t->id, sizeof r.test_id);
    r.start_ns = start_ns;
    r.checks_total = t->proto == CMON_PROTO_HTTP ? 3 : 10;
    r.dns_ms = r.connect_ms = r.tls_ms = r.first_byte_ms = -1;
    if (unit(rng) < 0.05)
        round_failed(rng, t, &r);
    else
        round_passed(rng, t, &r);
    return cmon_round_to_json(&r);
}

json_t *fleet_path_json(uint64_t *rng, const struct sim_test *t, int64_t start_ns)
{
    struct cmon_path_report rep;
    memset(&rep, 0, sizeof rep);
    memcpy(rep.test_id, t->id, sizeof rep.test_id);
    rep.time_ns = start_ns;
    size_t n = 3 + (size_t)(rng_next(rng) % 5);
    double rtt = 0.3;
    for (size_t i = 0; i < n; i++) {
        struct cmon_hop *h = &rep.path.hops[i];
        h->ttl = (int)i + 1;
        h->sent = h->received = 3;
        if (i + 1 < n && i == 2 && unit(rng) < 0.2) { /* a hop that does not answer */
            h->received = 0;
            continue;
        }
        snprintf(h->address, sizeof h->address, "10.%u.%zu.1", (unsigned)(t->id[0] & 0x3f), i);
        rtt += 1.0 + 5.0 * unit(rng);
        h->rtt_min_ms = rtt * 0.9;
        h->rtt_avg_ms = rtt;
        h->rtt_max_ms = rtt * 1.2;
        h->rtt_jitter_ms = rtt * 0.05;
    }
    rep.path.n_hops = n;
    rep.path.reached = true;
    return cmon_path_report_to_json(&rep);
}

void lat_add(struct lat *l, double ms)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        double *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return; /* a lost sample, not a wrong one */
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = ms;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double lat_pct(struct lat *l, double pct)
{
    if (!l->n)
        return 0;
    qsort(l->v, l->n, sizeof *l->v, cmp_double);
    size_t i = (size_t)(pct / 100.0 * (double)(l->n - 1) + 0.5);
    return l->v[i < l->n ? i : l->n - 1];
}

void lat_free(struct lat *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

static double proc_cpu_s(int pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

struct proc_sample proc_read(int pid)
{
    struct proc_sample s = {.rss_kb = -1, .cpu_s = -1, .ok = false};
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return s;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &s.rss_kb) == 1)
            break;
    fclose(f);
    s.cpu_s = proc_cpu_s(pid);
    s.ok = s.rss_kb >= 0 && s.cpu_s >= 0;
    return s;
}
