/* dns_probe.h: blackbox's dns prober -- one query (c-ares builds it) sent
 * over a connected UDP socket to the DNS server named by the target, its
 * answer's header read back (rcode and section counts).  The probe engine
 * resolves names but does not probe DNS servers, so this lives here, on the
 * runner's loop.  Loop thread only.  Ownership: a probe owns its handles and
 * frees itself after its callback; the caller owns the list head, which
 * exp_dns_probe_cancel_all empties (callbacks run with diag timeout). */
#ifndef CMON_EXPORTER_DNS_PROBE_H
#define CMON_EXPORTER_DNS_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "core/err.h"
#include "probe/probe.h"

struct exp_dns_answer {
    bool got; /* a reply to our query arrived */
    int rcode;
    int answers, authority, additional;
};

struct exp_dns_probe;

/* res.ok: a reply arrived (its rcode is judged by the caller); else res.diag
 * says why (dns_timeout, connection_refused, ...). */
typedef void (*exp_dns_cb)(void *arg, const struct probe_check_result *res,
                           const struct exp_dns_answer *ans);

enum cmon_err exp_dns_probe_start(uv_loop_t *loop, struct exp_dns_probe **list,
                                  const struct sockaddr *server, const char *name, int qtype,
                                  bool rd, uint32_t timeout_ms, exp_dns_cb cb, void *arg,
                                  struct cmon_errbuf *eb);
void exp_dns_probe_cancel_all(struct exp_dns_probe **list);

/* "A", "AAAA", "MX", ... (any case) -> type number; -1 when unknown. */
int exp_dns_type_parse(const char *s);
/* "NOERROR", "NXDOMAIN", ... -> rcode; -1 when unknown. */
int exp_dns_rcode_parse(const char *s);

#endif
