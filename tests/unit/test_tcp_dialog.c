/* test_tcp_dialog.c: the TCP check's dialog after connect (probe/tcp_dialog.c)
 * against a real OpenSSL server in the same process: both sides talk through
 * memory BIOs, bytes handed over by the test.  An SMTP-like STARTTLS exchange
 * verified against a certificate made here (trusted through ca_file, the name
 * through server_name), a certificate for another name, and an expect that
 * the server's lines never match.  All dialogs share one client context, as
 * a loop's checks do: one test interleaves good, wrong-name, untrusted,
 * expired and insecure checks on it, so a verdict or setting that leaked from
 * one check into the shared context would show in the next. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "probe/tcp_dialog.h"
#include "probe/tls_verify.h"

struct fixture {
    char ca_path[64];
    EVP_PKEY *key, *rogue_key, *leaf_key;
    X509 *cert;    /* self-signed CA and server certificate for mail.test, trusted */
    X509 *rogue;   /* self-signed for mail.test with another key: not trusted */
    X509 *expired; /* for mail.test, issued by cert, expired an hour ago */
    SSL_CTX *ctx;  /* the client context every dialog shares */
};

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

/* A certificate CN=cn for DNS:mail.test valid from..to seconds from now,
 * signed by issuer (NULL: self-signed with key). */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                       long from, long to, long serial)
{
    X509 *c = X509_new();
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
    X509_gmtime_adj(X509_getm_notBefore(c), from);
    X509_gmtime_adj(X509_getm_notAfter(c), to);
    X509_set_pubkey(c, key);
    X509_NAME *n = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n);
    add_ext(c, issuer ? issuer : c, NID_subject_alt_name, "DNS:mail.test");
    if (!issuer)
        add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE");
    X509_sign(c, issuer ? issuer_key : key, EVP_sha256());
    return c;
}

/* cert written to ca_path; the shared client context trusts it alone. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->key = EVP_EC_gen("P-256");
    f->rogue_key = EVP_EC_gen("P-256");
    f->leaf_key = EVP_EC_gen("P-256");
    f->cert = make_cert("mail.test", f->key, NULL, NULL, -60, 3600, 7);
    f->rogue = make_cert("mail.test", f->rogue_key, NULL, NULL, -60, 3600, 8);
    f->expired = make_cert("expired.mail.test", f->leaf_key, f->cert, f->key, -7200, -3600, 9);
    snprintf(f->ca_path, sizeof f->ca_path, "/tmp/cmon-dialog-ca.%d.pem", (int)getpid());
    FILE *fp = fopen(f->ca_path, "w");
    assert_non_null(fp);
    PEM_write_X509(fp, f->cert);
    fclose(fp);
    f->ctx = tls_client_ctx_new(f->ca_path);
    assert_non_null(f->ctx);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(f->ca_path);
    SSL_CTX_free(f->ctx);
    X509_free(f->cert);
    X509_free(f->rogue);
    X509_free(f->expired);
    EVP_PKEY_free(f->key);
    EVP_PKEY_free(f->rogue_key);
    EVP_PKEY_free(f->leaf_key);
    free(f);
    return 0;
}

/* The server: plain lines until STARTTLS, then TLS answering PING with PONG. */
struct server {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio, *wbio;
    bool tls;
    struct cmon_buf out; /* bytes for the dialog */
};

static void server_init(struct server *s, X509 *cert, EVP_PKEY *key)
{
    memset(s, 0, sizeof *s);
    cmon_buf_init(&s->out);
    s->ctx = SSL_CTX_new(TLS_server_method());
    assert_int_equal(SSL_CTX_use_certificate(s->ctx, cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(s->ctx, key), 1);
    cmon_buf_append(&s->out, "220 mail.test ESMTP\r\n", 21);
}

static void server_free(struct server *s)
{
    SSL_free(s->ssl);
    SSL_CTX_free(s->ctx);
    cmon_buf_free(&s->out);
}

static void server_take(struct server *s, const struct cmon_buf *in)
{
    if (!s->tls) {
        if (in->len && strstr(in->data, "STARTTLS\n")) {
            cmon_buf_append(&s->out, "220 go ahead\r\n", 14);
            s->tls = true;
            s->ssl = SSL_new(s->ctx);
            s->rbio = BIO_new(BIO_s_mem());
            s->wbio = BIO_new(BIO_s_mem());
            SSL_set_bio(s->ssl, s->rbio, s->wbio);
            SSL_set_accept_state(s->ssl);
        }
        return;
    }
    if (in->len)
        BIO_write(s->rbio, in->data, (int)in->len);
    char buf[256];
    int n = SSL_read(s->ssl, buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = '\0';
        if (strcmp(buf, "PING\n") == 0)
            SSL_write(s->ssl, "PONG\r\n", 6);
    }
    while (BIO_ctrl_pending(s->wbio) > 0 && (n = BIO_read(s->wbio, buf, sizeof buf)) > 0)
        cmon_buf_append(&s->out, buf, (size_t)n);
}

static const struct probe_tcp_step starttls_steps[] = {
    {.expect = "^220 ", .send = "EHLO cmon"},
    {.send = "STARTTLS"},
    {.expect = "^220 go", .starttls = true},
    {.send = "PING"},
    {.expect = "^PONG$"},
};

/* Run the dialog against a server showing cert until it is done (bounded). */
static void converse_with(const struct fixture *f, X509 *cert, EVP_PKEY *key,
                          const struct probe_tcp_spec *spec, struct probe_check_result *res)
{
    char err[160];
    struct tcp_dialog *d = tcp_dialog_new(spec, "198.18.1.2", f->ctx, err, sizeof err);
    assert_non_null(d);
    struct server s;
    server_init(&s, cert, key);
    struct cmon_buf out;
    cmon_buf_init(&out);
    memset(res, 0, sizeof *res);
    enum tcp_dialog_state st = tcp_dialog_begin(d, &out, res);
    for (int i = 0; i < 50 && st == TCP_DIALOG_MORE; i++) {
        cmon_buf_append(&out, "", 1); /* NUL for strstr; not sent */
        out.len--;
        server_take(&s, &out);
        out.len = 0;
        bool eof = i == 49 || (s.out.len == 0 && i > 20);
        st = tcp_dialog_feed(d, s.out.data, s.out.len, eof, &out, res);
        s.out.len = 0;
    }
    assert_int_equal(st, TCP_DIALOG_DONE);
    cmon_buf_free(&out);
    server_free(&s);
    tcp_dialog_free(d);
}

static void converse(const struct fixture *f, const struct probe_tcp_spec *spec,
                     struct probe_check_result *res)
{
    converse_with(f, f->cert, f->key, spec, res);
}

static void test_starttls(void **state)
{
    const struct fixture *f = *state;
    struct probe_tcp_detail detail = {0};
    struct probe_tcp_spec spec = {.steps = starttls_steps,
                                  .n_steps = sizeof starttls_steps / sizeof *starttls_steps,
                                  .server_name = "mail.test",
                                  .detail = &detail};
    struct probe_check_result res;
    converse(f, &spec, &res);
    assert_true(res.ok);
    assert_string_equal(res.tls_version, "TLS 1.3");
    assert_true(res.cert_expiry_unix > 0);
    assert_int_equal(strlen(detail.leaf.sha256), 64);
    assert_string_equal(detail.leaf.dns_names, "mail.test");
    assert_false(detail.failed_due_to_regex);
}

/* Without server_name the name checked is the target's address: mismatch. */
static void test_starttls_wrong_name(void **state)
{
    const struct fixture *f = *state;
    struct probe_tcp_spec spec = {.steps = starttls_steps,
                                  .n_steps = sizeof starttls_steps / sizeof *starttls_steps};
    struct probe_check_result res;
    converse(f, &spec, &res);
    assert_false(res.ok);
    assert_int_equal(res.diag, CMON_DIAG_TLS_HOSTNAME_MISMATCH);
    spec.insecure = true; /* insecure_skip_verify: the same server passes */
    converse(f, &spec, &res);
    assert_true(res.ok);
}

/* One context, many checks: each keeps its own name, insecure flag and
 * verdict (the context holds none of them), and a failure leaves nothing
 * behind for the next good check. */
static void test_shared_context_verdicts(void **state)
{
    const struct fixture *f = *state;
    struct probe_tcp_spec named = {.steps = starttls_steps,
                                   .n_steps = sizeof starttls_steps / sizeof *starttls_steps,
                                   .server_name = "mail.test"};
    struct probe_tcp_spec unnamed = named, insecure = named;
    unnamed.server_name = NULL;
    insecure.insecure = true;
    struct probe_check_result res;
    for (int round = 0; round < 3; round++) {
        converse(f, &named, &res);
        assert_true(res.ok);
        converse(f, &unnamed, &res);
        assert_int_equal(res.diag, CMON_DIAG_TLS_HOSTNAME_MISMATCH);
        assert_non_null(strstr(res.detail, "certificate names mail.test"));
        converse_with(f, f->rogue, f->rogue_key, &named, &res);
        assert_false(res.ok);
        assert_int_equal(res.diag, CMON_DIAG_TLS_UNTRUSTED_ROOT);
        assert_non_null(strstr(res.detail, "self-signed"));
        converse_with(f, f->expired, f->leaf_key, &named, &res);
        assert_false(res.ok);
        assert_int_equal(res.diag, CMON_DIAG_TLS_EXPIRED);
        assert_non_null(strstr(res.detail, "notAfter "));
        converse_with(f, f->rogue, f->rogue_key, &insecure, &res);
        assert_true(res.ok);
        converse(f, &named, &res);
        assert_true(res.ok);
        assert_true(res.cert_expiry_unix > 0);
    }
}

static void test_expect_unmatched(void **state)
{
    const struct fixture *f = *state;
    static const struct probe_tcp_step steps[] = {{.expect = "^554 "}};
    struct probe_tcp_detail detail = {0};
    struct probe_tcp_spec spec = {.steps = steps, .n_steps = 1, .detail = &detail};
    struct probe_check_result res;
    converse(f, &spec, &res);
    assert_false(res.ok);
    assert_true(detail.failed_due_to_regex);
    assert_non_null(strstr(res.detail, "'^554 '"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starttls),
        cmocka_unit_test(test_starttls_wrong_name),
        cmocka_unit_test(test_shared_context_verdicts),
        cmocka_unit_test(test_expect_unmatched),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
