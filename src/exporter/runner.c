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
#include "exporter/runner.h"

#define MAX_ENGINES 16

struct engine_slot {
    char *ca_file; /* NULL: system store */
    struct probe_engine *eng;
};

struct exp_runner {
    const struct cmon_log *log;
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    pthread_mutex_t mu;
    struct exp_job *head, *tail;      /* queued, not started; under mu */
    bool stopping;                    /* under mu */
    bool loop_stopping;               /* loop thread only */
    struct exp_dns_probe *dns_probes; /* in flight, for shutdown */
    struct engine_slot engines[MAX_ENGINES];
    size_t n_engines, engines_open;
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
        free(job);
    }
}

struct check_arg {
    struct exp_runner *r;
    struct exp_job *job;
};

static void check_done(void *arg, const struct probe_check_result *res)
{
    struct check_arg *a = arg;
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

/* The engine trusting ca_file, created on first use (loop thread). */
static struct probe_engine *engine_for(struct exp_runner *r, const char *ca_file,
                                       struct cmon_errbuf *eb)
{
    for (size_t i = 0; i < r->n_engines; i++) {
        const char *c = r->engines[i].ca_file;
        if ((!c && !*ca_file) || (c && strcmp(c, ca_file) == 0))
            return r->engines[i].eng;
    }
    if (r->n_engines == MAX_ENGINES) {
        cmon_fail(eb, CMON_ERR_LIMIT, "more than %d distinct tls_config.ca_file", MAX_ENGINES);
        return NULL;
    }
    struct engine_slot *s = &r->engines[r->n_engines];
    s->ca_file = *ca_file ? strdup(ca_file) : NULL;
    struct probe_engine_opts o = {.ca_file = s->ca_file, .log = r->log};
    if ((*ca_file && !s->ca_file) || probe_engine_new(&r->loop, &o, &s->eng, eb) != CMON_OK) {
        free(s->ca_file);
        s->ca_file = NULL;
        return NULL;
    }
    r->n_engines++;
    r->engines_open++;
    return s->eng;
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
        *a = (struct check_arg){r, job};
        start_dns(r, job, a);
        return;
    }
    struct cmon_errbuf eb = {{0}};
    struct probe_engine *eng = r->loop_stopping ? NULL : engine_for(r, job->ca_file, &eb);
    struct check_arg *a = eng ? malloc(sizeof *a) : NULL;
    if (!a) {
        fail_job(r, job, CMON_DIAG_SOCKET_ERROR, eng ? "out of memory" : eb.msg);
        return;
    }
    *a = (struct check_arg){r, job};
    enum cmon_err e = probe_check_start(eng, &job->target, check_done, a);
    if (e != CMON_OK) {
        free(a);
        fail_job(r, job, CMON_DIAG_SOCKET_ERROR, cmon_strerror(e));
    }
}

static void engine_closed(void *arg)
{
    struct exp_runner *r = arg;
    if (--r->engines_open == 0)
        uv_close((uv_handle_t *)&r->wake, NULL);
}

static void begin_shutdown(struct exp_runner *r)
{
    r->loop_stopping = true;
    exp_dns_probe_cancel_all(&r->dns_probes);
    if (r->n_engines == 0) {
        uv_close((uv_handle_t *)&r->wake, NULL);
        return;
    }
    for (size_t i = 0; i < r->n_engines; i++)
        probe_engine_close(r->engines[i].eng, engine_closed, r);
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
    for (size_t i = 0; i < r->n_engines; i++)
        free(r->engines[i].ca_file);
    r->n_engines = 0;
}

void exp_runner_free(struct exp_runner *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static struct timespec deadline_after_ms(uint32_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

enum cmon_err exp_runner_run(struct exp_runner *r, struct exp_job *job)
{
    job->done = job->abandoned = false;
    job->next = NULL;
    job->start_ns = cmon_mono_ns();
    struct timespec until = deadline_after_ms(job->target.timeout_ms + 1000);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&job->done_cv, &ca);
    pthread_condattr_destroy(&ca);
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
    pthread_mutex_unlock(&r->mu);
    uv_async_send(&r->wake);
    pthread_mutex_lock(&r->mu);
    int rc = 0;
    while (!job->done && rc == 0)
        rc = pthread_cond_timedwait(&job->done_cv, &r->mu, &until);
    bool done = job->done;
    if (!done)
        job->abandoned = true;
    pthread_mutex_unlock(&r->mu);
    if (done)
        pthread_cond_destroy(&job->done_cv);
    return done ? CMON_OK : CMON_ERR_TIMEOUT;
}
