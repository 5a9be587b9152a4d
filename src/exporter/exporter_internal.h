/* exporter_internal.h: the exporter server's state, shared by server.c (HTTP
 * and probes) and page.c (the status page, /metrics, the listen address).
 * Everything below `mu` is guarded by it. */
#ifndef CMON_EXPORTER_EXPORTER_INTERNAL_H
#define CMON_EXPORTER_EXPORTER_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/text.h"
#include "exporter/config.h"
#include "exporter/exporter.h"
#include "exporter/runner.h"

#define EXP_RECENT 50 /* probes the status page lists */

struct exp_cfg_ref {
    struct exp_config cfg;
    int refs; /* under exp_server.mu */
};

struct exp_stats {
    uint64_t probes[2]; /* [failed, succeeded] */
    double seconds;     /* summed probe durations */
};

struct exp_recent {
    char module[64], target[256], diag[32], detail[160];
    bool ok;
    double duration_s;
    int64_t wall_ns;
};

struct exp_server {
    struct exp_server_opts opts;
    struct MHD_Daemon *mhd;
    struct exp_runner *runner;
    int64_t start_wall_ns;
    pthread_mutex_t mu;
    struct exp_cfg_ref *cfg;
    bool reload_ok;
    int64_t reload_wall_ns; /* the last successful load */
    char reload_error[512]; /* the last failed load's reason, "" after a good one */
    uint64_t unknown_module;
    unsigned active;                       /* requests begun whose reply is not sent yet */
    struct exp_stats stats[EXP_N_PROBERS]; /* by enum exp_prober */
    struct exp_recent recent[EXP_RECENT];
    size_t recent_next, n_recent;
};

struct exp_cfg_ref *exp_cfg_acquire(struct exp_server *s);
void exp_cfg_release(struct exp_server *s, struct exp_cfg_ref *c);

/* Both with s->mu held. */
void exp_render_own_metrics(const struct exp_server *s, struct cmon_buf *out);
void exp_render_status(const struct exp_server *s, const struct exp_config *cfg,
                       struct cmon_buf *out);

/* Queue body (malloc'd, taken over, NULL: MHD_NO) as the reply. */
enum MHD_Result exp_reply(struct MHD_Connection *conn, unsigned status, const char *type,
                          char *body);

#endif
