/* agent_push.c: the agent's push thread -- registration (workspace key ->
 * per-agent token), heartbeats, assignment polls (ETag), and the result
 * pipeline: rounds from the loop are cut into batches, appended to the spool
 * (fsync) and only then sent; a batch leaves the spool when the server acks
 * it.  Failures back off (network: 1 s doubling to 15 s; refused keys: 5 s
 * doubling to 5 min) and never stop the probes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent_internal.h"
#include "core/clock.h"
#include "core/cond.h"

#define NET_BACKOFF_MIN_MS 1000
#define NET_BACKOFF_MAX_MS 15000
#define AUTH_BACKOFF_MIN_MS 5000
#define AUTH_BACKOFF_MAX_MS 300000
#define TICK_MS 200

struct push {
    struct agent *a;
    int64_t next_register, next_heartbeat, next_poll, next_send; /* mono ms */
    int64_t net_backoff, auth_backoff;
    bool outage_logged;
};

static int64_t mono_ms(void)
{
    return cmon_mono_ns() / CMON_NS_PER_MS;
}

static int64_t grow(int64_t cur, int64_t lo, int64_t hi)
{
    return cur ? (cur * 2 > hi ? hi : cur * 2) : lo;
}

static void net_failed(struct push *p, int64_t *next, const char *what, const char *msg)
{
    p->net_backoff = grow(p->net_backoff, NET_BACKOFF_MIN_MS, NET_BACKOFF_MAX_MS);
    *next = mono_ms() + p->net_backoff;
    if (!p->outage_logged)
        cmon_warn(p->a->log, "server unreachable, results stay in the spool",
                  "during=%s err=%s", what, msg);
    p->outage_logged = true;
}

static void net_ok(struct push *p)
{
    if (p->outage_logged)
        cmon_info(p->a->log, "server reachable again", "spooled_batches=%zu",
                  spool_pending(p->a->spool));
    p->outage_logged = false;
    p->net_backoff = 0;
}

static void auth_failed(struct push *p, const char *fmt_what, const struct agent_reply *rep)
{
    char m[512];
    p->auth_backoff = grow(p->auth_backoff, AUTH_BACKOFF_MIN_MS, AUTH_BACKOFF_MAX_MS);
    p->next_register = mono_ms() + p->auth_backoff;
    cmon_error(p->a->log, fmt_what, "status=%ld err=%s retry_in_ms=%lld", rep->status,
               agent_reply_message(rep, m, sizeof m), (long long)p->auth_backoff);
}

/* The per-agent token was refused: forget it and register again. */
static void token_rejected(struct push *p, const struct agent_reply *rep)
{
    struct agent *a = p->a;
    cmon_error(a->log, "the server refused this agent's token (revoked?); registering again",
               "status=%ld", rep->status);
    agent_state_forget(a->state_dir);
    a->registered = false;
    p->next_register = mono_ms();
}

static json_t *facts_json(struct agent *a)
{
    json_t *f = json_pack("{s:s, s:o, s:i}", "version", CMON_VERSION, "addresses",
                          agent_addresses(a->o.address), "heartbeatSec", a->o.heartbeat_sec);
    if (a->o.region && f) /* an older server refuses the field: only when asked for */
        json_object_set_new(f, "region", json_string(a->o.region));
    return f;
}

/* The server's batch limits, in its registration and heartbeat answers
 * (an older server says nothing: keep what we have). */
static void take_limits(struct agent *a, const json_t *j)
{
    json_t *b = json_object_get(j, "maxBatchBytes"), *p = json_object_get(j, "maxBatchPaths");
    if (json_is_integer(b) && json_integer_value(b) >= 4096 &&
        (size_t)json_integer_value(b) != a->limits.max_bytes) {
        a->limits.max_bytes = (size_t)json_integer_value(b);
        cmon_info(a->log, "server batch limit", "max_batch_bytes=%zu", a->limits.max_bytes);
    }
    if (json_is_integer(p) && json_integer_value(p) >= 1)
        a->limits.max_paths = (size_t)json_integer_value(p);
    json_t *ms = json_object_get(j, "batchIntervalMs");
    if (json_is_integer(ms) && json_integer_value(ms) >= 100 && json_integer_value(ms) <= 60000 &&
        json_integer_value(ms) != a->limits.interval_ms) {
        a->limits.interval_ms = (int)json_integer_value(ms);
        if (a->limits.interval_ms > a->o.batch_ms)
            cmon_info(a->log, "server batch interval", "batch_ms=%d own_batch_ms=%d",
                      a->limits.interval_ms, a->o.batch_ms);
    }
}

/* How long the first pending round waits for others: --batch-ms, or the
 * server's batchIntervalMs when that is longer (a large fleet). */
static int64_t batch_wait_ns(const struct agent *a)
{
    int ms = a->limits.interval_ms > a->o.batch_ms ? a->limits.interval_ms : a->o.batch_ms;
    return (int64_t)ms * CMON_NS_PER_MS;
}

static void registered_as(struct push *p, const struct agent_reply *rep)
{
    struct agent *a = p->a;
    json_t *j = json_loadb(rep->body, rep->len, 0, NULL);
    const char *token = json_string_value(json_object_get(j, "token"));
    json_t *next = json_object_get(j, "nextBatch");
    struct cmon_errbuf eb;
    if (!token || strlen(token) >= sizeof a->saved.token) {
        cmon_error(a->log, "registration answer without a token", "body=\"%.200s\"", rep->body);
        p->next_register = mono_ms() + AUTH_BACKOFF_MIN_MS;
    } else {
        snprintf(a->saved.name, sizeof a->saved.name, "%s", a->name);
        snprintf(a->saved.token, sizeof a->saved.token, "%s", token);
        if (agent_state_save(a->state_dir, &a->saved, &eb))
            cmon_error(a->log, "cannot keep the agent token (registering again at restart)",
                       "err=%s", eb.msg);
        a->min_seq = json_is_integer(next) ? json_integer_value(next) : 0;
        take_limits(a, j);
        a->registered = true;
        a->etag[0] = '\0';
        p->auth_backoff = 0;
        p->next_heartbeat = p->next_poll = p->next_send = mono_ms();
        cmon_info(a->log, "registered", "agent=%s next_batch=%lld", a->name, (long long)a->min_seq);
    }
    json_decref(j);
}

static void do_register(struct push *p)
{
    struct agent *a = p->a;
    if (!a->o.key) {
        cmon_error(a->log, "cannot register: no --key (workspace key) given", "agent=%s", a->name);
        p->next_register = mono_ms() + AUTH_BACKOFF_MAX_MS;
        return;
    }
    json_t *body = facts_json(a);
    json_object_set_new(body, "name", json_string(a->name));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct agent_reply rep;
    struct cmon_errbuf eb;
    enum cmon_err err = agent_http_request(&a->http, "POST", "/api/v1/agents/register", a->o.key,
                                           text, text ? strlen(text) : 0, NULL, &rep, &eb);
    free(text);
    if (err)
        net_failed(p, &p->next_register, "register", eb.msg);
    else if (net_ok(p), rep.status == 201)
        registered_as(p, &rep);
    else if (rep.status == 401)
        auth_failed(p, "the workspace key was refused (wrong or revoked --key); backing off", &rep);
    else if (rep.status == 409)
        auth_failed(p, "the server refused this agent's name: start it with another --name", &rep);
    else if (rep.status == 503) /* overloaded (Retry-After: 1): soon, not the refusal backoff */
        net_failed(p, &p->next_register, "register", "the server is overloaded (503)");
    else
        auth_failed(p, "registration refused; backing off", &rep);
    free(rep.body);
}

static void do_heartbeat(struct push *p)
{
    struct agent *a = p->a;
    struct spool_stats st;
    spool_stats(a->spool, &st);
    json_t *body = facts_json(a);
    pthread_mutex_lock(&a->mu);
    uint64_t dropped_rounds = a->dropped_rounds;
    pthread_mutex_unlock(&a->mu);
    struct agent_runtime_stats rs = {0};
    pthread_mutex_lock(&a->rt_mu);
    if (a->rt)
        agent_runtime_stats(a->rt, &rs);
    pthread_mutex_unlock(&a->rt_mu);
    /* skippedRounds: rounds the probe loops did not make (overloaded); the
     * only place they show, as the protocol has no round without checks */
    json_object_set_new(
        body, "spool",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "pendingBatches",
                  (json_int_t)st.pending_batches, "droppedBatches", (json_int_t)st.dropped_batches,
                  "droppedResults", (json_int_t)(st.dropped_results + dropped_rounds),
                  "refusedResults", (json_int_t)a->refused_rounds, "corruptRecords",
                  (json_int_t)st.corrupt_records, "pendingBytes", (json_int_t)st.pending_bytes,
                  "skippedRounds", (json_int_t)(rs.skipped_late + rs.skipped_busy)));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct agent_reply rep;
    struct cmon_errbuf eb;
    p->next_heartbeat = mono_ms() + (int64_t)a->o.heartbeat_sec * 1000;
    enum cmon_err err =
        agent_http_request(&a->http, "POST", "/api/v1/agent/heartbeat", a->saved.token, text,
                           text ? strlen(text) : 0, NULL, &rep, &eb);
    free(text);
    if (err) {
        net_failed(p, &p->next_heartbeat, "heartbeat", eb.msg);
        p->next_heartbeat = mono_ms() + (int64_t)a->o.heartbeat_sec * 1000;
    } else if (net_ok(p), rep.status == 401) {
        token_rejected(p, &rep);
    } else if (rep.status == 409) {
        cmon_warn(a->log, "the server does not know this agent; registering again", "agent=%s",
                  a->name);
        a->registered = false;
        p->next_register = mono_ms();
    } else if (rep.status != 200) {
        cmon_warn(a->log, "heartbeat refused", "status=%ld", rep.status);
    } else {
        json_t *j = json_loadb(rep.body, rep.len, 0, NULL);
        take_limits(a, j);
        json_decref(j);
    }
    free(rep.body);
}

static void take_assignments(struct push *p, const struct agent_reply *rep)
{
    struct agent *a = p->a;
    json_t *j = json_loadb(rep->body, rep->len, 0, NULL);
    if (!json_is_array(json_object_get(j, "monitors"))) {
        cmon_error(a->log, "assignments answer is not {monitors: [...]}", "body=\"%.200s\"",
                   rep->body);
        json_decref(j);
        return;
    }
    struct agent_assignment *set = agent_assignment_new();
    json_t *mj;
    size_t i;
    json_array_foreach(json_object_get(j, "monitors"), i, mj)
    {
        const char *name = json_string_value(json_object_get(mj, "name"));
        const char *body = json_string_value(json_object_get(mj, "body"));
        if (set && name && body && agent_assignment_add(set, name, body) != CMON_OK) {
            agent_assignment_free(set);
            set = NULL;
        }
    }
    json_decref(j);
    if (!set) { /* the ETag stays: the next poll takes them again */
        cmon_error(a->log, "out of memory taking assignments", "monitors=%zu", i);
        return;
    }
    snprintf(a->etag, sizeof a->etag, "%s", rep->etag);
    pthread_mutex_lock(&a->rt_mu); /* agent_stop takes rt under rt_mu before stopping it */
    if (a->rt)
        agent_runtime_assign(a->rt, set);
    else
        agent_assignment_free(set);
    pthread_mutex_unlock(&a->rt_mu);
}

static void do_poll(struct push *p)
{
    struct agent *a = p->a;
    struct agent_reply rep;
    struct cmon_errbuf eb;
    p->next_poll = mono_ms() + (int64_t)a->o.poll_sec * 1000;
    enum cmon_err err = agent_http_request(&a->http, "GET", "/api/v1/agent/assignments",
                                           a->saved.token, NULL, 0, a->etag, &rep, &eb);
    if (err)
        net_failed(p, &p->next_poll, "assignments", eb.msg);
    else if (net_ok(p), rep.status == 200)
        take_assignments(p, &rep);
    else if (rep.status == 401)
        token_rejected(p, &rep);
    else if (rep.status != 304)
        cmon_warn(a->log, "assignments refused", "status=%ld", rep.status);
    free(rep.body);
}

/* The next batch number: past the spool's and the server's nextBatch. */
static uint64_t next_seq(const struct agent *a)
{
    uint64_t seq = spool_next_seq(a->spool);
    return (int64_t)seq < a->min_seq ? (uint64_t)a->min_seq : seq;
}

/* Cut pending rounds and paths into batches under the server's limits and
 * spool them (fsync) -- when the oldest waited batch_wait_ns, a batch is full,
 * or the agent stops. */
static void spool_rounds(struct push *p, bool force)
{
    struct agent *a = p->a;
    pthread_mutex_lock(&a->mu);
    size_t n = json_array_size(a->rounds), np = json_array_size(a->paths);
    bool due = (n || np) &&
               (force || n >= a->limits.max_rounds || np >= a->limits.max_paths ||
                cmon_mono_ns() - a->first_pending_ns >= batch_wait_ns(a));
    if (!due) {
        pthread_mutex_unlock(&a->mu);
        return;
    }
    json_t *rounds = a->rounds, *paths = a->paths;
    a->rounds = json_array();
    a->paths = json_array();
    pthread_mutex_unlock(&a->mu);
    while (json_array_size(rounds) || json_array_size(paths)) {
        uint64_t seq = next_seq(a);
        uint32_t nr = 0;
        size_t before = json_array_size(paths);
        char *text = agent_batch_cut(rounds, paths, &a->limits, seq, a->spool_id, &nr);
        struct cmon_errbuf eb;
        if (!text) {
            cmon_error(a->log, "batch dropped: out of memory", "results=%zu",
                       json_array_size(rounds));
            break;
        }
        if (spool_append(a->spool, seq, text, strlen(text), nr, &eb) == CMON_OK)
            cmon_debug(a->log, "batch spooled", "seq=%llu results=%u paths=%zu bytes=%zu",
                       (unsigned long long)seq, nr, before - json_array_size(paths), strlen(text));
        /* a refused append (full, ENOSPC) was logged and counted by the spool */
        free(text);
    }
    json_decref(rounds);
    json_decref(paths);
}

/* Count and log the rounds the server listed as refused in an ack. */
static void note_rejected(struct agent *a, uint64_t seq, const json_t *rejected)
{
    size_t i;
    json_t *r;
    json_array_foreach(rejected, i, r)
    {
        a->refused_rounds += json_object_get(r, "index") != NULL;
        cmon_warn(a->log, "the server refused a round", "seq=%llu test=%s code=%s err=%s",
                  (unsigned long long)seq, json_string_value(json_object_get(r, "testId")) ?: "",
                  json_string_value(json_object_get(r, "code")) ?: "",
                  json_string_value(json_object_get(r, "message")) ?: "");
    }
}

static bool batch_acked(struct push *p, uint64_t seq, const struct agent_reply *rep)
{
    struct agent *a = p->a;
    json_t *j = json_loadb(rep->body, rep->len, 0, NULL);
    json_t *acked = json_object_get(j, "acked");
    bool dup = json_is_true(json_object_get(j, "duplicate"));
    bool ok = json_is_integer(acked) && (uint64_t)json_integer_value(acked) == seq;
    if (ok)
        note_rejected(a, seq, json_object_get(j, "rejected"));
    json_decref(j);
    struct cmon_errbuf eb;
    if (!ok) {
        cmon_error(a->log, "the server acked another batch than sent", "seq=%llu reply=\"%.100s\"",
                   (unsigned long long)seq, rep->body);
        net_failed(p, &p->next_send, "results", "bad ack");
        return false;
    }
    if (spool_ack(a->spool, seq, &eb)) {
        /* the batch stays spooled and is sent again later (the server
         * answers duplicate); pause so a failing disk is not hammered */
        cmon_error(a->log, "cannot record the ack", "seq=%llu err=%s", (unsigned long long)seq,
                   eb.msg);
        p->next_send = mono_ms() + NET_BACKOFF_MAX_MS;
        return false;
    }
    cmon_debug(a->log, "batch acked", "seq=%llu duplicate=%s", (unsigned long long)seq,
               dup ? "true" : "false");
    return true;
}

/* The server refused batch seq whole (413 too large, 400 invalid): split it
 * in halves under new numbers so the rest goes on; a lone round the server
 * still refuses is dropped, counted and logged.  false: pause sending. */
static bool refused_batch(struct push *p, uint64_t seq, const char *data, size_t len,
                          const struct agent_reply *rep)
{
    struct agent *a = p->a;
    char m[512];
    struct cmon_errbuf eb;
    struct agent_batch_half h[2];
    uint64_t sa = next_seq(a), sb = sa + 1;
    enum cmon_err err = agent_batch_halve(data, len, sa, sb, h, &eb);
    agent_reply_message(rep, m, sizeof m);
    if (err == CMON_ERR_NOMEM) { /* never drop rounds for want of memory: retry later */
        cmon_error(a->log, "cannot split a batch: out of memory", "seq=%llu",
                   (unsigned long long)seq);
        p->next_send = mono_ms() + NET_BACKOFF_MAX_MS;
        return false;
    }
    if (err == CMON_OK) {
        struct spool_part parts[2] = {{sa, h[0].text, strlen(h[0].text), h[0].n_results},
                                      {sb, h[1].text, strlen(h[1].text), h[1].n_results}};
        err = spool_split(a->spool, seq, parts, 2, &eb);
        cmon_info(a->log, "batch refused whole; split in halves",
                  "seq=%llu status=%ld into=%llu,%llu err=%s", (unsigned long long)seq,
                  rep->status, (unsigned long long)sa, (unsigned long long)sb, m);
        free(h[0].text);
        free(h[1].text);
        if (err) { /* the disk failed: the batch stays, retried later */
            cmon_error(a->log, "cannot split a batch", "seq=%llu err=%s",
                       (unsigned long long)seq, eb.msg);
            p->next_send = mono_ms() + NET_BACKOFF_MAX_MS;
            return false;
        }
        return true;
    }
    size_t n_results;
    agent_batch_items(data, len, &n_results);
    a->refused_rounds += n_results;
    cmon_error(a->log, "the server refused a round; dropping it",
               "seq=%llu status=%ld results=%zu refused_results=%llu err=%s",
               (unsigned long long)seq, rep->status, n_results,
               (unsigned long long)a->refused_rounds, m);
    spool_ack(a->spool, seq, &eb);
    return true;
}

/* Send the oldest spooled batch; false when sending should pause. */
static bool send_one(struct push *p)
{
    struct agent *a = p->a;
    uint64_t seq;
    char *data = NULL;
    size_t len;
    struct cmon_errbuf eb;
    if (spool_get(a->spool, 0, &seq, &data, &len, &eb)) {
        cmon_error(a->log, "cannot read the spool", "err=%s", eb.msg);
        p->next_send = mono_ms() + NET_BACKOFF_MAX_MS;
        return false;
    }
    struct agent_reply rep;
    enum cmon_err err = agent_http_request(&a->http, "POST", "/api/v1/agent/results",
                                           a->saved.token, data, len, NULL, &rep, &eb);
    bool go_on = false;
    if (err) {
        net_failed(p, &p->next_send, "results", eb.msg);
    } else if (net_ok(p), rep.status == 200) {
        go_on = batch_acked(p, seq, &rep);
    } else if (rep.status == 401) {
        token_rejected(p, &rep);
    } else if (rep.status == 400 || rep.status == 413) {
        go_on = refused_batch(p, seq, data, len, &rep);
    } else {
        net_failed(p, &p->next_send, "results", "server busy or failing");
    }
    free(data);
    free(rep.body);
    return go_on;
}

static void push_tick(struct push *p)
{
    struct agent *a = p->a;
    int64_t now = mono_ms();
    spool_rounds(p, false);
    if (!a->registered) {
        if (now >= p->next_register)
            do_register(p);
        return;
    }
    if (now >= p->next_heartbeat)
        do_heartbeat(p);
    if (a->registered && mono_ms() >= p->next_poll)
        do_poll(p);
    while (a->registered && !atomic_load(&a->stop) && spool_pending(a->spool) > 0 &&
           mono_ms() >= p->next_send && send_one(p))
        spool_rounds(p, false);
}

static void wait_tick(struct agent *a)
{
    pthread_mutex_lock(&a->mu);
    if (!atomic_load(&a->stop))
        cmon_cond_wait_ns(&a->cv, &a->mu, (int64_t)TICK_MS * CMON_NS_PER_MS);
    pthread_mutex_unlock(&a->mu);
}

static void spool_while_waiting(void *arg)
{
    spool_rounds(arg, false);
}

void *agent_push_main(void *arg)
{
    struct agent *a = arg;
    struct push p = {.a = a};
    a->http.on_wait = spool_while_waiting;
    a->http.wait_arg = &p;
    while (!atomic_load(&a->stop)) {
        push_tick(&p);
        wait_tick(a);
    }
    /* the loop thread has ended: nothing more arrives; keep what is pending */
    spool_rounds(&p, true);
    return NULL;
}
