/* api_metrics.c: the metrics query API (DESIGN 6: ChecksFailedPercent and
 * RoundTripTimeMs plus legacy aliases, dimension filters, interval,
 * aggregation) and /metrics in Prometheus text format.
 * Prometheus names follow Prometheus' base units so `promtool check metrics`
 * is clean: RTT is cmon_round_trip_time_seconds (the API keeps milliseconds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/text.h"
#include "server/server_internal.h"
#include "server/sources.h"

#define MAX_POINTS 10000

static const struct {
    const char *name;
    enum store_metric metric;
    const char *unit;
} metric_names[] = {
    {"ChecksFailedPercent", STORE_METRIC_FAILED_PCT, "Percent"},
    {"ProbesFailedPercent", STORE_METRIC_FAILED_PCT, "Percent"},
    {"RoundTripTimeMs", STORE_METRIC_RTT, "MilliSeconds"},
    {"AverageRoundtripMs", STORE_METRIC_RTT, "MilliSeconds"},
};

static const char *const agg_names[] = {"avg", "min", "max"};
static const char *const agg_labels[] = {"Average", "Minimum", "Maximum"};

/* "PT1M", "PT1H", "PT30S", "P1D", "1m", "30s", "1h", "1d" -> ns; 0 when bad. */
static int64_t parse_interval(const char *s)
{
    char *end;
    const char *p = s;
    bool iso = false;
    if (p[0] == 'P' || p[0] == 'p') {
        iso = true;
        p++;
        if (*p == 'T' || *p == 't')
            p++;
    }
    long long v = strtoll(p, &end, 10);
    if (end == p || v <= 0 || end[1] != '\0')
        return 0;
    int64_t unit;
    switch (end[0] | 0x20) {
    case 's':
        unit = CMON_NS_PER_SEC;
        break;
    case 'm':
        unit = 60 * CMON_NS_PER_SEC;
        break;
    case 'h':
        unit = 3600 * CMON_NS_PER_SEC;
        break;
    case 'd':
        unit = 86400 * CMON_NS_PER_SEC;
        break;
    default:
        return 0;
    }
    (void)iso;
    return v > 366LL * 86400 ? 0 : v * unit;
}

static bool metric_args(struct req *r, struct store_metric_query *q, const char **unit)
{
    const char *name = req_arg(r, "name"), *agg = req_arg(r, "aggregation");
    const char *interval = req_arg(r, "interval");
    size_t i = 0;
    while (name && i < sizeof metric_names / sizeof metric_names[0] &&
           strcasecmp(metric_names[i].name, name) != 0)
        i++;
    if (!name || i == sizeof metric_names / sizeof metric_names[0]) {
        reply_error(r, 400, "invalid_parameter", "name",
                    "name must be ChecksFailedPercent or RoundTripTimeMs (or the legacy "
                    "ProbesFailedPercent, AverageRoundtripMs)");
        return false;
    }
    q->metric = metric_names[i].metric;
    *unit = metric_names[i].unit;
    q->agg = STORE_AGG_AVG;
    if (agg) {
        size_t k = 0;
        while (k < 3 && strcasecmp(agg, agg_names[k]) != 0 && strcasecmp(agg, agg_labels[k]) != 0)
            k++;
        if (k == 3) {
            reply_error(r, 400, "invalid_parameter", "aggregation",
                        "aggregation must be avg, min or max");
            return false;
        }
        q->agg = (enum store_agg)k;
    }
    q->interval_ns = interval ? parse_interval(interval) : 60 * CMON_NS_PER_SEC;
    if (!q->interval_ns) {
        reply_error(r, 400, "invalid_parameter", "interval",
                    "interval must look like PT1M, PT5M, PT1H, P1D or 30s, 5m, 1h");
        return false;
    }
    return true;
}

/* The query's parameters: the query's own and every dimension (model/dims.h:
 * the seed's names), nothing else -- a typo is a 400 with a did-you-mean. */
static bool metric_params_known(struct req *r)
{
    const char *known[8 + CMON_DIM__COUNT] = {"name", "aggregation", "interval", "from", "to"};
    size_t n = 5;
    for (int d = 0; d < CMON_DIM__COUNT; d++)
        known[n++] = cmon_dim_info((enum cmon_dim)d)->name;
    return req_known_args(r, known, n);
}

/* SourceAddress (the agent's primary address) and Region are the agents'
 * reports: the filter becomes the agents reporting them, as JSON (kept in
 * owned[] until the query ran).  false after replying. */
static bool agents_filter(struct req *r, struct store *s, struct source_book *b, bool *loaded,
                          enum cmon_dim d, const char *value, char **owned)
{
    struct cmon_errbuf eb;
    enum cmon_err err = *loaded ? CMON_OK : source_book_load(&r->srv->opts, s, b, &eb);
    *loaded = !err;
    if (!err && !(*owned = source_book_select(
                      b, d == CMON_DIM_REGION ? SOURCE_MATCH_REGION : SOURCE_MATCH_PRIMARY, value)))
        err = cmon_fail(&eb, CMON_ERR_NOMEM, "out of memory");
    if (err)
        reply_store_error(r, err, eb.msg);
    return !err;
}

static bool metric_filters(struct req *r, struct store *s, struct store_metric_query *q,
                           char *owned[2])
{
    struct source_book b;
    bool loaded = false, ok = true;
    size_t n_owned = 0;
    for (int d = 0; ok && d < CMON_DIM__COUNT; d++) {
        const char *v = req_arg(r, cmon_dim_info((enum cmon_dim)d)->name);
        if (!v)
            continue;
        if (d == CMON_DIM_SOURCE_ADDRESS || d == CMON_DIM_REGION) {
            ok = agents_filter(r, s, &b, &loaded, (enum cmon_dim)d, v, &owned[n_owned]);
            v = owned[n_owned++];
        }
        q->filters[q->n_filters].dim = (enum cmon_dim)d;
        q->filters[q->n_filters++].value = v;
    }
    if (loaded)
        source_book_free(&b);
    if (!ok)
        return false;
    int64_t now = server_now(r->srv);
    if (!req_time_arg(r, "from", now - 3600 * CMON_NS_PER_SEC, &q->from_ns) ||
        !req_time_arg(r, "to", now, &q->to_ns))
        return false;
    if (q->to_ns <= q->from_ns) {
        reply_error(r, 400, "invalid_parameter", "to", "to must be after from");
        return false;
    }
    if ((q->to_ns - q->from_ns) / q->interval_ns > MAX_POINTS) {
        reply_error(r, 400, "invalid_parameter", "interval",
                    "at most %d points per query: widen the interval or narrow from/to",
                    MAX_POINTS);
        return false;
    }
    return true;
}

static int add_point(void *arg, int64_t bucket_ns, double value, int64_t samples)
{
    char ts[40];
    json_array_append_new(arg, json_pack("{s:s, s:f, s:I}", "time",
                                         cmon_rfc3339(bucket_ns, ts, sizeof ts), "value", value,
                                         "samples", (json_int_t)samples));
    return 0;
}

enum MHD_Result api_metrics_query(struct req *r)
{
    struct store_metric_query q = {0};
    const char *unit = NULL;
    if (!metric_params_known(r) || !metric_args(r, &q, &unit))
        return MHD_YES;
    struct store *s = req_store(r);
    char *owned[2] = {NULL, NULL};
    bool ok = s && metric_filters(r, s, &q, owned);
    json_t *points = ok ? json_array() : NULL;
    struct cmon_errbuf eb;
    enum cmon_err err = ok ? s->ops->metric_query(s, &q, add_point, points, &eb) : CMON_OK;
    free(owned[0]);
    free(owned[1]);
    if (!ok)
        return MHD_YES;
    if (err) {
        json_decref(points);
        return reply_store_error(r, err, eb.msg);
    }
    char from[40], to[40];
    return reply_json(r, 200,
                      json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o}", "name", req_arg(r, "name"),
                                "unit", unit, "aggregation", agg_labels[q.agg], "intervalSec",
                                (json_int_t)(q.interval_ns / CMON_NS_PER_SEC), "from",
                                cmon_rfc3339(q.from_ns, from, sizeof from), "to",
                                cmon_rfc3339(q.to_ns, to, sizeof to), "points", points));
}

/* ---- Prometheus ---- */

/* Every dimension as a label (model/dims.h), test_id first. */
static void put_labels(struct cmon_buf *b, const struct store_test *t,
                       const struct source_book *book)
{
    struct test_dims td;
    test_dims_of(book, t, &td);
    cmon_buf_puts(b, "{");
    cmon_buf_prom_label(b, cmon_dim_info(CMON_DIM_TEST_ID)->label, t->id);
    for (int d = 0; d < CMON_DIM__COUNT; d++) {
        if (d == CMON_DIM_TEST_ID)
            continue;
        cmon_buf_puts(b, ",");
        cmon_buf_prom_label(b, cmon_dim_info((enum cmon_dim)d)->label, td.v[d]);
    }
    cmon_buf_puts(b, "}");
}

#define PROM_FAMILIES 3

/* One walk of the tests; each family's samples gather in a buffer of their
 * own, so each metric's samples stay together, as the format wants. */
struct prom {
    struct cmon_buf fam[PROM_FAMILIES];
    struct cmon_buf labels; /* the current test's, built once for all families */
    const struct source_book *book;
};

static int prom_test(void *arg, const struct store_test *t)
{
    struct prom *p = arg;
    static const char *const names[] = {"cmon_checks_failed_percent",
                                        "cmon_round_trip_time_seconds", "cmon_test_state"};
    p->labels.len = 0;
    put_labels(&p->labels, t, p->book);
    const bool has[] = {t->has_result, t->has_rtt, true};
    const double v[] = {t->checks_failed_pct, t->rtt_ms / 1000.0, (double)t->state};
    for (int f = 0; f < PROM_FAMILIES; f++) {
        if (!has[f])
            continue;
        cmon_buf_puts(&p->fam[f], names[f]);
        cmon_buf_append(&p->fam[f], p->labels.data ? p->labels.data : "", p->labels.len);
        cmon_buf_printf(&p->fam[f], " %.15g\n", v[f]);
    }
    return 0;
}

static const char *const prom_help[] = {
    "# HELP cmon_checks_failed_percent Checks failed in the test's latest round, in percent.\n"
    "# TYPE cmon_checks_failed_percent gauge\n",
    "# HELP cmon_round_trip_time_seconds Average round-trip time of the latest round's "
    "successful checks.\n# TYPE cmon_round_trip_time_seconds gauge\n",
    "# HELP cmon_test_state Test state: 0 Indeterminate, 1 Pass, 2 Warning, 3 Fail, 4 Not "
    "Running.\n# TYPE cmon_test_state gauge\n",
};

static void prom_server_stats(struct cmon_server *srv, struct cmon_buf *b)
{
    struct writer_stats st;
    writer_get_stats(srv->writer, &st);
    cmon_buf_printf(b,
                    "# HELP cmon_ingest_results_total Round results stored.\n"
                    "# TYPE cmon_ingest_results_total counter\n"
                    "cmon_ingest_results_total %llu\n"
                    "# HELP cmon_ingest_dropped_results_total Round results that failed to store.\n"
                    "# TYPE cmon_ingest_dropped_results_total counter\n"
                    "cmon_ingest_dropped_results_total %llu\n"
                    "# HELP cmon_ingest_duplicate_batches_total Agent batches received again "
                    "and ignored.\n"
                    "# TYPE cmon_ingest_duplicate_batches_total counter\n"
                    "cmon_ingest_duplicate_batches_total %llu\n"
                    "# HELP cmon_ingest_queued_results Round results waiting to be stored.\n"
                    "# TYPE cmon_ingest_queued_results gauge\n"
                    "cmon_ingest_queued_results %llu\n"
                    "# HELP cmon_write_overloaded_total Writes refused with 503 overloaded "
                    "(write queue full, or not started within the deadline).\n"
                    "# TYPE cmon_write_overloaded_total counter\n"
                    "cmon_write_overloaded_total %llu\n"
                    "# HELP cmon_assignment_monitor_parses_total Monitors parsed to answer "
                    "agents' assignment polls (an unchanged poll parses none).\n"
                    "# TYPE cmon_assignment_monitor_parses_total counter\n"
                    "cmon_assignment_monitor_parses_total %llu\n"
                    "# HELP cmon_http_requests_total HTTP requests received.\n"
                    "# TYPE cmon_http_requests_total counter\n"
                    "cmon_http_requests_total %llu\n"
                    "# HELP cmon_http_writes_waiting HTTP requests whose write the writer "
                    "has not answered yet (their connection set aside).\n"
                    "# TYPE cmon_http_writes_waiting gauge\n"
                    "cmon_http_writes_waiting %llu\n",
                    (unsigned long long)st.results_stored, (unsigned long long)st.results_dropped,
                    (unsigned long long)st.batches_duplicate, (unsigned long long)st.queued_results,
                    (unsigned long long)st.refused_busy,
                    (unsigned long long)atomic_load(&srv->assignment_parses),
                    (unsigned long long)atomic_load(&srv->requests),
                    (unsigned long long)st.submitted);
}

enum MHD_Result api_prometheus(struct req *r)
{
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    struct cmon_buf b;
    cmon_buf_init(&b);
    struct source_book book;
    struct prom p = {.book = &book};
    for (int f = 0; f < PROM_FAMILIES; f++)
        cmon_buf_init(&p.fam[f]);
    cmon_buf_init(&p.labels);
    struct cmon_errbuf eb;
    enum cmon_err err = source_book_load(&r->srv->opts, s, &book, &eb);
    if (!err) {
        err = s->ops->test_query(s, NULL, prom_test, &p, &eb);
        source_book_free(&book);
    }
    for (int f = 0; f < PROM_FAMILIES; f++) {
        cmon_buf_puts(&b, prom_help[f]);
        cmon_buf_append(&b, p.fam[f].data ? p.fam[f].data : "", p.fam[f].len);
        b.oom |= p.fam[f].oom || p.labels.oom;
        cmon_buf_free(&p.fam[f]);
    }
    cmon_buf_free(&p.labels);
    prom_server_stats(r->srv, &b);
    if (err || b.oom) {
        cmon_buf_free(&b);
        return reply_store_error(r, err ? err : CMON_ERR_NOMEM, err ? eb.msg : "out of memory");
    }
    size_t len = b.len;
    return reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", cmon_buf_take(&b), len);
}
