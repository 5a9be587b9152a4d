/* tcp_dialog.c: the TCP check's dialog after connect (see tcp_dialog.h), in
 * blackbox's order per step: wait for a line matching expect, send, then
 * STARTTLS.  Lines are matched one at a time without their "\n" (and a "\r"
 * before it), as Go's bufio.Scanner hands them to blackbox; the last line
 * counts at EOF even without its "\n". */
#include "probe/tcp_dialog.h"

#include <arpa/inet.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "probe/probe_internal.h"
#include "probe/tls_verify.h"

#define DIALOG_LINE_CAP (64 * 1024) /* a longer line without "\n" is a failure */

struct dialog_step {
    char *expect, *send; /* owned; NULL: none */
    regex_t re;          /* compiled expect */
    bool starttls;
};

struct tcp_dialog {
    struct dialog_step *steps;
    size_t n_steps, step;
    bool expect_done; /* this step's expect has matched */
    bool tls_first, insecure;
    char host[256];
    struct probe_tcp_detail *detail;
    SSL_CTX *ctx; /* a reference on the loop's shared context; NULL: none */
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    bool handshaking;
    struct tls_observe tls;
    struct cmon_buf in; /* plaintext read and not yet consumed as lines */
};

static bool copy_steps(struct tcp_dialog *d, const struct probe_tcp_spec *spec, char *err,
                       size_t errlen)
{
    d->steps = calloc(spec->n_steps ? spec->n_steps : 1, sizeof *d->steps);
    if (!d->steps)
        return false;
    for (size_t i = 0; i < spec->n_steps; i++, d->n_steps++) {
        const struct probe_tcp_step *s = &spec->steps[i];
        struct dialog_step *t = &d->steps[i];
        t->starttls = s->starttls;
        if ((s->send && !(t->send = strdup(s->send))) ||
            (s->expect && !(t->expect = strdup(s->expect)))) {
            free(t->send);
            free(t->expect);
            return false;
        }
        int rc = t->expect ? regcomp(&t->re, t->expect, REG_EXTENDED | REG_NOSUB) : 0;
        if (rc != 0) {
            char why[128];
            regerror(rc, &t->re, why, sizeof why);
            snprintf(err, errlen, "expect '%s': %s", t->expect, why);
            free(t->send);
            free(t->expect);
            return false;
        }
    }
    return true;
}

bool tcp_dialog_wants_tls(const struct probe_tcp_spec *spec)
{
    bool tls = spec->tls;
    for (size_t i = 0; i < spec->n_steps && !tls; i++)
        tls = spec->steps[i].starttls;
    return tls;
}

struct tcp_dialog *tcp_dialog_new(const struct probe_tcp_spec *spec, const char *host,
                                  SSL_CTX *tls_ctx, char *err, size_t errlen)
{
    snprintf(err, errlen, "out of memory");
    struct tcp_dialog *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->tls_first = spec->tls;
    d->insecure = spec->insecure;
    d->detail = spec->detail;
    snprintf(d->host, sizeof d->host, "%s",
             spec->server_name && *spec->server_name ? spec->server_name : host ? host : "");
    cmon_buf_init(&d->in);
    if (tls_ctx && SSL_CTX_up_ref(tls_ctx) == 1)
        d->ctx = tls_ctx;
    if (!copy_steps(d, spec, err, errlen)) {
        tcp_dialog_free(d);
        return NULL;
    }
    return d;
}

void tcp_dialog_free(struct tcp_dialog *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_steps; i++) {
        if (d->steps[i].expect)
            regfree(&d->steps[i].re);
        free(d->steps[i].expect);
        free(d->steps[i].send);
    }
    free(d->steps);
    SSL_free(d->ssl);
    SSL_CTX_free(d->ctx);
    tls_observe_free(&d->tls);
    cmon_buf_free(&d->in);
    free(d);
}

/* ---- TLS through memory BIOs ------------------------------------------- */

static void drain_wbio(struct tcp_dialog *d, struct cmon_buf *out)
{
    char buf[4096];
    int n;
    while (d->wbio && BIO_ctrl_pending(d->wbio) > 0 && (n = BIO_read(d->wbio, buf, sizeof buf)) > 0)
        cmon_buf_append(out, buf, (size_t)n);
}

static bool is_ip(const char *host)
{
    unsigned char b[16];
    return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

/* A connection of the loop's shared context (trust as the HTTP probe's:
 * ca_file alone when given, else the system's); everything of this check's
 * goes on the SSL. */
static bool tls_setup(struct tcp_dialog *d)
{
    if (!d->ctx)
        return false;
    tls_observe_init(&d->tls, d->host);
    d->tls.insecure = d->insecure;
    if (!(d->ssl = SSL_new(d->ctx)) || !tls_observe_ssl(d->ssl, &d->tls))
        return false;
    if (d->host[0] && !is_ip(d->host))
        SSL_set_tlsext_host_name(d->ssl, d->host);
    d->rbio = BIO_new(BIO_s_mem());
    d->wbio = BIO_new(BIO_s_mem());
    if (!d->rbio || !d->wbio) {
        BIO_free(d->rbio);
        BIO_free(d->wbio);
        d->rbio = d->wbio = NULL;
        return false;
    }
    SSL_set_bio(d->ssl, d->rbio, d->wbio);
    SSL_set_connect_state(d->ssl);
    d->handshaking = true;
    return true;
}

static void tls_fail(struct tcp_dialog *d, bool eof, struct probe_check_result *res)
{
    char detail[160];
    enum cmon_diag diag = tls_observe_classify(&d->tls, detail, sizeof detail);
    unsigned long e = ERR_peek_last_error();
    if (diag != CMON_DIAG_NONE)
        probe_result_fail(res, diag, "%s", detail);
    else if (e)
        probe_result_fail(res, CMON_DIAG_TLS_ERROR, "TLS handshake: %s", ERR_reason_error_string(e));
    else
        probe_result_fail(res, CMON_DIAG_TLS_ERROR, "TLS handshake: %s",
                          eof ? "the server closed the connection" : "failed");
    ERR_clear_error();
}

static void tls_record(struct tcp_dialog *d, struct probe_check_result *res)
{
    snprintf(res->tls_version, sizeof res->tls_version, "%s", tls_observe_version(&d->tls));
    res->cert_expiry_unix = tls_observe_earliest_expiry(&d->tls);
    if (d->detail)
        tls_observe_leaf_info(&d->tls, &d->detail->leaf);
}

/* One handshake step; false when it failed (res says why). */
static bool tls_handshake(struct tcp_dialog *d, bool eof, struct cmon_buf *out,
                          struct probe_check_result *res)
{
    int rc = SSL_do_handshake(d->ssl);
    drain_wbio(d, out);
    if (rc == 1) {
        d->handshaking = false;
        tls_record(d, res);
        return true;
    }
    if (SSL_get_error(d->ssl, rc) == SSL_ERROR_WANT_READ && !eof)
        return true;
    tls_fail(d, eof, res);
    return false;
}

static void read_plaintext(struct tcp_dialog *d)
{
    char buf[4096];
    int n;
    while ((n = SSL_read(d->ssl, buf, sizeof buf)) > 0)
        cmon_buf_append(&d->in, buf, (size_t)n);
    ERR_clear_error();
}

/* ---- steps ------------------------------------------------------------- */

/* Consume lines until one matches re: true when one did. */
static bool take_matching_line(struct tcp_dialog *d, const regex_t *re, bool eof)
{
    while (d->in.len > 0) {
        char *nl = memchr(d->in.data, '\n', d->in.len);
        if (!nl && !eof)
            return false;
        size_t used = nl ? (size_t)(nl - d->in.data) + 1 : d->in.len;
        size_t len = nl ? used - 1 : used;
        if (len && d->in.data[len - 1] == '\r')
            len--;
        regmatch_t span = {.rm_so = 0, .rm_eo = (regoff_t)len};
        bool hit = regexec(re, d->in.data, 1, &span, REG_STARTEND) == 0;
        memmove(d->in.data, d->in.data + used, d->in.len - used);
        d->in.len -= used;
        if (hit)
            return true;
    }
    return false;
}

static void send_line(struct tcp_dialog *d, const char *text, struct cmon_buf *out)
{
    size_t n = strlen(text);
    char *line = malloc(n + 1);
    if (!line)
        return;
    memcpy(line, text, n);
    line[n] = '\n';
    if (d->ssl && !d->handshaking)
        SSL_write(d->ssl, line, (int)n + 1);
    else
        cmon_buf_append(out, line, n + 1);
    free(line);
}

static void expect_failed(struct tcp_dialog *d, const char *why, struct probe_check_result *res)
{
    if (d->detail)
        d->detail->failed_due_to_regex = true;
    probe_result_fail(res, CMON_DIAG_SOCKET_ERROR, "%s a line matched '%.100s'", why,
                      d->steps[d->step].expect);
}

/* Run steps as far as the bytes received allow. */
static enum tcp_dialog_state run_steps(struct tcp_dialog *d, bool eof, struct cmon_buf *out,
                                       struct probe_check_result *res)
{
    while (d->step < d->n_steps && !d->handshaking) {
        const struct dialog_step *s = &d->steps[d->step];
        if (s->expect && !d->expect_done) {
            if (!take_matching_line(d, &s->re, eof)) {
                if (!eof && d->in.len < DIALOG_LINE_CAP)
                    return TCP_DIALOG_MORE;
                expect_failed(d, eof ? "the connection closed before" : "64 KiB without", res);
                return TCP_DIALOG_DONE;
            }
            d->expect_done = true;
        }
        if (s->send)
            send_line(d, s->send, out);
        d->step++;
        d->expect_done = false;
        if (s->starttls && !d->ssl) {
            if (!tls_setup(d)) {
                probe_result_fail(res, CMON_DIAG_TLS_ERROR, "cannot set up TLS (CA file?)");
                return TCP_DIALOG_DONE;
            }
            d->in.len = 0; /* plaintext after STARTTLS is not trusted */
            if (!tls_handshake(d, eof, out, res))
                return TCP_DIALOG_DONE;
        }
    }
    if (d->handshaking)
        return TCP_DIALOG_MORE;
    res->ok = true;
    res->diag = CMON_DIAG_NONE;
    res->detail[0] = '\0';
    return TCP_DIALOG_DONE;
}

enum tcp_dialog_state tcp_dialog_begin(struct tcp_dialog *d, struct cmon_buf *out,
                                       struct probe_check_result *res)
{
    if (d->tls_first) {
        if (!tls_setup(d)) {
            probe_result_fail(res, CMON_DIAG_TLS_ERROR, "cannot set up TLS (CA file?)");
            return TCP_DIALOG_DONE;
        }
        if (!tls_handshake(d, false, out, res))
            return TCP_DIALOG_DONE;
    }
    enum tcp_dialog_state st = run_steps(d, false, out, res);
    drain_wbio(d, out);
    return st;
}

enum tcp_dialog_state tcp_dialog_feed(struct tcp_dialog *d, const char *in, size_t n, bool eof,
                                      struct cmon_buf *out, struct probe_check_result *res)
{
    if (d->ssl) {
        if (n)
            BIO_write(d->rbio, in, (int)n);
        if (d->handshaking && !tls_handshake(d, eof, out, res))
            return TCP_DIALOG_DONE;
        if (!d->handshaking)
            read_plaintext(d);
    } else if (n) {
        cmon_buf_append(&d->in, in, n);
    }
    enum tcp_dialog_state st = run_steps(d, eof, out, res);
    drain_wbio(d, out);
    return st;
}

void tcp_dialog_timeout(struct tcp_dialog *d, uint32_t timeout_ms, struct probe_check_result *res)
{
    if (d->handshaking) {
        probe_result_fail(res, CMON_DIAG_TIMEOUT, "TLS handshake not finished within %u ms",
                          timeout_ms);
        return;
    }
    if (d->detail && d->step < d->n_steps && d->steps[d->step].expect)
        d->detail->failed_due_to_regex = true; /* blackbox: the scan ended unmatched */
    if (d->step < d->n_steps && d->steps[d->step].expect)
        probe_result_fail(res, CMON_DIAG_TIMEOUT, "no line matched '%.100s' within %u ms",
                          d->steps[d->step].expect, timeout_ms);
    else
        probe_result_fail(res, CMON_DIAG_TIMEOUT, "dialog not finished within %u ms", timeout_ms);
}
