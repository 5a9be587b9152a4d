/* api_data.c: raw data in and out -- round results by test or by the
 * views' filters and time range (JSON, NDJSON, CSV; each round named by its
 * monitor, group, source, destination and configuration), the read-only SQL
 * endpoint, the agent-protocol results endpoint (DESIGN 7: {batch, results}
 * stored exactly once per agent and batch, acked after commit) and token
 * creation by admins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/text.h"
#include "model/agent_body.h"
#include "server/agent_rounds.h"
#include "server/server_internal.h"

#define RESULTS_DEFAULT_LIMIT 1000
#define RESULTS_MAX_LIMIT 100000
#define SQL_DEFAULT_ROWS 1000
#define SQL_MAX_ROWS 10000
#define SQL_TIMEOUT_MS 2000
#define RESULTS_MAX_TESTS 10000

/* The names a round is shown with, from its test: JSON keys and CSV columns. */
static const char *const result_name_keys[] = {"monitor",     "testGroup",         "source",
                                               "destination", "testConfiguration", "protocol"};
#define N_RESULT_NAMES (sizeof result_name_keys / sizeof result_name_keys[0])

enum fmt { FMT_JSON, FMT_NDJSON, FMT_CSV };

struct results_out {
    enum fmt fmt;
    struct cmon_buf buf;
    json_t *items;
    size_t n, limit;
    int64_t next_ns;
    json_t *names; /* test id -> {monitor, testGroup, ...} of the matching tests */
    json_t *ids;   /* the matching tests' ids */
};

static json_t *result_json(const struct results_out *o, const struct store_result *sr)
{
    json_t *j = cmon_round_to_json(&sr->r);
    if (j) {
        json_object_set_new(j, "agent", json_string(sr->agent));
        json_object_update(j, json_object_get(o->names, sr->r.test_id));
    }
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

static void csv_row(struct cmon_buf *b, const json_t *names, const struct store_result *sr)
{
    const struct cmon_round_result *r = &sr->r;
    char ts[40];
    cmon_buf_printf(b, "%s,%s,", r->test_id, cmon_rfc3339(r->start_ns, ts, sizeof ts));
    for (size_t i = 0; i < N_RESULT_NAMES; i++) {
        const char *v = json_string_value(json_object_get(names, result_name_keys[i]));
        csv_field(b, v ? v : "");
        cmon_buf_puts(b, ",");
    }
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
        json_array_append_new(o->items, result_json(o, sr));
    } else if (o->fmt == FMT_NDJSON) {
        json_t *j = result_json(o, sr);
        char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (line)
            cmon_buf_printf(&o->buf, "%s\n", line);
        free(line);
        json_decref(j);
    } else {
        csv_row(&o->buf, json_object_get(o->names, sr->r.test_id), sr);
    }
    return 0;
}

/* Each test the filters match: its id, and its names for the rounds. */
static int results_test(void *arg, const struct store_test *t)
{
    struct results_out *o = arg;
    if (json_array_size(o->ids) == RESULTS_MAX_TESTS)
        return 1;
    const char *vals[N_RESULT_NAMES] = {t->monitor,     t->group,  t->source,
                                        t->destination, t->config, cmon_protocol_name(t->protocol)};
    json_t *n = json_object();
    for (size_t i = 0; i < N_RESULT_NAMES; i++)
        json_object_set_new(n, result_name_keys[i], json_string(vals[i]));
    json_object_set_new(o->names, t->id, n);
    json_array_append_new(o->ids, json_string(t->id));
    return 0;
}

static bool results_args(struct req *r, struct results_out *o, struct store_test_filter *f,
                         int64_t *from, int64_t *to)
{
    static const char *const own[] = {"testId", "from", "to", "limit", "format"};
    const char *fmt = req_arg(r, "format"), *limit = req_arg(r, "limit");
    if (!views_filter(r, own, sizeof own / sizeof own[0], f))
        return false;
    f->test_id = req_arg(r, "testId");
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
    int64_t now = server_now(r->srv);
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

/* The rounds of the tests the filters match: their ids and names first
 * (the views' own filter), then their rounds in one ordered query. */
static enum cmon_err results_read(struct store *s, const struct store_test_filter *f,
                                  struct results_out *o, int64_t from, int64_t to,
                                  struct cmon_errbuf *eb)
{
    o->names = json_object();
    o->ids = json_array();
    enum cmon_err err = s->ops->test_query(s, f, results_test, o, eb);
    bool only_id = f->test_id && !f->monitor && !f->has_state && !f->has_protocol && !f->search;
    if (!err && only_id && !json_array_size(o->ids)) /* a test gone with its monitor */
        json_array_append_new(o->ids, json_string(f->test_id));
    char *ids = err || !json_array_size(o->ids) ? NULL : json_dumps(o->ids, JSON_COMPACT);
    if (!err && ids)
        err = s->ops->result_query_many(s, ids, from, to, o->limit + 1, result_one, o, eb);
    else if (!err && json_array_size(o->ids))
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    free(ids);
    return err;
}

enum MHD_Result api_results(struct req *r)
{
    struct results_out o = {0};
    struct store_test_filter f;
    int64_t from, to;
    if (!results_args(r, &o, &f, &from, &to))
        return MHD_YES;
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    cmon_buf_init(&o.buf);
    if (o.fmt == FMT_JSON)
        o.items = json_array();
    if (o.fmt == FMT_CSV)
        cmon_buf_puts(&o.buf, "testId,startTime,monitor,testGroup,source,destination,"
                              "testConfiguration,protocol,agent,checksTotal,checksFailed,"
                              "rttMinMs,rttAvgMs,rttMaxMs,rttJitterMs,diagnostic,detail,"
                              "httpStatus\r\n");
    struct cmon_errbuf eb;
    enum cmon_err err = results_read(s, &f, &o, from, to, &eb);
    json_decref(o.names);
    json_decref(o.ids);
    if (err) {
        json_decref(o.items);
        cmon_buf_free(&o.buf);
        return reply_store_error(r, err, eb.msg);
    }
    return results_reply(r, &o);
}

/* A query holds a pool thread and a core for up to SQL_TIMEOUT_MS: at most
 * SQL_MAX_RUNNING run at once, so /healthz, the dashboard and agents keep
 * threads and CPU. */
#define SQL_MAX_RUNNING 2

static bool sql_slot_take(struct req *r)
{
    unsigned max = SQL_MAX_RUNNING;
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

/* What a batch's command borrows until the writer answers (the request's
 * hold): the decoded batch, and the rounds the trust check refused. */
struct batch_hold {
    struct cmon_agent_batch b;
    json_t *rejected;
};

static void batch_hold_free(void *p)
{
    struct batch_hold *h = p;
    cmon_agent_batch_free(&h->b);
    json_decref(h->rejected);
    free(h);
}

/* The writer answered: ack the batch with the refused rounds listed. */
static enum MHD_Result batch_acked(struct req *r, enum cmon_err err, bool dup, const char *msg)
{
    struct batch_hold *h = r->hold;
    if (err == CMON_ERR_BUSY || err == CMON_ERR_STORE)
        return reply_error(r, 503, "overloaded", NULL, "%s", msg);
    if (err)
        return reply_store_error(r, err, msg);
    json_t *rejected = h->rejected;
    h->rejected = NULL;
    if (dup) /* the first delivery answered what was refused */
        json_array_clear(rejected);
    if (json_array_size(rejected))
        cmon_warn(r->srv->opts.log, "agent rounds refused", "agent=%s batch=%lld refused=%zu",
                  r->principal, (long long)h->b.seq, json_array_size(rejected));
    return reply_json(r, 200,
                      json_pack("{s:I, s:b, s:o}", "acked", (json_int_t)h->b.seq, "duplicate", dup,
                                "rejected", rejected));
}

/* The trust check (agent_rounds.h), then hand what it left of the batch to
 * the writer; batch_acked answers once it committed. */
static enum MHD_Result check_and_submit(struct req *r, struct batch_hold *h)
{
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    h->rejected = json_array();
    struct cmon_errbuf eb;
    size_t n = h->b.n_results, n_paths = h->b.n_paths;
    /* admins (and open mode) may write any test, but not outside the window */
    const char *agent = r->role == STORE_ROLE_AGENT ? r->principal : NULL;
    enum cmon_err err =
        agent_rounds_filter(s, agent, server_now(r->srv), r->srv->opts.retention_ns,
                            h->b.results, &n, h->b.paths, &n_paths, h->rejected, &eb);
    if (err)
        return reply_store_error(r, err, eb.msg);
    struct writer_batch b = {r->principal, h->b.spool_id[0] ? h->b.spool_id : NULL,
                             h->b.seq,     h->b.results,
                             n,            h->b.paths,
                             n_paths};
    struct writer_async a = req_write_async(r, WRITE_DEADLINE_MS);
    err = writer_results_submit(r->srv->writer, &b, &a, &r->ticket, &eb);
    return req_write_wait(r, err, eb.msg, batch_acked);
}

enum MHD_Result api_agent_results(struct req *r)
{
    if (r->role == STORE_ROLE_AGENT && !r->principal[0])
        return reply_error(r, 403, "forbidden", NULL,
                           "a workspace key may only register agents: send results with the "
                           "per-agent token that POST /api/v1/agents/register returned");
    json_t *body = req_json_body(r);
    struct batch_hold *h = body ? req_hold_new(r, sizeof *h, batch_hold_free) : NULL;
    if (!h) {
        json_decref(body);
        return MHD_YES;
    }
    struct cmon_agent_err e;
    enum cmon_err err = cmon_agent_batch_decode(body, &h->b, &e);
    json_decref(body);
    if (err == CMON_ERR_INVALID)
        return reply_error(r, 400, e.code, e.field[0] ? e.field : NULL, "%s", e.message);
    if (err)
        return reply_store_error(r, err, "out of memory");
    return check_and_submit(r, h);
}

/* What a token write borrows until the writer answers (the request's hold). */
struct token_hold {
    json_t *body; /* first (req_hold_json); name and role point into it */
    const char *role_s, *name;
    enum store_role role;
    char token[64], hash[65];
};

static void token_hold_free(void *p)
{
    struct token_hold *h = p;
    json_decref(h->body);
    free(h);
}

static enum cmon_err write_token(struct store *s, void *arg, int64_t now_ns, struct cmon_errbuf *eb)
{
    struct token_hold *h = arg;
    return s->ops->token_add(s, h->hash, h->role, h->name, now_ns, eb);
}

static enum MHD_Result token_created(struct req *r, enum cmon_err err, bool dup, const char *msg)
{
    struct token_hold *h = r->hold;
    (void)dup;
    if (err)
        return reply_store_error(r, err, msg);
    server_require_tokens(r->srv, "a token was created through the API");
    return reply_json(r, 201,
                      json_pack("{s:s, s:s, s:s}", "token", h->token, "role", h->role_s, "name",
                                h->name));
}

/* 400 for a bad role or name; false then. */
static bool token_args(struct req *r, struct token_hold *h)
{
    h->role_s = json_string_value(json_object_get(h->body, "role"));
    json_t *name_j = json_object_get(h->body, "name");
    const char *name = json_string_value(name_j);
    if (!h->role_s || !store_role_parse(h->role_s, &h->role)) {
        reply_error(r, 400, "invalid_parameter", "role", "role must be reader, admin or agent");
        return false;
    }
    if (name_j && (!name || (*name && !cmon_agent_name_valid(name)) ||
                   strlen(name) != json_string_length(name_j))) {
        /* the name is an agent's identity: never silently a workspace key */
        reply_error(r, 400, "invalid_parameter", "name",
                    "name must be a string of 1-%d characters of [A-Za-z0-9._-], not "
                    "starting with '.' or '-' (omit it for a workspace key)",
                    CMON_AGENT_NAME_MAX);
        return false;
    }
    h->name = name ? name : "";
    return true;
}

enum MHD_Result api_token_create(struct req *r)
{
    struct token_hold *h = req_hold_json(r, sizeof *h, token_hold_free);
    if (!h)
        return MHD_YES;
    struct cmon_errbuf eb;
    if (!token_args(r, h))
        return MHD_YES;
    if (store_token_new(h->token, &eb) != CMON_OK)
        return reply_store_error(r, CMON_ERR_IO, eb.msg);
    store_token_hash(h->token, h->hash);
    return req_write_call(r, write_token, h, token_created);
}
