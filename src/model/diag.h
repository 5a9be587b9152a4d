/* diag.h: the diagnostics catalogue of DESIGN section 5 (stable codes used as
 * metric labels and in the API).  Pure data: the mapping from errno / ICMP
 * type+code / curl and OpenSSL codes to these lives in src/probe/diagnostics.c. */
#ifndef CMON_MODEL_DIAG_H
#define CMON_MODEL_DIAG_H

#include <stdbool.h>

enum cmon_diag {
    CMON_DIAG_NONE = 0, /* the check succeeded */
    CMON_DIAG_TIMEOUT,
    CMON_DIAG_DNS_NXDOMAIN,
    CMON_DIAG_DNS_SERVFAIL,
    CMON_DIAG_DNS_TIMEOUT,
    CMON_DIAG_URL_INVALID,
    CMON_DIAG_NO_ADDRESS,
    CMON_DIAG_CONNECTION_REFUSED,
    CMON_DIAG_HOST_UNREACHABLE,
    CMON_DIAG_NET_UNREACHABLE,
    CMON_DIAG_ADMIN_PROHIBITED,
    CMON_DIAG_ICMP_UNREACHABLE,
    CMON_DIAG_SOCKET_ERROR,
    CMON_DIAG_PERMISSION_DENIED,
    CMON_DIAG_TLS_CLIENT_CERT_REQUIRED,
    CMON_DIAG_TLS_HOSTNAME_MISMATCH,
    CMON_DIAG_TLS_UNTRUSTED_ROOT,
    CMON_DIAG_TLS_EXPIRED,
    CMON_DIAG_TLS_NOT_YET_VALID,
    CMON_DIAG_TLS_REVOKED,
    CMON_DIAG_TLS_CRL_UNREACHABLE,
    CMON_DIAG_TLS_INCOMPATIBLE,
    CMON_DIAG_TLS_ERROR,
    CMON_DIAG_HTTP_STATUS,
    CMON_DIAG_HTTP_ERROR,
    CMON_DIAG_AGENT_STOPPED,
    CMON_DIAG_HOP_LOSS,
    CMON_DIAG_HOP_LATENCY,
    CMON_DIAG_ROUTE_CHANGED,
    CMON_DIAG__COUNT
};

/* "timeout", "dns_nxdomain", ...; "" for CMON_DIAG_NONE. */
const char *cmon_diag_code(enum cmon_diag d);
/* One line for people: "no listener on the destination port". */
const char *cmon_diag_explain(enum cmon_diag d);
/* Look up a code string; false when it is not in the catalogue. */
bool cmon_diag_from_code(const char *code, enum cmon_diag *out);
/* Temporary problems (dns_servfail, dns_timeout: DESIGN 5) vs persistent ones. */
bool cmon_diag_is_temporary(enum cmon_diag d);

#endif
