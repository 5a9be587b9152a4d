/* sql_build.c: the SQL of the metric query, the tests view and a test
 * field's distinct values for both backends (sql_build.h).  The two dialects
 * differ only in placeholders, the failed-percent expression, the substring
 * function, the collation of the order and where rows not folded into the
 * roll-ups yet are read from (SQLite: raw rows past the roll-up watermark;
 * PostgreSQL: the queue). */
#include <stdarg.h>
#include <stdio.h>

#include "core/clock.h"
#include "store/sql_build.h"

#define NS_PER_MIN (60 * CMON_NS_PER_SEC)
#define NS_PER_HOUR (3600 * CMON_NS_PER_SEC)

struct dialect {
    const char *param;                /* placeholder prefix: "?" or "$" */
    const char *int_cast, *text_cast; /* after the number */
    const char *raw_pct;              /* a raw result's failed percent (r = results) */
    const char *pending;              /* unfolded rows: failed percent expression, then FROM ... */
    const char *pending_from;
    const char *strpos;  /* strpos(haystack, needle): 1-based position, 0 if absent */
    const char *by_name; /* ORDER BY of monitor names: byte order */
    const char *bytes;   /* after a text column: its byte-order collation */
    const char *json_elems[2]; /* around a JSON array parameter: its text elements as rows of "value" */
};

static const struct dialect dialects[] = {
    [SQL_SQLITE] = {"?", "", "", "100.0 * r.checks_failed / r.checks_total",
                    "100.0 * checks_failed / checks_total",
                    "results WHERE id > (SELECT last_id FROM rollup_state)", "instr", "t.monitor",
                    "", {"json_each(", ")"}},
    [SQL_POSTGRES] = {"$", "::bigint", "::text",
                      "(100.0::float8 * r.checks_failed / nullif(r.checks_total, 0))", "failed_pct",
                      "rollup_pending", "strpos", "t.monitor COLLATE \"C\"",
                      " COLLATE \"C\"", {"json_array_elements_text(", "::json)"}},
};

/* The column of each dimension (model/dims.h).  SourceAddress and Region
 * are the source agent's reports: their filter value is the agents (JSON). */
static const struct {
    const char *column;
    bool agents;
} dim_column[CMON_DIM__COUNT] = {
    [CMON_DIM_MONITOR] = {"t.monitor"},
    [CMON_DIM_TEST_GROUP] = {"t.test_group"},
    [CMON_DIM_SOURCE] = {"t.source"},
    [CMON_DIM_DESTINATION] = {"t.destination"},
    [CMON_DIM_TEST_CONFIG] = {"t.test_config"},
    [CMON_DIM_PROTOCOL] = {"(CASE t.protocol WHEN 0 THEN 'icmp' WHEN 1 THEN 'tcp' ELSE 'http' END)"},
    [CMON_DIM_SOURCE_ADDRESS] = {"t.source_address", true},
    [CMON_DIM_SOURCE_RESOURCE_ID] = {"t.source_resource_id"},
    [CMON_DIM_SOURCE_TYPE] = {"t.source_type"},
    [CMON_DIM_DEST_ADDRESS] = {"t.destination_address"},
    [CMON_DIM_DEST_RESOURCE_ID] = {"t.destination_resource_id"},
    [CMON_DIM_DEST_TYPE] = {"t.destination_type"},
    [CMON_DIM_DEST_PORT] = {"CAST(t.port AS TEXT)"},
    [CMON_DIM_REGION] = {"t.source_address", true},
    [CMON_DIM_TEST_ID] = {"t.id"},
};


/* Appends to sql at *len; -1 once cap is reached. */
__attribute__((format(printf, 4, 5))) static int append(char *sql, size_t cap, size_t *len,
                                                        const char *fmt, ...)
{
    if (*len >= cap)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sql + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    *len += (size_t)n;
    return *len < cap ? 0 : -1;
}

/* lower(col) IN (the elements of the JSON array parameter) */
static int in_json(const struct dialect *d, const char *col, const char *param, char *sql,
                   size_t cap, size_t *len)
{
    return append(sql, cap, len, "lower(%s) IN (SELECT lower(value) FROM %s%s%s)", col,
                  d->json_elems[0], param, d->json_elems[1]);
}

/* Value and sample-count expressions (roll-up shape: sums keep averages exact). */
static int metric_expr(const struct dialect *d, bool raw, const struct store_metric_query *q,
                       char *sql, size_t cap, size_t *len)
{
    static const char *const agg_fn[] = {"avg", "min", "max"};
    static const char *const roll_expr[2][3] = {
        {"sum(r.failed_pct_sum) / sum(r.rounds), sum(r.rounds)",
         "min(r.failed_pct_min), sum(r.rounds)", "max(r.failed_pct_max), sum(r.rounds)"},
        {"sum(r.rtt_sum) / sum(r.rtt_n), sum(r.rtt_n)", "min(r.rtt_min), sum(r.rtt_n)",
         "max(r.rtt_max), sum(r.rtt_n)"},
    };
    if (!raw)
        return append(sql, cap, len, "%s", roll_expr[q->metric][q->agg]);
    if (q->metric == STORE_METRIC_RTT)
        return append(sql, cap, len, "%s(r.rtt_avg), count(r.rtt_avg)", agg_fn[q->agg]);
    return append(sql, cap, len, "%s(%s), count(*)", agg_fn[q->agg], d->raw_pct);
}

/* FROM: raw results, or a roll-up plus the rows not folded into it yet. */
static int source(const struct dialect *d, int64_t width, char *sql, size_t cap, size_t *len)
{
    if (!width)
        return append(sql, cap, len, "results");
    const char *p = d->pending;
    return append(sql, cap, len,
                  "(SELECT test_id, bucket_ns, rounds, failed_pct_sum, failed_pct_min,"
                  " failed_pct_max, rtt_n, rtt_sum, rtt_min, rtt_max FROM %s UNION ALL"
                  " SELECT test_id, start_ns / %lld * %lld, 1, %s, %s, %s,"
                  " CASE WHEN rtt_avg IS NULL THEN 0 ELSE 1 END, coalesce(rtt_avg, 0), rtt_avg,"
                  " rtt_avg FROM %s)",
                  width == NS_PER_HOUR ? "rollup_1h" : "rollup_1m", (long long)width,
                  (long long)width, p, p, p, d->pending_from);
}

static bool query_valid(const struct store_metric_query *q)
{
    if (q->interval_ns <= 0 || q->n_filters > STORE_MAX_DIM_FILTERS ||
        (unsigned)q->metric > STORE_METRIC_RTT || (unsigned)q->agg > STORE_AGG_MAX)
        return false;
    for (size_t i = 0; i < q->n_filters; i++) {
        if ((unsigned)q->filters[i].dim >= CMON_DIM__COUNT)
            return false;
    }
    return true;
}

int sql_build_metric(enum sql_dialect dia, const struct store_metric_query *q, char *sql,
                     size_t cap)
{
    if ((unsigned)dia > SQL_POSTGRES || !query_valid(q))
        return -1;
    const struct dialect *d = &dialects[dia];
    int64_t width = q->interval_ns % NS_PER_HOUR == 0  ? NS_PER_HOUR
                    : q->interval_ns % NS_PER_MIN == 0 ? NS_PER_MIN
                                                       : 0;
    const char *t = width ? "r.bucket_ns" : "r.start_ns";
    char p1[16], p2[16], p3[16];
    snprintf(p1, sizeof p1, "%s1%s", d->param, d->int_cast);
    snprintf(p2, sizeof p2, "%s2%s", d->param, d->int_cast);
    snprintf(p3, sizeof p3, "%s3%s", d->param, d->int_cast);
    size_t len = 0;
    int rc = append(sql, cap, &len, "SELECT (%s / %s) * %s AS b, ", t, p1, p1);
    rc |= metric_expr(d, !width, q, sql, cap, &len);
    rc |= append(sql, cap, &len, " FROM ");
    rc |= source(d, width, sql, cap, &len);
    rc |= append(sql, cap, &len, " r JOIN tests t ON t.id = r.test_id WHERE %s >= %s AND %s < %s",
                 t, p2, t, p3);
    if (q->metric == STORE_METRIC_RTT)
        rc |= append(sql, cap, &len, width ? " AND r.rtt_n > 0" : " AND r.rtt_avg IS NOT NULL");
    for (size_t i = 0; i < q->n_filters; i++) {
        char pv[16];
        snprintf(pv, sizeof pv, "%s%zu%s", d->param, i + 4, d->text_cast);
        enum cmon_dim dim = q->filters[i].dim;
        rc |= append(sql, cap, &len, " AND ");
        if (dim_column[dim].agents)
            rc |= in_json(d, dim_column[dim].column, pv, sql, cap, &len);
        else
            rc |= append(sql, cap, &len, "lower(%s) = lower(%s)", dim_column[dim].column, pv);
    }
    rc |= append(sql, cap, &len, " GROUP BY b ORDER BY b");
    return rc ? -1 : 0;
}

/* ---- the tests view ---- */

static const char test_columns[] =
    "SELECT t.id, t.monitor, t.number, t.test_group, t.source, t.source_address,"
    " t.source_type, t.destination, t.destination_address, t.destination_type, t.test_config,"
    " t.protocol, t.target, t.port, t.frequency_sec, t.failed_pct_threshold,"
    " t.rtt_threshold_ms, t.group_disabled, coalesce(m.running, false), t.state, t.reason,"
    " t.diagnostic, t.detail, t.last_result_ns, t.checks_failed_pct, t.rtt_ms,"
    " t.state_since_ns, t.source_resource_id, t.destination_resource_id"
    " FROM tests t LEFT JOIN monitors m ON m.name = t.monitor WHERE true";

/* Columns a search looks in, per scope. */
static const char *const scope_columns[][7] = {
    [STORE_SCOPE_ALL] = {"t.monitor", "t.test_group", "t.source", "t.destination",
                         "t.destination_address", "t.test_config", NULL},
    [STORE_SCOPE_SOURCES] = {"t.source", "t.source_address", NULL},
    [STORE_SCOPE_DESTINATIONS] = {"t.destination", "t.destination_address", NULL},
    [STORE_SCOPE_TEST_GROUPS] = {"t.test_group", NULL},
    [STORE_SCOPE_TEST_CONFIGS] = {"t.test_config", NULL},
    [STORE_SCOPE_MONITORS] = {"t.monitor", NULL},
};

static void add_param(const struct dialect *d, struct sql_tests *out, size_t *len,
                      enum sql_test_param p, const char *cond)
{
    out->params[out->n++] = p;
    bool is_int = p == SQL_TP_STATE || p == SQL_TP_PROTOCOL;
    append(out->sql, sizeof out->sql, len, " AND %s = %s%d%s", cond, d->param, out->n,
           is_int ? d->int_cast : d->text_cast);
}

static void add_search(const struct dialect *d, struct sql_tests *out, size_t *len,
                       const struct store_test_filter *f)
{
    out->params[out->n++] = SQL_TP_SEARCH;
    const char *const *cols = scope_columns[f->scope];
    for (size_t i = 0; cols[i]; i++)
        append(out->sql, sizeof out->sql, len, "%s%s(lower(%s), lower(%s%d%s)) > 0",
               i ? " OR " : " AND (", d->strpos, cols[i], d->param, out->n, d->text_cast);
    if (f->scope == STORE_SCOPE_SOURCES && f->source_agents) {
        out->params[out->n++] = SQL_TP_SOURCE_AGENTS;
        char pv[16];
        snprintf(pv, sizeof pv, "%s%d%s", d->param, out->n, d->text_cast);
        append(out->sql, sizeof out->sql, len, " OR (t.source_type = 'Agent' AND ");
        in_json(d, "t.source_address", pv, out->sql, sizeof out->sql, len);
        append(out->sql, sizeof out->sql, len, ")");
    }
    append(out->sql, sizeof out->sql, len, ")");
}

void sql_build_tests(enum sql_dialect dia, const struct store_test_filter *f, struct sql_tests *out)
{
    const struct dialect *d = &dialects[dia == SQL_POSTGRES ? SQL_POSTGRES : SQL_SQLITE];
    size_t len = 0;
    out->n = 0;
    append(out->sql, sizeof out->sql, &len, "%s", test_columns);
    if (f && f->monitor)
        add_param(d, out, &len, SQL_TP_MONITOR, "t.monitor");
    if (f && f->test_id)
        add_param(d, out, &len, SQL_TP_TEST_ID, "t.id");
    if (f && f->ids_json) {
        out->params[out->n++] = SQL_TP_IDS;
        append(out->sql, sizeof out->sql, &len, " AND t.id IN (SELECT value FROM %s%s%d%s)",
               d->json_elems[0], d->param, out->n, d->json_elems[1]);
    }
    static const struct {
        enum sql_test_param p;
        const char *column;
    } exact[] = {
        {SQL_TP_GROUP, "t.test_group"},     {SQL_TP_SOURCE, "t.source"},
        {SQL_TP_DESTINATION, "t.destination"}, {SQL_TP_CONFIG, "t.test_config"},
        {SQL_TP_DEST_TYPE, "t.destination_type"},
    };
    for (size_t i = 0; f && i < sizeof exact / sizeof exact[0]; i++) {
        if (sql_test_param_text(f, exact[i].p))
            add_param(d, out, &len, exact[i].p, exact[i].column);
    }
    if (f && f->has_state)
        add_param(d, out, &len, SQL_TP_STATE, "t.state");
    if (f && f->has_protocol)
        add_param(d, out, &len, SQL_TP_PROTOCOL, "t.protocol");
    if (f && f->search && *f->search && (unsigned)f->scope <= STORE_SCOPE_MONITORS)
        add_search(d, out, &len, f);
    append(out->sql, sizeof out->sql, &len, " ORDER BY %s, t.number", d->by_name);
}

const char *sql_test_param_text(const struct store_test_filter *f, enum sql_test_param p)
{
    switch (p) {
    case SQL_TP_MONITOR:
        return f->monitor;
    case SQL_TP_TEST_ID:
        return f->test_id;
    case SQL_TP_SEARCH:
        return f->search;
    case SQL_TP_SOURCE_AGENTS:
        return f->source_agents;
    case SQL_TP_IDS:
        return f->ids_json;
    case SQL_TP_GROUP:
        return f->group;
    case SQL_TP_SOURCE:
        return f->source;
    case SQL_TP_DESTINATION:
        return f->destination;
    case SQL_TP_CONFIG:
        return f->config;
    case SQL_TP_DEST_TYPE:
        return f->destination_type;
    default:
        return NULL;
    }
}

/* ---- a test field's distinct values (the filter bar's selectors) ---- */

int sql_build_distinct(enum sql_dialect dia, enum store_test_field field, char *sql, size_t cap)
{
    static const char *const column[] = {
        [STORE_TF_GROUP] = "test_group",      [STORE_TF_SOURCE] = "source",
        [STORE_TF_DESTINATION] = "destination", [STORE_TF_DEST_TYPE] = "destination_type",
        [STORE_TF_CONFIG] = "test_config",
    };
    if ((unsigned)dia > SQL_POSTGRES || (unsigned)field > STORE_TF_CONFIG)
        return -1;
    const struct dialect *d = &dialects[dia];
    const char *c = column[field];
    size_t len = 0;
    /* GROUP BY, not DISTINCT: PostgreSQL orders a DISTINCT only by its
     * select list, and the byte order is another expression there */
    return append(sql, cap, &len, "SELECT %s FROM tests WHERE %s <> '' GROUP BY %s ORDER BY %s%s"
                  " LIMIT %s1%s", c, c, c, c, d->bytes, d->param, d->int_cast);
}
