/* runner.h: the exporter's probe thread -- one libuv loop owning the probe
 * engines (one per distinct tls_config.ca_file, the engine's trust setting),
 * fed by HTTP handler threads through a mutex-guarded queue and a uv_async.
 * A handler fills a struct exp_job, calls exp_runner_run(), and blocks on the
 * job's condition variable until the check reports or the deadline passes.
 * Ownership: the runner owns its thread, loop and engines.  A job belongs to
 * its handler, except when the handler gave up waiting (abandoned): then the
 * loop thread frees it when the check ends.  Threads: exp_runner_run from any
 * thread; everything else in runner.c runs on the loop thread. */
#ifndef CMON_EXPORTER_RUNNER_H
#define CMON_EXPORTER_RUNNER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/log.h"
#include "core/text.h"
#include "probe/probe.h"
#include "probe/target.h"
#include "exporter/dns_probe.h"

struct exp_runner;

/* What a handler asks for: a target and spec it owns (copied by the engine
 * when the check starts), and the result the loop thread writes back. */
struct exp_job {
    struct probe_target_buf tb; /* what target's strings point into */
    struct probe_target target;
    struct probe_http_spec spec;
    struct probe_http_detail detail; /* http: what the engine reports beyond res */
    struct cmon_buf body;            /* http with body regexps: the body's start */
    bool failed_due_to_regex;        /* set by exp_answer_render */
    struct probe_tcp_spec tcp_spec;  /* tcp with tls or query_response */
    struct probe_tcp_step *tcp_steps; /* owned; tcp_spec.steps */
    struct probe_tcp_detail tcp_detail;
    struct probe_icmp_spec icmp_spec; /* icmp with ttl or payload_size */
    char ca_file[1024]; /* "" : the system store */
    bool dns;           /* a dns prober query instead of an engine check */
    char dns_name[256];
    int dns_qtype;
    bool dns_rd;
    struct exp_dns_answer dns_ans; /* dns: the reply's header */
    struct probe_check_result res; /* valid once exp_runner_run returns CMON_OK */
    double duration_s;             /* submit to result, as seen by the loop */
    /* runner-private */
    int64_t start_ns;
    pthread_cond_t done_cv; /* signalled once, when done */
    bool done, abandoned;
    struct exp_job *next;
};

enum cmon_err exp_runner_start(const struct cmon_log *log, struct exp_runner **out,
                               struct cmon_errbuf *eb);
/* Cancel checks in flight (their jobs complete with diag timeout), stop the
 * loop, join the thread.  exp_runner_run answers CMON_ERR_LIMIT after. */
void exp_runner_stop(struct exp_runner *r);
/* Free a stopped runner, once no thread can call exp_runner_run any more. */
void exp_runner_free(struct exp_runner *r);

/* Free a job and what it owns (the captured body). */
void exp_job_free(struct exp_job *job);

/* Run one check and wait for it, at most target.timeout_ms + a grace second.
 * CMON_OK: job->res holds the result.  CMON_ERR_TIMEOUT: the runner did not
 * answer in time (the job is now the runner's: do not touch or free it). */
enum cmon_err exp_runner_run(struct exp_runner *r, struct exp_job *job);
/* Jobs the runner has taken whose callers still wait: a job counted here is
 * answered by its check or, at a stop, by the cancellation (any thread). */
unsigned exp_runner_in_flight(struct exp_runner *r);

#endif
