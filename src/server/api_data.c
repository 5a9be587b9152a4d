/* api_data.c: raw data in and out -- round results by test and time range
 * (JSON, NDJSON, CSV), the read-only SQL endpoint, the agent-protocol results
 * endpoint (DESIGN 7: {batch, results} stored exactly once per agent and
 * batch, acked after commit) and token creation by admins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/text.h"
#include "server/server_internal.h"

#define RESULTS_DEFAULT_LIMIT 1000
#define RESULTS_MAX_LIMIT 100000
#define SQL_DEFAULT_ROWS 1000
#define SQL_MAX_ROWS 10000
#define SQL_TIMEOUT_MS 2000
#define AGENT_MAX_BATCH 10000

enum fmt { FMT_JSON, FMT_NDJSON, FMT_CSV };

struct results_out {
    enum fmt fmt;
    struct cmon_buf buf;
    json_t *items;
    size_t n, limit;
    int64_t next_ns;
};

static json_t *result_json(const struct store_result *sr)
{
    json_t *j = cmon_round_to_json(&sr->r);
    if (j)
        json_object_set_new(j, "agent", json_string(sr->agent));
    return j;
}

static void csv_field(struct cmon_buf *b, const char *s)
{
    cmon_buf_puts(b, "\"");
    for (; *s; s++) {
        if (*s == '"')
            cmon_buf_puts(b, "\""); /* RFC 4180: quotes double */
        cmon_buf_append(b, s, 1);
    }
    cmon_buf_puts(b, "\"");
}

static void csv_opt(struct cmon_buf *b, bool has, double v)
{
    if (has)
        cmon_buf_printf(b, ",%.3f", v);
    else
        cmon_buf_puts(b, ",");
}

static void csv_row(struct cmon_buf *b, const struct store_result *sr)
{
    const struct cmon_round_result *r = &sr->r;
    char ts[40];
    cmon_buf_printf(b, "%s,%s,", r->test_id, cmon_rfc3339(r->start_ns, ts, sizeof ts));
    csv_field(b, sr->agent);
    cmon_buf_printf(b, ",%u,%u", r->checks_total, r->checks_failed);
    csv_opt(b, r->has_rtt, r->rtt_min_ms);
    csv_opt(b, r->has_rtt, r->rtt_avg_ms);
    csv_opt(b, r->has_rtt, r->rtt_max_ms);
    csv_opt(b, r->has_rtt, r->rtt_jitter_ms);
    cmon_buf_printf(b, ",%s,", cmon_diag_code(r->diagnostic));
    csv_field(b, r->detail);
    cmon_buf_printf(b, ",%d\r\n", r->http_status);
}

static int result_one(void *arg, const struct store_result *sr)
{
    struct results_out *o = arg;
    if (o->n++ == o->limit) {
        o->next_ns = sr->r.start_ns;
        return 1;
    }
    if (o->fmt == FMT_JSON) {
        json_array_append_new(o->items, result_json(sr));
    } else if (o->fmt == FMT_NDJSON) {
        json_t *j = result_json(sr);
        char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (line)
            cmon_buf_printf(&o->buf, "%s\n", line);
        free(line);
        json_decref(j);
    } else {
        csv_row(&o->buf, sr);
    }
    return 0;
}

static bool results_args(struct req *r, struct results_out *o, int64_t *from, int64_t *to)
{
    const char *fmt = req_arg(r, "format"), *limit = req_arg(r, "limit");
    if (!req_arg(r, "testId")) {
        reply_error(r, 400, "invalid_parameter", "testId", "testId is required");
        return false;
    }
    o->fmt = !fmt || strcmp(fmt, "json") == 0 ? FMT_JSON
             : strcmp(fmt, "ndjson") == 0     ? FMT_NDJSON
             : strcmp(fmt, "csv") == 0        ? FMT_CSV
                                              : (enum fmt) - 1;
    if ((int)o->fmt < 0) {
        reply_error(r, 400, "invalid_parameter", "format", "format must be json, ndjson or csv");
        return false;
    }
    o->limit = RESULTS_DEFAULT_LIMIT;
    if (limit) {
        char *end;
        long long v = strtoll(limit, &end, 10);
        if (*end || v < 1 || v > RESULTS_MAX_LIMIT) {
            reply_error(r, 400, "invalid_parameter", "limit", "limit must be 1..%d",
                        RESULTS_MAX_LIMIT);
            return false;
        }
        o->limit = (size_t)v;
    }
    int64_t now = cmon_wall_ns();
    return req_time_arg(r, "from", now - 86400 * CMON_NS_PER_SEC, from) &&
           req_time_arg(r, "to", now + 60 * CMON_NS_PER_SEC, to);
}

static enum MHD_Result results_reply(struct req *r, struct results_out *o)
{
    char next[40];
    if (o->fmt == FMT_JSON)
        return reply_json(r, 200,
                          json_pack("{s:o, s:o}", "items", o->items, "next",
                                    o->next_ns
                                        ? json_string(cmon_rfc3339(o->next_ns, next, sizeof next))
                                        : json_null()));
    if (o->buf.oom) {
        cmon_buf_free(&o->buf);
        return reply_store_error(r, CMON_ERR_NOMEM, "out of memory");
    }
    size_t len = o->buf.len;
    char *text = cmon_buf_take(&o->buf);
    if (!text)
        text = strdup("");
    return reply_text(r, 200, o->fmt == FMT_CSV ? "text/csv" : "application/x-ndjson", text, len);
}

enum MHD_Result api_results(struct req *r)
{
    struct results_out o = {0};
    int64_t from, to;
    if (!results_args(r, &o, &from, &to))
        return MHD_YES;
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    cmon_buf_init(&o.buf);
    if (o.fmt == FMT_JSON)
        o.items = json_array();
    if (o.fmt == FMT_CSV)
        cmon_buf_puts(&o.buf, "testId,startTime,agent,checksTotal,checksFailed,rttMinMs,rttAvgMs,"
                              "rttMaxMs,rttJitterMs,diagnostic,detail,httpStatus\r\n");
    struct cmon_errbuf eb;
    enum cmon_err err =
        s->ops->result_query(s, req_arg(r, "testId"), from, to, o.limit + 1, result_one, &o, &eb);
    if (err) {
        json_decref(o.items);
        cmon_buf_free(&o.buf);
        return reply_store_error(r, err, eb.msg);
    }
    return results_reply(r, &o);
}

/* A query holds a pool thread for up to SQL_TIMEOUT_MS: at most half the
 * pool runs queries, so /healthz, the dashboard and agents keep a thread. */
static bool sql_slot_take(struct req *r)
{
    unsigned max = r->srv->opts.threads / 2 ? r->srv->opts.threads / 2 : 1;
    if (atomic_fetch_add(&r->srv->sql_running, 1) < max)
        return true;
    atomic_fetch_sub(&r->srv->sql_running, 1);
    reply_error(r, 503, "overloaded", NULL, "%u queries are running: try again shortly", max);
    return false;
}

static enum MHD_Result sql_execute(struct req *r, struct store *s, const char *sql, size_t rows)
{
    if (!sql_slot_take(r))
        return MHD_YES;
    json_t *out = NULL;
    struct cmon_errbuf eb;
    enum cmon_err err = s->ops->sql_query(s, sql, rows, SQL_TIMEOUT_MS, &out, &eb);
    atomic_fetch_sub(&r->srv->sql_running, 1);
    if (err == CMON_ERR_INVALID)
        return reply_error(r, 400, "invalid_query", "sql", "%s", eb.msg);
    return err ? reply_store_error(r, err, eb.msg) : reply_json(r, 200, out);
}

enum MHD_Result api_sql(struct req *r)
{
    json_t *body = req_json_body(r);
    if (!body)
        return MHD_YES;
    const char *sql = json_string_value(json_object_get(body, "sql"));
    json_t *mr = json_object_get(body, "maxRows");
    json_int_t max_rows = mr ? json_integer_value(mr) : SQL_DEFAULT_ROWS;
    enum MHD_Result ret;
    struct store *s;
    if (!sql) {
        ret = reply_error(r, 400, "invalid_parameter", "sql", "\"sql\" (a string) is required");
    } else if (mr && (!json_is_integer(mr) || max_rows < 1 || max_rows > SQL_MAX_ROWS)) {
        ret = reply_error(r, 400, "invalid_parameter", "maxRows", "maxRows must be 1..%d",
                          SQL_MAX_ROWS);
    } else if (!(s = req_store(r))) {
        ret = MHD_YES;
    } else {
        ret = sql_execute(r, s, sql, (size_t)max_rows);
    }
    json_decref(body);
    return ret;
}

/* Decode every result; false after replying 400 naming the bad field. */
static bool decode_results(struct req *r, json_t *arr, struct cmon_round_result **out, size_t *n)
{
    *n = json_array_size(arr);
    if (!json_is_array(arr) || *n > AGENT_MAX_BATCH) {
        reply_error(r, 400, "invalid_parameter", "results",
                    "results must be an array of at most %d round results", AGENT_MAX_BATCH);
        return false;
    }
    *out = calloc(*n ? *n : 1, sizeof **out);
    if (!*out) {
        reply_store_error(r, CMON_ERR_NOMEM, "out of memory");
        return false;
    }
    for (size_t i = 0; i < *n; i++) {
        struct cmon_errbuf eb = {{0}};
        if (cmon_round_from_json(json_array_get(arr, i), &(*out)[i], &eb) != CMON_OK) {
            char field[32];
            snprintf(field, sizeof field, "results[%zu]", i);
            reply_error(r, 400, "validation_failed", field, "%s: %s", field, eb.msg);
            free(*out);
            *out = NULL;
            return false;
        }
    }
    return true;
}

static enum MHD_Result submit_and_ack(struct req *r, json_int_t seq,
                                      const struct cmon_round_result *res, size_t n,
                                      const struct cmon_path_report *paths, size_t n_paths)
{
    struct ingest_wait w;
    ingest_wait_init(&w);
    struct cmon_errbuf eb;
    enum cmon_err err =
        ingest_submit_batch(r->srv->ingest, r->principal, seq, res, n, paths, n_paths, &w, &eb);
    if (!err) {
        ingest_wait_for(&w);
        err = w.err;
        snprintf(eb.msg, sizeof eb.msg, "%s", w.msg);
    }
    bool dup = w.duplicate;
    ingest_wait_destroy(&w);
    if (err == CMON_ERR_LIMIT || err == CMON_ERR_STORE)
        return reply_error(r, 503, "overloaded", NULL, "%s", eb.msg);
    if (err)
        return reply_store_error(r, err, eb.msg);
    return reply_json(r, 200, json_pack("{s:I, s:b}", "acked", seq, "duplicate", dup));
}

enum MHD_Result api_agent_results(struct req *r)
{
    json_t *body = req_json_body(r);
    if (!body)
        return MHD_YES;
    json_t *batch = json_object_get(body, "batch");
    enum MHD_Result ret;
    struct cmon_round_result *res = NULL;
    struct cmon_path_report *paths = NULL;
    size_t n = 0, n_paths = 0;
    if (r->role == STORE_ROLE_AGENT && !r->principal[0])
        ret = reply_error(r, 403, "forbidden", NULL,
                          "a workspace key may only register agents: send results with the "
                          "per-agent token that POST /api/v1/agents/register returned");
    else if (!json_is_integer(batch) || json_integer_value(batch) < 0)
        ret = reply_error(r, 400, "invalid_parameter", "batch",
                          "batch must be the batch's sequence number (an integer >= 0)");
    else if (!decode_results(r, json_object_get(body, "results"), &res, &n) ||
             !paths_decode(r, json_object_get(body, "paths"), &paths, &n_paths))
        ret = MHD_YES;
    else
        ret = submit_and_ack(r, json_integer_value(batch), res, n, paths, n_paths);
    free(res);
    free(paths);
    json_decref(body);
    return ret;
}

enum MHD_Result api_token_create(struct req *r)
{
    json_t *body = req_json_body(r);
    if (!body)
        return MHD_YES;
    const char *role_s = json_string_value(json_object_get(body, "role"));
    const char *name = json_string_value(json_object_get(body, "name"));
    enum store_role role;
    char token[64], hash[65];
    struct cmon_errbuf eb;
    enum MHD_Result ret;
    if (!role_s || !store_role_parse(role_s, &role)) {
        ret =
            reply_error(r, 400, "invalid_parameter", "role", "role must be reader, admin or agent");
    } else if (store_token_new(token, &eb) != CMON_OK) {
        ret = reply_store_error(r, CMON_ERR_IO, eb.msg);
    } else {
        store_token_hash(token, hash);
        pthread_mutex_lock(&r->srv->admin_mu);
        enum cmon_err err = r->srv->admin->ops->token_add(r->srv->admin, hash, role,
                                                          name ? name : "", cmon_wall_ns(), &eb);
        pthread_mutex_unlock(&r->srv->admin_mu);
        if (!err)
            atomic_store(&r->srv->auth_required, true);
        ret = err ? reply_store_error(r, err, eb.msg)
                  : reply_json(r, 201,
                               json_pack("{s:s, s:s, s:s}", "token", token, "role", role_s, "name",
                                         name ? name : ""));
    }
    json_decref(body);
    return ret;
}
