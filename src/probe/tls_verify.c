/* tls_verify.c: TLS observations for HTTPS checks -- an OpenSSL verify callback
 * that keeps the first certificate error with the concrete detail a person
 * needs ("notAfter 2026-01-02T00:00:00Z", "certificate names www.other.test"),
 * a message callback that notices CertificateRequest and alerts, and the CRL
 * check of the leaf (X509_V_FLAG_CRL_CHECK) once the CRL has been fetched. */
#include "probe/tls_verify.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/clock.h"
#include "probe/diagnostics.h"

#define TLS_HANDSHAKE_CLIENT_HELLO 1
#define TLS_HANDSHAKE_CERT_REQUEST 13

void tls_observe_init(struct tls_observe *o, const char *host)
{
    memset(o, 0, sizeof *o);
    o->alert_recv = -1;
    o->alert_sent = -1;
    snprintf(o->host, sizeof o->host, "%s", host ? host : "");
}

void tls_observe_free(struct tls_observe *o)
{
    X509_free(o->leaf);
    o->leaf = NULL;
    sk_X509_pop_free(o->chain, X509_free);
    o->chain = NULL;
}

/* "2026-01-02T00:00:00Z" */
static void format_asn1_time(const ASN1_TIME *t, char *out, size_t len)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
        snprintf(out, len, "?");
        return;
    }
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void format_name(const X509_NAME *name, char *out, size_t len)
{
    out[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
        int n = BIO_read(b, out, (int)len - 1);
        out[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
}

/* The DNS names (else the IP addresses, else the CN) the certificate is for. */
static void format_cert_names(X509 *cert, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        char ip[INET6_ADDRSTRLEN];
        const char *s = NULL;
        if (gn->type == GEN_DNS) {
            s = (const char *)ASN1_STRING_get0_data(gn->d.dNSName);
        } else if (gn->type == GEN_IPADD) {
            int l = ASN1_STRING_length(gn->d.iPAddress);
            int af = l == 4 ? AF_INET : l == 16 ? AF_INET6 : 0;
            if (af && inet_ntop(af, ASN1_STRING_get0_data(gn->d.iPAddress), ip, sizeof ip))
                s = ip;
        }
        if (s && used < len)
            used += (size_t)snprintf(out + used, len - used, "%s%s", used ? "," : "", s);
    }
    GENERAL_NAMES_free(sans);
    if (out[0] == '\0')
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out, (int)len);
}

static void format_serial(X509 *cert, char *out, size_t len)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    snprintf(out, len, "%s", hex ? hex : "?");
    OPENSSL_free(hex);
    BN_free(bn);
}

/* The concrete thing behind a verify error, about the certificate it names. */
static void describe_x509_error(int err, X509 *cert, char *out, size_t len)
{
    char buf[128];
    switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        format_asn1_time(X509_get0_notAfter(cert), buf, sizeof buf);
        snprintf(out, len, "notAfter %s", buf);
        return;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        format_asn1_time(X509_get0_notBefore(cert), buf, sizeof buf);
        snprintf(out, len, "notBefore %s", buf);
        return;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        format_cert_names(cert, buf, sizeof buf);
        snprintf(out, len, "certificate names %s", buf);
        return;
    case X509_V_ERR_CERT_REVOKED:
        format_serial(cert, buf, sizeof buf);
        snprintf(out, len, "serial %s revoked", buf);
        return;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        format_name(X509_get_subject_name(cert), buf, sizeof buf);
        snprintf(out, len, "self-signed %s not trusted", buf);
        return;
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        format_name(X509_get_issuer_name(cert), buf, sizeof buf);
        snprintf(out, len, "issuer %s not trusted", buf);
        return;
    default:
        snprintf(out, len, "%s", X509_verify_cert_error_string(err));
    }
}

/* curl's per-connection context carries the observation (curl keeps the
 * SSL's app data for itself); a shared context (tls_client_ctx_new) carries
 * none, and each of its connections carries its own (tls_observe_ssl). */
static struct tls_observe *observe_of(X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    if (!ssl)
        return NULL;
    struct tls_observe *o = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    return o ? o : SSL_get_app_data(ssl);
}

static void capture_leaf(struct tls_observe *o, X509_STORE_CTX *xs)
{
    if (X509_STORE_CTX_get_error_depth(xs) == 0 && !o->leaf) {
        X509 *leaf = X509_STORE_CTX_get_current_cert(xs);
        if (leaf && X509_up_ref(leaf) == 1) {
            o->leaf = leaf;
            o->chain = X509_STORE_CTX_get1_chain(xs);
        }
    }
}

/* Keeps OpenSSL's verdict; records the first error and the verified chain. */
static int verify_cb(int preverify_ok, X509_STORE_CTX *xs)
{
    struct tls_observe *o = observe_of(xs);
    if (!o)
        return preverify_ok;
    if (o->insecure) { /* insecure_skip_verify: keep the leaf, accept anything */
        capture_leaf(o, xs);
        return 1;
    }
    if (!preverify_ok && o->x509_err == 0) {
        o->x509_err = X509_STORE_CTX_get_error(xs);
        X509 *cert = X509_STORE_CTX_get_current_cert(xs);
        if (cert)
            describe_x509_error(o->x509_err, cert, o->x509_detail, sizeof o->x509_detail);
        else
            snprintf(o->x509_detail, sizeof o->x509_detail, "%s",
                     X509_verify_cert_error_string(o->x509_err));
    }
    if (preverify_ok)
        capture_leaf(o, xs);
    return preverify_ok;
}

static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
                   SSL *ssl, void *arg)
{
    struct tls_observe *o = arg;
    const unsigned char *p = buf;
    if (!o || len < 1)
        return;
    if (ssl && content_type == SSL3_RT_HANDSHAKE && !write_p)
        o->tls_version = SSL_version(ssl); /* negotiated once the server answered */
    if (content_type == SSL3_RT_HANDSHAKE || content_type == SSL3_RT_ALERT) {
        o->last_ns = cmon_mono_ns();
        if (write_p && p[0] == TLS_HANDSHAKE_CLIENT_HELLO && o->hello_ns == 0)
            o->hello_ns = o->last_ns;
    }
    if (content_type == SSL3_RT_HANDSHAKE && !write_p && p[0] == TLS_HANDSHAKE_CERT_REQUEST)
        o->cert_request_seen = true;
    if (content_type == SSL3_RT_ALERT && len >= 2 && p[0] == SSL3_AL_FATAL) {
        int *slot = write_p ? &o->alert_sent : &o->alert_recv;
        if (*slot < 0)
            *slot = p[1];
    }
}

static bool is_ip_literal(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Let OpenSSL check the name too, so a mismatch reaches verify_cb with the
 * certificate at hand (curl's own check only gives a sentence). */
static void set_peer_name(X509_VERIFY_PARAM *param, const char *host)
{
    if (host[0] && is_ip_literal(host))
        X509_VERIFY_PARAM_set1_ip_asc(param, host);
    else if (host[0])
        X509_VERIFY_PARAM_set1_host(param, host, 0);
}

CURLcode tls_observe_ssl_ctx(CURL *curl, void *ssl_ctx, void *observe)
{
    SSL_CTX *ctx = ssl_ctx;
    struct tls_observe *o = observe;
    if (SSL_CTX_set_app_data(ctx, o) != 1)
        return CURLE_OUT_OF_MEMORY;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    SSL_CTX_set_msg_callback(ctx, msg_cb);
    SSL_CTX_set_msg_callback_arg(ctx, o);
    set_peer_name(SSL_CTX_get0_param(ctx), o->host);
    return CURLE_OK;
}

SSL_CTX *tls_client_ctx_new(const char *ca_file)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* No client session cache: nothing to resume, every check a full handshake. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    if (ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1
                : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

bool tls_observe_ssl(SSL *ssl, struct tls_observe *o)
{
    if (SSL_set_app_data(ssl, o) != 1)
        return false;
    SSL_set_verify(ssl, SSL_VERIFY_PEER, verify_cb);
    SSL_set_msg_callback(ssl, msg_cb);
    SSL_set_msg_callback_arg(ssl, o);
    set_peer_name(SSL_get0_param(ssl), o->host);
    return true;
}

/* OpenSSL 3.0 names no TLS 1.3 alert (certificate_required says "unknown"). */
static const char *alert_name(int desc)
{
    switch (desc) {
    case SSL_AD_MISSING_EXTENSION:
        return "missing extension";
    case SSL_AD_CERTIFICATE_REQUIRED:
        return "certificate required";
    case SSL_AD_NO_APPLICATION_PROTOCOL:
        return "no application protocol";
    default:
        return SSL_alert_desc_string_long(desc);
    }
}

enum cmon_diag tls_observe_classify(const struct tls_observe *o, char *detail, size_t len)
{
    if (o->x509_err != 0) {
        snprintf(detail, len, "%s", o->x509_detail);
        return probe_diag_map(PROBE_DIAG_X509, o->x509_err);
    }
    int alert = o->alert_recv >= 0 ? o->alert_recv : o->alert_sent;
    if (alert < 0)
        return CMON_DIAG_NONE;
    const char *dir = o->alert_recv >= 0 ? "received" : "sent";
    /* Servers refuse a missing client certificate with certificate_required
     * (TLS 1.3), or handshake_failure/bad_certificate after asking for one. */
    if (o->cert_request_seen && o->alert_recv >= 0 &&
        (alert == SSL_AD_CERTIFICATE_REQUIRED || alert == SSL_AD_HANDSHAKE_FAILURE ||
         alert == SSL_AD_BAD_CERTIFICATE)) {
        snprintf(detail, len, "server asked for a client certificate, then sent alert %s",
                 alert_name(alert));
        return CMON_DIAG_TLS_CLIENT_CERT_REQUIRED;
    }
    snprintf(detail, len, "TLS alert %s %s", alert_name(alert), dir);
    return probe_diag_map(PROBE_DIAG_TLS_ALERT, alert);
}

bool tls_crl_url(const X509 *leaf, char *out, size_t outlen)
{
    bool found = false;
    STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(leaf, NID_crl_distribution_points, NULL, NULL);
    for (int i = 0; dps && !found && i < sk_DIST_POINT_num(dps); i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
        if (!dp->distpoint || dp->distpoint->type != 0)
            continue;
        GENERAL_NAMES *names = dp->distpoint->name.fullname;
        for (int j = 0; !found && j < sk_GENERAL_NAME_num(names); j++) {
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, j);
            if (gn->type != GEN_URI)
                continue;
            const char *uri = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
            int n = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
            if (n > 7 && (size_t)n < outlen && strncasecmp(uri, "http://", 7) == 0 &&
                memchr(uri, '\0', (size_t)n) == NULL) {
                memcpy(out, uri, (size_t)n);
                out[n] = '\0';
                found = true;
            }
        }
    }
    CRL_DIST_POINTS_free(dps);
    return found;
}

X509_CRL *tls_crl_parse(const unsigned char *buf, size_t len)
{
    const unsigned char *p = buf;
    X509_CRL *c = d2i_X509_CRL(NULL, &p, (long)len);
    if (c)
        return c;
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    if (b)
        c = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
    BIO_free(b);
    return c;
}

X509 *tls_observe_anchor(const struct tls_observe *o)
{
    int n = o->chain ? sk_X509_num(o->chain) : 0;
    return n > 0 ? sk_X509_value(o->chain, n - 1) : NULL;
}

/* A store trusting the verified chain's top certificate and holding crl. */
static X509_STORE *anchor_store(const struct tls_observe *o, X509_CRL *crl)
{
    X509 *anchor = tls_observe_anchor(o);
    X509_STORE *st = anchor ? X509_STORE_new() : NULL;
    if (!st)
        return NULL;
    if (X509_STORE_add_cert(st, anchor) != 1 ||
        X509_STORE_add_crl(st, crl) != 1) {
        X509_STORE_free(st);
        return NULL;
    }
    /* the anchor may be an intermediate the trust store held */
    X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_PARTIAL_CHAIN);
    return st;
}

enum cmon_diag tls_crl_verify(const struct tls_observe *o, X509_CRL *crl, char *detail, size_t len)
{
    if (!o->leaf)
        return CMON_DIAG_NONE;
    enum cmon_diag d = CMON_DIAG_TLS_ERROR;
    snprintf(detail, len, "cannot set up CRL verification");
    X509_STORE *st = anchor_store(o, crl);
    X509_STORE_CTX *xs = st ? X509_STORE_CTX_new() : NULL;
    if (xs && X509_STORE_CTX_init(xs, st, o->leaf, o->chain) == 1) {
        if (X509_verify_cert(xs) == 1) {
            d = CMON_DIAG_NONE;
            detail[0] = '\0';
        } else {
            int err = X509_STORE_CTX_get_error(xs);
            X509 *cert = X509_STORE_CTX_get_current_cert(xs);
            describe_x509_error(err, cert ? cert : o->leaf, detail, len);
            d = probe_diag_map(PROBE_DIAG_X509, err);
        }
    }
    X509_STORE_CTX_free(xs);
    X509_STORE_free(st);
    return d;
}

const char *tls_observe_version(const struct tls_observe *o)
{
    switch (o->tls_version) {
    case TLS1_3_VERSION:
        return "TLS 1.3";
    case TLS1_2_VERSION:
        return "TLS 1.2";
    case TLS1_1_VERSION:
        return "TLS 1.1";
    case TLS1_VERSION:
        return "TLS 1.0";
    default:
        return "";
    }
}

int64_t tls_observe_earliest_expiry(const struct tls_observe *o)
{
    int64_t earliest = 0;
    for (int i = 0; o->chain && i < sk_X509_num(o->chain); i++) {
        struct tm tm;
        const ASN1_TIME *t = X509_get0_notAfter(sk_X509_value(o->chain, i));
        if (!t || !ASN1_TIME_to_tm(t, &tm))
            continue;
        int64_t secs = (int64_t)timegm(&tm);
        if (earliest == 0 || secs < earliest)
            earliest = secs;
    }
    return earliest;
}

static void dns_names_text(X509 *leaf, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && used + 1 < len; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_DNS)
            continue;
        const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
        int n = snprintf(out + used, len - used, "%s%.*s", used ? "," : "",
                         ASN1_STRING_length(g->d.dNSName), (const char *)d);
        used = n > 0 && used + (size_t)n < len ? used + (size_t)n : len - 1;
    }
    GENERAL_NAMES_free(gens);
}

void tls_observe_leaf_info(const struct tls_observe *o, struct probe_tls_leaf *out)
{
    memset(out, 0, sizeof *out);
    if (!o->leaf)
        return;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (X509_digest(o->leaf, EVP_sha256(), md, &n) == 1 && n == 32)
        for (unsigned i = 0; i < n; i++)
            snprintf(out->sha256 + 2 * i, 3, "%02x", md[i]);
    format_name(X509_get_subject_name(o->leaf), out->subject, sizeof out->subject);
    format_name(X509_get_issuer_name(o->leaf), out->issuer, sizeof out->issuer);
    dns_names_text(o->leaf, out->dns_names, sizeof out->dns_names);
}
