/* answer.h: one /probe request from blackbox's terms to the probe engine's
 * and back -- the target and module become a probe_target (blackbox's
 * timeout rule included), and the check's result becomes blackbox's metrics
 * plus cmon_probe_diagnostic.  Pure: no I/O, no clock; the caller owns every
 * buffer. */
#ifndef CMON_EXPORTER_ANSWER_H
#define CMON_EXPORTER_ANSWER_H

#include "core/text.h"
#include "exporter/config.h"
#include "exporter/runner.h"

/* blackbox's getTimeout: the scrape timeout header (120 s when absent or 0)
 * minus offset_s, or the module's timeout when that is shorter.  false when
 * the header is not a number. */
bool exp_timeout_ms(const char *header, uint32_t module_ms, double offset_s, uint32_t *out);

/* Fill job (cleared first: a fresh one, or one exp_job_free would not leak)
 * (target, spec, ca_file) for module m and the target parameter as
 * blackbox reads it: http takes a URL ("http://" added when there is no
 * scheme), tcp "host:port", icmp a host, dns the server's address
 * ("ADDR[:PORT]", port 53 by default).  CMON_ERR_INVALID with a message
 * when the target does not fit the prober. */
enum cmon_err exp_job_prepare(const struct exp_module *m, const char *target, uint32_t timeout_ms,
                              struct exp_job *job, struct cmon_errbuf *eb);

/* Judge a finished job by the module's own rules (fail_if_ssl,
 * fail_if_not_ssl, valid_rcodes: job->res.ok/diag/detail updated), then
 * append its Prometheus text exposition; *success is probe_success. */
void exp_answer_render(const struct exp_module *m, struct exp_job *job, struct cmon_buf *out,
                       bool *success);

#endif
