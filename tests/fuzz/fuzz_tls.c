/* fuzz_tls.c: libFuzzer target for the HTTPS probe's certificate and CRL
 * helpers: CRL distribution point extraction, CRL parsing (DER or PEM),
 * revocation checking, the CRL cache's lifetime arithmetic and the handshake
 * classification.  These read bytes a monitored server (or whoever answers
 * its CRL URL) chose.  Input layout:
 *   byte 0: X509 verify error to classify; 1, 2: alert received, sent
 *   (255: none); 3: bit 0 CertificateRequest seen; 4-5: length L (little
 *   endian) of the certificates part: DER, or PEM certificates (leaf first,
 *   then its chain); the rest: a CRL, DER or PEM. */
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "probe/http_crl.h"
#include "probe/tls_verify.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A DER certificate, else every PEM certificate in the bytes. */
static STACK_OF(X509) * parse_chain(const uint8_t *buf, size_t len)
{
    STACK_OF(X509) *chain = sk_X509_new_null();
    if (!chain)
        return NULL;
    const unsigned char *p = buf;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x) {
        if (!sk_X509_push(chain, x))
            X509_free(x);
        return chain;
    }
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    while (b && sk_X509_num(chain) < 8 && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        if (!sk_X509_push(chain, x))
            X509_free(x);
    }
    BIO_free(b);
    return chain;
}

static void check_detail(const char *detail, size_t cap)
{
    CHECK(memchr(detail, '\0', cap) != NULL);
}

/* The CRL against the captured chain, and through the cache. */
static void check_crl(struct tls_observe *o, const uint8_t *buf, size_t len)
{
    X509_CRL *crl = tls_crl_parse(buf, len);
    if (!crl)
        return;
    char detail[200];
    enum cmon_diag d = tls_crl_verify(o, crl, detail, sizeof detail);
    check_detail(detail, sizeof detail);
    CHECK(d != CMON_DIAG_NONE || !o->leaf || detail[0] == '\0');
    struct http_crl_cache *c = http_crl_cache_new();
    CHECK(c);
    /* wall times around the CRL's own, and at the ends of time_t's range */
    static const time_t walls[] = {0, 1767323045, INT32_MAX, (time_t)INT64_MAX / 2};
    for (size_t i = 0; i < sizeof walls / sizeof walls[0]; i++) {
        X509_CRL *copy = X509_CRL_dup(crl);
        if (copy)
            http_crl_cache_put(c, "http://127.0.0.1/ca.crl", copy, 1000, walls[i]);
        X509_CRL *got = http_crl_cache_get(c, "http://127.0.0.1/ca.crl", 1000);
        CHECK(!got || got == copy);
        (void)http_crl_cache_get(c, "http://127.0.0.1/ca.crl",
                                 1000 + (HTTP_CRL_MAX_AGE_SEC + 1) * CMON_NS_PER_SEC);
    }
    http_crl_cache_free(c);
    X509_CRL_free(crl);
}

static void check_classify(const uint8_t *hdr, const struct tls_observe *o)
{
    struct tls_observe c = *o;
    c.x509_err = hdr[0];
    snprintf(c.x509_detail, sizeof c.x509_detail, "detail");
    c.alert_recv = hdr[1] == 255 ? -1 : hdr[1];
    c.alert_sent = hdr[2] == 255 ? -1 : hdr[2];
    c.cert_request_seen = hdr[3] & 1;
    char detail[160];
    for (int pass = 0; pass < 2; pass++, c.x509_err = 0) {
        detail[0] = '\0';
        (void)tls_observe_classify(&c, detail, sizeof detail);
        check_detail(detail, sizeof detail);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 6)
        return 0;
    size_t cert_len = (size_t)data[4] | (size_t)data[5] << 8;
    if (cert_len > size - 6)
        cert_len = size - 6;
    struct tls_observe o;
    tls_observe_init(&o, "127.0.0.1");
    o.chain = parse_chain(data + 6, cert_len);
    if (o.chain && sk_X509_num(o.chain) > 0) {
        o.leaf = sk_X509_value(o.chain, 0);
        X509_up_ref(o.leaf);
        char url[256];
        memset(url, 'x', sizeof url);
        if (tls_crl_url(o.leaf, url, sizeof url))
            CHECK(strlen(url) < sizeof url && strncasecmp(url, "http://", 7) == 0);
    }
    check_classify(data, &o);
    check_crl(&o, data + 6 + cert_len, size - 6 - cert_len);
    tls_observe_free(&o);
    return 0;
}
