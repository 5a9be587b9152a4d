/* api_members.c: GET /api/v1/tests/{id}/members -- the members of a test's
 * source (DESIGN 3: a compound source's agents; a one-agent source has one)
 * with each member's latest round within one frequency, its own figures and
 * state by the test's thresholds: the seed's "cluster" view of a compound
 * test, whose own row combines these (server/members.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "model/diag.h"
#include "server/members.h"
#include "server/server_internal.h"
#include "server/sources.h"

struct found {
    bool found;
    struct cmon_state_input in;
    char source[128], source_type[64];
    bool compound;
    int64_t now_ns;
};

static int keep_test(void *arg, const struct store_test *t)
{
    struct found *f = arg;
    f->found = true;
    eval_input_from_test(t, f->now_ns, &f->in);
    f->in.diagnostic = f->in.diag_detail = NULL; /* they point into the row */
    snprintf(f->source, sizeof f->source, "%s", t->source);
    snprintf(f->source_type, sizeof f->source_type, "%s", t->source_type);
    f->compound = members_compound(t);
    return 1;
}

static json_t *member_row(const struct cmon_member_round *m, const struct cmon_state_input *test,
                          const struct source_book *b)
{
    const struct cmon_round_result *r = m->r;
    struct cmon_state_input in = *test;
    in.has_result = true;
    in.last_result_ns = r->start_ns;
    in.checks_failed_pct = cmon_round_failed_pct(r);
    in.has_rtt = r->has_rtt;
    in.rtt_ms = r->rtt_avg_ms;
    in.diagnostic = cmon_diag_code(r->diagnostic);
    in.diag_detail = r->detail;
    struct cmon_state_eval out;
    cmon_test_state_eval(&in, &out);
    const struct source_agent *a = source_book_find(b, m->agent);
    char ts[40];
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:o, s:s}", "agent", m->agent, "address",
                     a && a->primary[0] ? a->primary : "", "state", cmon_state_key(out.state),
                     "reason", out.reason, "diagnostic", in.diagnostic, "checksFailedPercent",
                     in.checks_failed_pct, "roundTripTimeMs",
                     r->has_rtt ? json_real(r->rtt_avg_ms) : json_null(), "lastResultAt",
                     cmon_rfc3339(r->start_ns, ts, sizeof ts));
}

enum MHD_Result api_test_members(struct req *r)
{
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    struct store_test_filter f = {.test_id = r->seg[1]};
    struct found t = {.now_ns = server_now(r->srv)};
    struct cmon_errbuf eb;
    enum cmon_err err = s->ops->test_query(s, &f, keep_test, &t, &eb);
    if (err)
        return reply_store_error(r, err, eb.msg);
    if (!t.found)
        return reply_error(r, 404, "not_found", NULL, "no test has the id '%s'", r->seg[1]);
    struct members m;
    struct source_book b;
    if ((err = members_load(s, r->seg[1], t.in.frequency_sec, t.now_ns, &m, &eb)) != CMON_OK)
        return reply_store_error(r, err, eb.msg);
    if ((err = source_book_load(&r->srv->opts, s, &b, &eb)) != CMON_OK) {
        members_free(&m);
        return reply_store_error(r, err, eb.msg);
    }
    json_t *items = json_array();
    for (size_t i = 0; i < m.n; i++)
        json_array_append_new(items, member_row(&m.m[i], &t.in, &b));
    members_free(&m);
    source_book_free(&b);
    return reply_json(r, 200,
                      json_pack("{s:s, s:s, s:s, s:b, s:o, s:n}", "testId", r->seg[1], "source",
                                t.source, "sourceType", t.source_type, "compound",
                                t.compound, "items", items, "next"));
}
