/* diagnostics.h: map the concrete failure a probe saw (errno, ICMP type/code,
 * c-ares status, curl code, OpenSSL verify result) to the catalogue of
 * model/diag.h.  One table in diagnostics.c; pure functions. */
#ifndef CMON_PROBE_DIAGNOSTICS_H
#define CMON_PROBE_DIAGNOSTICS_H

#include "model/diag.h"

enum probe_diag_source {
    PROBE_DIAG_ERRNO,     /* socket errno (connect, sendto, IP_RECVERR ee_errno) */
    PROBE_DIAG_ICMP4,     /* code = type << 8 | code */
    PROBE_DIAG_ICMP6,     /* code = type << 8 | code */
    PROBE_DIAG_ARES,      /* c-ares status (ARES_ENOTFOUND, ...) */
    PROBE_DIAG_CURL,      /* CURLcode */
    PROBE_DIAG_X509,      /* OpenSSL X509_V_ERR_* */
    PROBE_DIAG_TLS_ALERT, /* fatal TLS alert description (RFC 8446 6.2) */
};

/* The catalogue entry for (source, code); fallback when the table has none:
 * errno -> socket_error, ICMP -> icmp_unreachable, c-ares -> dns_servfail,
 * curl -> http_error, X509 and TLS alert -> tls_error. */
enum cmon_diag probe_diag_map(enum probe_diag_source src, int code);

/* What a c-ares lookup status means, for a failure's detail: what the DNS
 * server answered (SERVFAIL, REFUSED) rather than c-ares' generic text, which
 * says "Could not contact DNS servers" also when the server answered. */
const char *probe_dns_status_text(int ares_status);

#endif
