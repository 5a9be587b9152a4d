/* diag.c: the diagnostics catalogue table. */
#include "model/diag.h"

#include <string.h>

struct diag_entry {
    const char *code;
    const char *explain;
    bool temporary;
};

static const struct diag_entry diag_table[CMON_DIAG__COUNT] = {
    [CMON_DIAG_NONE] = {"", "check succeeded", false},
    /* temporary = may clear by itself and is told so in reasons (DESIGN 5 marks
     * the DNS ones); a timeout says nothing about how long it lasts */
    [CMON_DIAG_TIMEOUT] = {"timeout", "no answer within the timeout", false},
    [CMON_DIAG_DNS_NXDOMAIN] = {"dns_nxdomain", "the name does not exist (NXDOMAIN)", false},
    [CMON_DIAG_DNS_SERVFAIL] = {"dns_servfail", "the DNS server failed or refused to answer", true},
    [CMON_DIAG_DNS_TIMEOUT] = {"dns_timeout", "the DNS server did not answer in time", true},
    [CMON_DIAG_URL_INVALID] = {"url_invalid", "the destination URL is not valid", false},
    [CMON_DIAG_NO_ADDRESS] = {"no_address", "the name has no address of the wanted IP version", false},
    [CMON_DIAG_CONNECTION_REFUSED] = {"connection_refused", "no listener on the destination port", false},
    [CMON_DIAG_HOST_UNREACHABLE] = {"host_unreachable", "the destination host is unreachable", false},
    [CMON_DIAG_NET_UNREACHABLE] = {"net_unreachable", "no route to the destination network", false},
    [CMON_DIAG_ADMIN_PROHIBITED] = {"admin_prohibited", "a firewall rejected the traffic", false},
    [CMON_DIAG_ICMP_UNREACHABLE] = {"icmp_unreachable", "an ICMP destination-unreachable came back", false},
    [CMON_DIAG_SOCKET_ERROR] = {"socket_error", "the socket could not be opened", false},
    [CMON_DIAG_PERMISSION_DENIED] = {"permission_denied", "not permitted (local firewall or missing privilege)", false},
    [CMON_DIAG_TLS_CLIENT_CERT_REQUIRED] = {"tls_client_cert_required", "the server requires a client certificate", false},
    [CMON_DIAG_TLS_HOSTNAME_MISMATCH] = {"tls_hostname_mismatch", "the certificate does not name this host", false},
    [CMON_DIAG_TLS_UNTRUSTED_ROOT] = {"tls_untrusted_root", "the certificate chain ends at an untrusted root", false},
    [CMON_DIAG_TLS_EXPIRED] = {"tls_expired", "the certificate has expired", false},
    [CMON_DIAG_TLS_NOT_YET_VALID] = {"tls_not_yet_valid", "the certificate is not valid yet", false},
    [CMON_DIAG_TLS_REVOKED] = {"tls_revoked", "the certificate was revoked", false},
    [CMON_DIAG_TLS_CRL_UNREACHABLE] = {"tls_crl_unreachable", "the certificate revocation list could not be fetched", false},
    [CMON_DIAG_TLS_INCOMPATIBLE] = {"tls_incompatible", "no TLS version or cipher in common with the server", false},
    [CMON_DIAG_TLS_ERROR] = {"tls_error", "the TLS handshake failed", false},
    [CMON_DIAG_HTTP_STATUS] = {"http_status", "the HTTP status is outside the valid ranges", false},
    [CMON_DIAG_HTTP_ERROR] = {"http_error", "the HTTP exchange failed", false},
    [CMON_DIAG_AGENT_STOPPED] = {"agent_stopped", "the source agent stopped reporting", false},
    [CMON_DIAG_HOP_LOSS] = {"hop_loss", "packet loss starts at a hop on the path", false},
    [CMON_DIAG_HOP_LATENCY] = {"hop_latency", "latency rises at a hop on the path", false},
    [CMON_DIAG_ROUTE_CHANGED] = {"route_changed", "the path to the destination changed", false},
};

const char *cmon_diag_code(enum cmon_diag d)
{
    return (unsigned)d < CMON_DIAG__COUNT ? diag_table[d].code : "";
}

const char *cmon_diag_explain(enum cmon_diag d)
{
    return (unsigned)d < CMON_DIAG__COUNT ? diag_table[d].explain : "unknown diagnostic";
}

bool cmon_diag_from_code(const char *code, enum cmon_diag *out)
{
    for (int i = 0; i < CMON_DIAG__COUNT; i++) {
        if (strcmp(diag_table[i].code, code) == 0) {
            *out = (enum cmon_diag)i;
            return true;
        }
    }
    return false;
}

bool cmon_diag_is_temporary(enum cmon_diag d)
{
    return (unsigned)d < CMON_DIAG__COUNT && diag_table[d].temporary;
}
