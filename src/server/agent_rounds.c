/* agent_rounds.c: the trust check of an agent's batch (agent_rounds.h).  The
 * distinct test ids are looked up in one query; a test whose stored source
 * address is the agent's name is its own, and only compound sources (a
 * workspace with an agent filter, or all agents) need their monitor read --
 * once per monitor per batch -- to see whether the agent is a member. */
#include "server/agent_rounds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "server/sources.h"

/* One distinct test id of the batch and the verdict on it. */
struct verdict {
    char id[CMON_TEST_ID_LEN + 1];
    const char *code;       /* NULL: the agent may write it */
    char *monitor, *source; /* a compound source to resolve after the query */
};

struct lookup {
    struct store *s;
    const char *agent;
    struct verdict *v;
    size_t n;
    struct cmon_monitor *mon; /* the last monitor parsed (tests come by monitor) */
    char mon_name[128];
    struct agent_addrs addrs; /* the agent's reported addresses, read on first need */
    bool addrs_loaded;
};

static int cmp_verdict(const void *a, const void *b)
{
    return strcmp(((const struct verdict *)a)->id, ((const struct verdict *)b)->id);
}

static int keep_monitor(void *arg, const struct store_monitor *sm)
{
    struct lookup *l = arg;
    struct cmon_problems probs = {0};
    if (cmon_monitor_parse(sm->body, strlen(sm->body), sm->name, &l->mon, &probs) != CMON_OK)
        l->mon = NULL;
    cmon_problems_free(&probs);
    return 1;
}

/* Is the agent a member of the compound source of v's test? */
static bool member_of_source(struct lookup *l, const struct verdict *v)
{
    if (!l->mon || strcmp(l->mon_name, v->monitor) != 0) {
        cmon_monitor_free(l->mon);
        l->mon = NULL;
        snprintf(l->mon_name, sizeof l->mon_name, "%s", v->monitor);
        struct cmon_errbuf eb;
        l->s->ops->monitor_get(l->s, v->monitor, keep_monitor, l, &eb);
    }
    if (!l->addrs_loaded) {
        struct cmon_errbuf eb;
        l->addrs_loaded = agent_addrs_load(l->s, l->agent, &l->addrs, &eb) == CMON_OK;
    }
    for (size_t i = 0; l->mon && l->addrs_loaded && i < l->mon->n_endpoints; i++) {
        if (strcmp(l->mon->endpoints[i].name, v->source) == 0)
            return agent_addrs_member(&l->addrs, &l->mon->endpoints[i], l->agent);
    }
    return false;
}

/* Settle the compound sources the query left open; frees their names. */
static void resolve_members(struct lookup *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct verdict *v = &l->v[i];
        if (v->monitor && v->source && member_of_source(l, v))
            v->code = NULL;
        free(v->monitor);
        free(v->source);
        v->monitor = v->source = NULL;
    }
    cmon_monitor_free(l->mon);
    l->mon = NULL;
    if (l->addrs_loaded)
        agent_addrs_free(&l->addrs);
    l->addrs_loaded = false;
}

static int judge_test(void *arg, const struct store_test *t)
{
    struct lookup *l = arg;
    struct verdict key, *v;
    snprintf(key.id, sizeof key.id, "%s", t->id);
    v = bsearch(&key, l->v, l->n, sizeof *l->v, cmp_verdict);
    if (!v)
        return 0;
    v->code = "not_assigned";
    if (strcmp(t->source_type, "ExternalAddress") == 0)
        return 0;
    if (strcmp(t->source_type, "Agent") == 0 && strcmp(t->source_address, l->agent) == 0) {
        v->code = NULL;
        return 0;
    }
    /* no nested query inside a walk (libpq cannot): resolve it afterwards */
    v->monitor = strdup(t->monitor);
    v->source = strdup(t->source);
    return 0;
}

/* The distinct ids of the batch, each marked unknown until the store knows it. */
static struct verdict *distinct_ids(const struct cmon_round_result *res, size_t n,
                                    const struct cmon_path_report *paths, size_t n_paths,
                                    size_t *out_n)
{
    struct verdict *v = malloc((n + n_paths ? n + n_paths : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < n + n_paths; i++) {
        memcpy(v[i].id, i < n ? res[i].test_id : paths[i - n].test_id, sizeof v[i].id);
        v[i].id[CMON_TEST_ID_LEN] = '\0';
        v[i].code = "unknown_test";
        v[i].monitor = v[i].source = NULL;
    }
    qsort(v, n + n_paths, sizeof *v, cmp_verdict);
    size_t u = 0;
    for (size_t i = 0; i < n + n_paths; i++) {
        if (u == 0 || strcmp(v[i].id, v[u - 1].id) != 0)
            v[u++] = v[i];
    }
    *out_n = u;
    return v;
}

static const char *code_message(const char *code)
{
    if (strcmp(code, "unknown_test") == 0)
        return "no test has this id";
    if (strcmp(code, "not_assigned") == 0)
        return "this test is not assigned to this agent";
    return "the start time is more than 5 minutes ahead of the server's clock or older than "
           "the raw-result retention";
}

/* The refusal code of one round or path, NULL when taken. */
static const char *verdict_of(const struct lookup *l, const char *id, int64_t start_ns,
                              int64_t now_ns, int64_t retention_ns)
{
    struct verdict key;
    snprintf(key.id, sizeof key.id, "%s", id);
    const struct verdict *v = bsearch(&key, l->v, l->n, sizeof *l->v, cmp_verdict);
    if (v && v->code)
        return v->code;
    return cmon_round_in_window(start_ns, now_ns, retention_ns) ? NULL : "time_out_of_window";
}

static void reject(json_t *rejected, const char *index_key, size_t i, const char *id,
                   const char *code)
{
    json_array_append_new(rejected,
                          json_pack("{s:I, s:s, s:s, s:s}", index_key, (json_int_t)i, "testId", id,
                                    "code", code, "message", code_message(code)));
}

enum cmon_err agent_rounds_filter(struct store *s, const char *agent, int64_t now_ns,
                                  int64_t retention_ns, struct cmon_round_result *res, size_t *n,
                                  struct cmon_path_report *paths, size_t *n_paths, json_t *rejected,
                                  struct cmon_errbuf *eb)
{
    struct lookup l = {.s = s, .agent = agent};
    if (!(l.v = distinct_ids(res, *n, paths, *n_paths, &l.n)))
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    const char **ids = malloc((l.n ? l.n : 1) * sizeof *ids);
    enum cmon_err err = ids ? CMON_OK : cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    for (size_t i = 0; ids && i < l.n; i++)
        ids[i] = l.v[i].id;
    for (size_t i = 0; !agent && i < l.n; i++)
        l.v[i].code = NULL;
    if (!err && l.n && agent)
        err = store_test_query_ids(s, ids, l.n, judge_test, &l, eb);
    free(ids);
    resolve_members(&l);
    size_t keep = 0;
    for (size_t i = 0; !err && i < *n; i++) {
        const char *code = verdict_of(&l, res[i].test_id, res[i].start_ns, now_ns, retention_ns);
        if (code)
            reject(rejected, "index", i, res[i].test_id, code);
        else
            res[keep++] = res[i];
    }
    if (!err)
        *n = keep;
    keep = 0;
    for (size_t i = 0; !err && i < *n_paths; i++) {
        const char *code = verdict_of(&l, paths[i].test_id, paths[i].time_ns, now_ns, retention_ns);
        if (code)
            reject(rejected, "pathIndex", i, paths[i].test_id, code);
        else if (keep != i)
            paths[keep++] = paths[i];
        else
            keep++;
    }
    if (!err)
        *n_paths = keep;
    free(l.v);
    return err;
}
