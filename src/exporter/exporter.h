/* exporter.h: `cmon exporter`, a drop-in for Prometheus' blackbox_exporter.
 * libmicrohttpd (a thread per connection) serves /probe?target=&module= (blackbox's
 * metrics plus cmon_probe_diagnostic), /metrics (the exporter's own), POST
 * /-/reload and a status page /.  Each /probe handler hands its check to the
 * runner's loop thread (runner.h) and blocks until it is answered, so the
 * number of probes in flight is bounded by the connection limit.
 * Ownership: the server owns the daemon, the runner and the configuration;
 * a configuration is reference-counted so a reload never frees the one a
 * probe in flight still reads.  Threads: start/stop/reload from the main
 * thread (reload also from a handler: POST /-/reload); handlers on MHD's. */
#ifndef CMON_EXPORTER_EXPORTER_H
#define CMON_EXPORTER_EXPORTER_H

#include "core/err.h"
#include "core/log.h"

struct exp_server;

struct exp_server_opts {
    const char *config_path; /* blackbox.yml */
    const char *listen;      /* "HOST:PORT", "[V6]:PORT" or ":PORT" (every address) */
    unsigned threads;        /* connections (a thread each) = probes in flight; 0: 128 */
    const struct cmon_log *log;
};

/* Load the configuration (an error names FILE:LINE:COL), start the probe
 * loop, then listen. */
enum cmon_err exp_server_start(const struct exp_server_opts *o, struct exp_server **out,
                               struct cmon_errbuf *eb);
/* Re-read the configuration file; a bad one keeps the current one and the
 * error says why (also kept for the status page and /metrics). */
enum cmon_err exp_server_reload(struct exp_server *s, struct cmon_errbuf *eb);
/* Stop the probe loop (checks in flight answer at once), then the daemon. */
void exp_server_stop(struct exp_server *s);

#endif
