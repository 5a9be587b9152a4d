/* tls_verify.h: what an HTTPS check learns about the TLS handshake, for the
 * diagnostics of DESIGN section 5.  curl's CURLOPT_SSL_CTX_FUNCTION installs an
 * OpenSSL verify callback (first X509 error of the chain and its concrete
 * detail, the leaf and chain for the later CRL check) and a message callback
 * (CertificateRequest seen, alerts sent/received).  CRL verification of the
 * captured leaf is a pure function of the CRL bytes and the trust anchors.
 * Ownership: a struct tls_observe is owned by its check; tls_observe_free()
 * drops the certificates it holds.  A shared client context
 * (tls_client_ctx_new) is owned by its loop's protocol state; each SSL made
 * from it holds a reference.  Loop affinity: the callbacks run inside
 * curl on the probe loop's thread; nothing here blocks except reading ca_file. */
#ifndef CMON_PROBE_TLS_VERIFY_H
#define CMON_PROBE_TLS_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "model/diag.h"
#include "probe/probe.h"

struct tls_observe {
    char host[256];         /* the URL's host: name checked against the certificate */
    int x509_err;           /* first verify error (X509_V_ERR_*), 0: none */
    char x509_detail[160];  /* e.g. "notAfter 2026-01-02T00:00:00Z" */
    bool cert_request_seen; /* the server sent a CertificateRequest */
    int alert_recv;         /* alert description received, -1: none */
    int alert_sent;         /* alert description sent, -1: none */
    int64_t hello_ns;       /* monotonic: ClientHello sent (TCP connected) */
    int64_t last_ns;        /* monotonic: last handshake record either way */
    int tls_version;        /* negotiated (SSL_version), 0 until the handshake ran */
    bool insecure;          /* accept any certificate (insecure_skip_verify); set after init */
    X509 *leaf;             /* owned; captured once the chain verified */
    STACK_OF(X509) * chain; /* owned; leaf first */
};

void tls_observe_init(struct tls_observe *o, const char *host);
/* What the handshake negotiated, for people and blackbox's metrics:
 * "TLS 1.3" ("" before a handshake); the earliest notAfter of the verified
 * chain as Unix seconds (0 when there is none). */
const char *tls_observe_version(const struct tls_observe *o);
int64_t tls_observe_earliest_expiry(const struct tls_observe *o);
void tls_observe_free(struct tls_observe *o);
/* The captured leaf (probe.h's struct probe_tls_leaf); all "" without one. */
void tls_observe_leaf_info(const struct tls_observe *o, struct probe_tls_leaf *out);

/* CURLOPT_SSL_CTX_FUNCTION; CURLOPT_SSL_CTX_DATA must be the tls_observe.
 * curl makes a context per connection, so the observation hangs on it. */
CURLcode tls_observe_ssl_ctx(CURL *curl, void *ssl_ctx, void *observe);

/* A client context for connections that run OpenSSL themselves (tcp_dialog.c):
 * TLS 1.2 or later, ca_file alone as trust anchors (NULL: the system store),
 * no session cache (no resumption: every check verifies a full handshake).
 * Made once per loop and shared by its connections, which only read it: the
 * trust store is parsed once, not per check (the system bundle costs ~25 ms).
 * Everything per check goes on the SSL (tls_observe_ssl).  NULL when ca_file
 * (or the system store) cannot be loaded. */
SSL_CTX *tls_client_ctx_new(const char *ca_file);
/* Attach o to one connection of such a context: verify and message
 * callbacks, the name checked (o->host); set o->insecure before the handshake. */
bool tls_observe_ssl(SSL *ssl, struct tls_observe *o);

/* Classify a failed handshake from what was observed; CMON_DIAG_NONE when
 * nothing TLS-specific was seen (the caller falls back to the curl code). */
enum cmon_diag tls_observe_classify(const struct tls_observe *o, char *detail, size_t len);

/* First http:// URI of the leaf's CRL distribution points; false: none. */
bool tls_crl_url(const X509 *leaf, char *out, size_t outlen);

/* The top of the verified chain (the CRL check's trust anchor); NULL: none. */
X509 *tls_observe_anchor(const struct tls_observe *o);

/* A CRL from the bytes of a fetch (DER, or PEM); NULL when neither. */
X509_CRL *tls_crl_parse(const unsigned char *buf, size_t len);

/* Verify the captured leaf against crl with X509_V_FLAG_CRL_CHECK.  The trust
 * anchor is the top of the chain the handshake already verified, so no CA
 * file is read again.  CMON_DIAG_NONE when not revoked; else the diagnostic
 * and its detail, e.g. tls_revoked "serial 1002 revoked". */
enum cmon_diag tls_crl_verify(const struct tls_observe *o, X509_CRL *crl, char *detail, size_t len);

#endif
