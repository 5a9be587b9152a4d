/* runner.c: the exporter's probe loop thread (see runner.h).  Handlers never
 * touch the engines: they queue jobs and wait; the loop thread drains the
 * queue on each uv_async wake-up (wake-ups coalesce, so it drains all), starts
 * each check on the engine for the job's CA file, and signals the handler from
 * the check's callback. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/cond.h"
#include "exporter/runner.h"

#define MAX_ENGINES 16

/* One engine per trust setting.  A slot owns its ca_file string (the engine
 * keeps the pointer) and is freed when its engine has closed. */
struct engine_slot {
    struct exp_runner *r;
    char *ca_file; /* NULL: system store */
    struct probe_engine *eng;
    unsigned in_flight; /* checks started, not answered */
    int64_t used_ns;    /* last check started, for eviction */
};

struct exp_runner {
    const struct cmon_log *log;
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    pthread_mutex_t mu;
    struct exp_job *head, *tail;      /* queued, not started; under mu */
    bool stopping;                    /* under mu */
    unsigned waiting;                 /* under mu: callers of exp_runner_run whose job was taken */
    bool loop_stopping;               /* loop thread only */
    struct exp_dns_probe *dns_probes; /* in flight, for shutdown */
    struct engine_slot *engines[MAX_ENGINES];
    size_t n_engines;
    size_t engines_open; /* created and not yet closed, evicted ones included */
};

static void complete(struct exp_runner *r, struct exp_job *job)
{
    job->duration_s = (double)(cmon_mono_ns() - job->start_ns) / 1e9;
    pthread_mutex_lock(&r->mu);
    bool mine = job->abandoned;
    job->done = true;
    pthread_cond_signal(&job->done_cv); /* one waiter: its handler */
    pthread_mutex_unlock(&r->mu);
    if (mine) {
        pthread_cond_destroy(&job->done_cv);
        exp_job_free(job);
    }
}

struct check_arg {
    struct exp_runner *r;
    struct exp_job *job;
    struct engine_slot *slot; /* NULL for a dns query */
};

static void check_done(void *arg, const struct probe_check_result *res)
{
    struct check_arg *a = arg;
    a->slot->in_flight--;
    a->job->res = *res;
    complete(a->r, a->job);
    free(a);
}

static void fail_job(struct exp_runner *r, struct exp_job *job, enum cmon_diag d, const char *why)
{
    memset(&job->res, 0, sizeof job->res);
    job->res.diag = d;
    job->res.dns_ms = job->res.connect_ms = job->res.tls_ms = job->res.first_byte_ms = -1;
    snprintf(job->res.detail, sizeof job->res.detail, "%.150s", why);
    complete(r, job);
}

static void slot_closed(void *arg)
{
    struct engine_slot *slot = arg;
    struct exp_runner *r = slot->r;
    free(slot->ca_file);
    free(slot);
    if (--r->engines_open == 0 && r->loop_stopping)
        uv_close((uv_handle_t *)&r->wake, NULL);
}

/* Reloads may name new CA files for ever: when every slot is taken, close
 * the least recently used idle engine.  false when all are busy. */
static bool evict_idle(struct exp_runner *r)
{
    size_t victim = MAX_ENGINES;
    for (size_t i = 0; i < r->n_engines; i++)
        if (!r->engines[i]->in_flight &&
            (victim == MAX_ENGINES || r->engines[i]->used_ns < r->engines[victim]->used_ns))
            victim = i;
    if (victim == MAX_ENGINES)
        return false;
    struct engine_slot *old = r->engines[victim];
    r->engines[victim] = r->engines[--r->n_engines];
    probe_engine_close(old->eng, slot_closed, old);
    return true;
}

/* The engine trusting ca_file, created on first use (loop thread). */
static struct engine_slot *engine_for(struct exp_runner *r, const char *ca_file,
                                      struct cmon_errbuf *eb)
{
    for (size_t i = 0; i < r->n_engines; i++) {
        const char *c = r->engines[i]->ca_file;
        if ((!c && !*ca_file) || (c && strcmp(c, ca_file) == 0))
            return r->engines[i];
    }
    if (r->n_engines == MAX_ENGINES && !evict_idle(r)) {
        cmon_fail(eb, CMON_ERR_LIMIT, "%d distinct tls_config.ca_file busy at once", MAX_ENGINES);
        return NULL;
    }
    struct engine_slot *s = calloc(1, sizeof *s);
    if (s) {
        s->r = r;
        s->ca_file = *ca_file ? strdup(ca_file) : NULL;
    }
    struct probe_engine_opts o = {.ca_file = s ? s->ca_file : NULL, .log = r->log};
    if (!s || (*ca_file && !s->ca_file) || probe_engine_new(&r->loop, &o, &s->eng, eb) != CMON_OK) {
        if (!s || (*ca_file && !s->ca_file))
            cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
        free(s ? s->ca_file : NULL);
        free(s);
        return NULL;
    }
    r->engines[r->n_engines++] = s;
    r->engines_open++;
    return s;
}

static void dns_done(void *arg, const struct probe_check_result *res,
                     const struct exp_dns_answer *ans)
{
    struct check_arg *a = arg;
    a->job->res = *res;
    snprintf(a->job->res.address, sizeof a->job->res.address, "%.63s", a->job->tb.host);
    a->job->dns_ans = *ans;
    complete(a->r, a->job);
    free(a);
}

/* The dns prober's target is the server's address (answer.c checked it). */
static void start_dns(struct exp_runner *r, struct exp_job *job, struct check_arg *a)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, job->tb.host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(job->tb.port);
    } else if (inet_pton(AF_INET6, job->tb.host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(job->tb.port);
    }
    struct cmon_errbuf eb = {{0}};
    if (r->loop_stopping || !ss.ss_family ||
        exp_dns_probe_start(&r->loop, &r->dns_probes, (struct sockaddr *)&ss, job->dns_name,
                            job->dns_qtype, job->dns_rd, job->target.timeout_ms, dns_done, a,
                            &eb) != CMON_OK) {
        free(a);
        fail_job(r, job, CMON_DIAG_SOCKET_ERROR, eb.msg[0] ? eb.msg : "stopping");
    }
}

static void start_job(struct exp_runner *r, struct exp_job *job)
{
    if (job->dns) {
        struct check_arg *a = malloc(sizeof *a);
        if (!a) {
            fail_job(r, job, CMON_DIAG_SOCKET_ERROR, "out of memory");
            return;
        }
        *a = (struct check_arg){r, job, NULL};
        start_dns(r, job, a);
        return;
    }
    struct cmon_errbuf eb = {{0}};
    struct engine_slot *slot = r->loop_stopping ? NULL : engine_for(r, job->ca_file, &eb);
    struct check_arg *a = slot ? malloc(sizeof *a) : NULL;
    if (!a) {
        fail_job(r, job, CMON_DIAG_SOCKET_ERROR, slot ? "out of memory" : eb.msg);
        return;
    }
    *a = (struct check_arg){r, job, slot};
    slot->in_flight++;
    slot->used_ns = cmon_mono_ns();
    enum cmon_err e = probe_check_start(slot->eng, &job->target, check_done, a);
    if (e != CMON_OK) {
        slot->in_flight--;
        free(a);
        fail_job(r, job, CMON_DIAG_SOCKET_ERROR, cmon_strerror(e));
    }
}

static void begin_shutdown(struct exp_runner *r)
{
    r->loop_stopping = true;
    exp_dns_probe_cancel_all(&r->dns_probes);
    if (r->engines_open == 0) {
        uv_close((uv_handle_t *)&r->wake, NULL);
        return;
    }
    for (size_t i = 0; i < r->n_engines; i++) /* evicted ones are closing already */
        probe_engine_close(r->engines[i]->eng, slot_closed, r->engines[i]);
    r->n_engines = 0;
}

static void on_wake(uv_async_t *h)
{
    struct exp_runner *r = h->data;
    pthread_mutex_lock(&r->mu);
    struct exp_job *list = r->head;
    r->head = r->tail = NULL;
    bool stop = r->stopping;
    pthread_mutex_unlock(&r->mu);
    while (list) {
        struct exp_job *next = list->next;
        start_job(r, list);
        list = next;
    }
    if (stop && !r->loop_stopping)
        begin_shutdown(r);
}

static void *loop_main(void *arg)
{
    struct exp_runner *r = arg;
    uv_run(&r->loop, UV_RUN_DEFAULT);
    return NULL;
}

enum cmon_err exp_runner_start(const struct cmon_log *log, struct exp_runner **out,
                               struct cmon_errbuf *eb)
{
    struct exp_runner *r = calloc(1, sizeof *r);
    if (!r)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    r->log = log;
    pthread_mutex_init(&r->mu, NULL);
    int rc = uv_loop_init(&r->loop);
    if (rc == 0 && (rc = uv_async_init(&r->loop, &r->wake, on_wake)) != 0)
        uv_loop_close(&r->loop);
    r->wake.data = r;
    if (rc == 0 && (rc = pthread_create(&r->thread, NULL, loop_main, r)) != 0) {
        uv_close((uv_handle_t *)&r->wake, NULL);
        uv_run(&r->loop, UV_RUN_DEFAULT);
        uv_loop_close(&r->loop);
    }
    if (rc != 0) {
        pthread_mutex_destroy(&r->mu);
        free(r);
        return cmon_fail(eb, CMON_ERR_IO, "cannot start the probe loop (%d)", rc);
    }
    *out = r;
    return CMON_OK;
}

void exp_runner_stop(struct exp_runner *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    bool again = r->stopping;
    r->stopping = true;
    pthread_mutex_unlock(&r->mu);
    if (again)
        return;
    uv_async_send(&r->wake);
    pthread_join(r->thread, NULL);
    int rc = uv_loop_close(&r->loop);
    if (rc != 0)
        cmon_warn(r->log, "probe loop closed with handles open", "rc=%d", rc);
}

void exp_job_free(struct exp_job *job)
{
    if (job) {
        cmon_buf_free(&job->body);
        free(job->tcp_steps);
    }
    free(job);
}

void exp_runner_free(struct exp_runner *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r);
}

unsigned exp_runner_in_flight(struct exp_runner *r)
{
    pthread_mutex_lock(&r->mu);
    unsigned n = r->waiting;
    pthread_mutex_unlock(&r->mu);
    return n;
}

enum cmon_err exp_runner_run(struct exp_runner *r, struct exp_job *job)
{
    job->done = job->abandoned = false;
    job->next = NULL;
    job->start_ns = cmon_mono_ns();
    int64_t until = job->start_ns + ((int64_t)job->target.timeout_ms + 1000) * CMON_NS_PER_MS;
    cmon_cond_init(&job->done_cv);
    pthread_mutex_lock(&r->mu);
    if (r->stopping) {
        pthread_mutex_unlock(&r->mu);
        pthread_cond_destroy(&job->done_cv);
        return CMON_ERR_LIMIT;
    }
    if (r->tail)
        r->tail->next = job;
    else
        r->head = job;
    r->tail = job;
    r->waiting++;
    pthread_mutex_unlock(&r->mu);
    uv_async_send(&r->wake);
    pthread_mutex_lock(&r->mu);
    int rc = 0;
    while (!job->done && rc == 0)
        rc = cmon_cond_wait_until(&job->done_cv, &r->mu, until);
    bool done = job->done;
    if (!done)
        job->abandoned = true;
    r->waiting--;
    pthread_mutex_unlock(&r->mu);
    if (done)
        pthread_cond_destroy(&job->done_cv);
    return done ? CMON_OK : CMON_ERR_TIMEOUT;
}
