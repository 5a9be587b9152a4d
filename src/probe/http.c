/* http.c: HTTP(S) checks through libcurl's multi_socket interface on the
 * engine's libuv loop (uv_poll per socket, one uv_timer for curl's timeouts).
 * Each check is a fresh connection pinned to the address the engine resolved
 * (CURLOPT_RESOLVE), judged by the valid status ranges, with TLS problems
 * mapped to the catalogue (tls_verify.c) and the leaf's CRL fetched by a
 * second transfer on the same multi handle. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "core/clock.h"
#include "core/text.h"
#include "probe/diagnostics.h"
#include "probe/http_crl.h"
#include "probe/probe_internal.h"
#include "probe/tls_verify.h"

#define HTTP_BODY_CAP (64 * 1024) /* bytes read and discarded, then stop */
#define HTTP_CRL_CAP (4 * 1024 * 1024)

struct http_check;

/* Loop state of the HTTP probe; eng->proto[CMON_PROTO_HTTP].  Freed when its last handle
 * (timer, socket polls) has closed after its ops close. */
struct probe_http {
    struct probe_engine *eng;
    CURLM *multi;
    uv_timer_t timer;
    struct http_sock *socks;   /* polls curl asked for */
    struct http_check *checks; /* in flight */
    struct http_crl_cache *crls;
    int open_handles; /* uv handles not yet closed */
    bool closing, torn_down;
};

struct http_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct probe_http *h;
    struct http_sock *prev, *next;
};

/* One check: the main transfer, then maybe its CRL transfer. */
struct http_check {
    struct probe_http *h;
    struct http_check *prev, *next;
    CURL *easy;     /* main request; NULL once done */
    CURL *crl_easy; /* CRL fetch; NULL when none */
    struct curl_slist *headers, *resolve;
    struct cmon_status_range *valid;
    size_t n_valid;
    uint32_t timeout_ms;
    int64_t started_ns;
    probe_check_cb cb;
    void *arg;
    struct probe_check_result res;
    struct tls_observe tls;
    size_t body_bytes;
    bool body_capped, is_https;
    bool insecure;                     /* spec->insecure: no verification, no CRL */
    struct probe_http_detail *detail;  /* the caller's, NULL: not wanted */
    bool tls_up;         /* the handshake completed */
    struct cmon_buf crl; /* the CRL's bytes (DER or PEM) */
    bool crl_too_big;
    char crl_url[256];
    char errbuf[CURL_ERROR_SIZE];
};

static void http_drain(struct probe_http *h);

/* ---- handle lifetimes ---------------------------------------------------- */

static void http_handle_closed(struct probe_http *h)
{
    if (--h->open_handles == 0 && h->torn_down) {
        http_crl_cache_free(h->crls);
        free(h);
        curl_global_cleanup();
    }
}

static void on_timer_closed(uv_handle_t *handle)
{
    http_handle_closed(handle->data);
}

static void on_sock_closed(uv_handle_t *handle)
{
    struct http_sock *s = handle->data;
    struct probe_http *h = s->h;
    free(s);
    http_handle_closed(h);
}

static void sock_release(struct http_sock *s)
{
    struct probe_http *h = s->h;
    uv_poll_stop(&s->poll);
    if (s->prev)
        s->prev->next = s->next;
    else
        h->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->poll.data = s;
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* ---- curl <-> libuv ------------------------------------------------------ */

static void on_poll(uv_poll_t *poll, int status, int events)
{
    struct http_sock *s = poll->data;
    struct probe_http *h = s->h;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(h->multi, s->fd, flags, &running);
    http_drain(h);
}

static void on_timer(uv_timer_t *timer)
{
    struct probe_http *h = timer->data;
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    http_drain(h);
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct probe_http *h = userp;
    struct http_sock *s = socketp;
    if (h->torn_down)
        return 0;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(h->multi, fd, NULL);
            sock_release(s);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        if (uv_poll_init_socket(h->eng->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->fd = fd;
        s->h = h;
        s->poll.data = s;
        s->next = h->socks;
        if (h->socks)
            h->socks->prev = s;
        h->socks = s;
        h->open_handles++;
        curl_multi_assign(h->multi, fd, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct probe_http *h = userp;
    if (h->torn_down)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static enum cmon_err http_create(struct probe_engine *eng, struct probe_http **out)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return CMON_ERR_NOMEM;
    struct probe_http *h = calloc(1, sizeof *h);
    if (!h || !(h->multi = curl_multi_init()) || !(h->crls = http_crl_cache_new())) {
        if (h && h->multi)
            curl_multi_cleanup(h->multi);
        free(h);
        curl_global_cleanup();
        return CMON_ERR_NOMEM;
    }
    h->eng = eng;
    uv_timer_init(eng->loop, &h->timer);
    h->timer.data = h;
    h->open_handles = 1;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    *out = h;
    return CMON_OK;
}

/* ---- one check ----------------------------------------------------------- */

static void check_link(struct probe_http *h, struct http_check *c)
{
    c->next = h->checks;
    if (h->checks)
        h->checks->prev = c;
    h->checks = c;
}

static void check_unlink(struct http_check *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->h->checks = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void easy_drop(struct probe_http *h, CURL **easy)
{
    if (*easy) {
        curl_multi_remove_handle(h->multi, *easy);
        curl_easy_cleanup(*easy);
        *easy = NULL;
    }
}

static void check_free(struct http_check *c)
{
    easy_drop(c->h, &c->easy);
    easy_drop(c->h, &c->crl_easy);
    curl_slist_free_all(c->headers);
    curl_slist_free_all(c->resolve);
    tls_observe_free(&c->tls);
    cmon_buf_free(&c->crl);
    free(c->valid);
    free(c);
}

/* Deliver the result exactly once: everything is released before the
 * callback runs, so it may start new checks or close the engine. */
static void check_finish(struct http_check *c)
{
    struct probe_check_result res = c->res;
    probe_check_cb cb = c->cb;
    void *arg = c->arg;
    check_unlink(c);
    check_free(c);
    cb(arg, &res);
}

/* Details longer than the result's field are cut: they are for people. */
static void __attribute__((format(printf, 3, 4)))
check_fail(struct http_check *c, enum cmon_diag d, const char *fmt, ...)
{
    va_list ap;
    c->res.ok = false;
    c->res.diag = d;
    va_start(ap, fmt);
    vsnprintf(c->res.detail, sizeof c->res.detail, fmt, ap);
    va_end(ap);
}

static size_t body_write_cb(char *ptr, size_t size, size_t nmemb, void *userp)
{
    struct http_check *c = userp;
    size_t n = size * nmemb;
    if (c->detail) { /* read it all (blackbox does); keep the start for regexps */
        struct cmon_buf *b = c->detail->body;
        c->detail->body_bytes += (int64_t)n;
        if (b && b->len < PROBE_HTTP_BODY_KEEP)
            cmon_buf_append(b, ptr, n < PROBE_HTTP_BODY_KEEP - b->len ? n : PROBE_HTTP_BODY_KEEP - b->len);
        return n;
    }
    c->body_bytes += n;
    if (c->body_bytes > HTTP_BODY_CAP) {
        c->body_capped = true;
        return 0; /* enough: the status is known, the rest is discarded */
    }
    return n;
}

static void valid_ranges_text(const struct http_check *c, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    if (c->n_valid == 0) {
        snprintf(out, len, "%d-%d", CMON_HTTP_VALID_DEFAULT_LO, CMON_HTTP_VALID_DEFAULT_HI);
        return;
    }
    for (size_t i = 0; i < c->n_valid && used < len; i++) {
        const struct cmon_status_range *r = &c->valid[i];
        if (r->lo == r->hi)
            used += (size_t)snprintf(out + used, len - used, "%s%d", i ? "," : "", r->lo);
        else
            used += (size_t)snprintf(out + used, len - used, "%s%d-%d", i ? "," : "", r->lo, r->hi);
    }
}

static double span_ms(curl_off_t from_us, curl_off_t to_us)
{
    if (to_us <= 0 || to_us < from_us)
        return -1;
    return (double)(to_us - from_us) / 1000.0;
}

/* connect/TLS/first-byte phases; DNS was the engine's (not measured here). */
static void record_phases(struct http_check *c, CURL *e)
{
    curl_off_t dns = 0, conn = 0, app = 0, pre = 0, start = 0;
    curl_easy_getinfo(e, CURLINFO_NAMELOOKUP_TIME_T, &dns);
    curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &conn);
    curl_easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T, &app);
    curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pre);
    curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &start);
    c->res.dns_ms = -1;
    c->tls_up = c->is_https && app > 0;
    c->res.connect_ms = conn > 0 ? span_ms(dns, conn) : -1;
    c->res.tls_ms = c->is_https && app > 0 ? span_ms(conn, app) : -1;
    if (conn <= 0 && c->tls.hello_ns > 0) {
        /* curl 7.88 times "connect" only once TLS is up too: after a failed
         * handshake, tell TCP and TLS apart by the ClientHello's send time. */
        c->res.connect_ms = (double)(c->tls.hello_ns - c->started_ns) / CMON_NS_PER_MS;
        c->res.tls_ms = (double)(c->tls.last_ns - c->tls.hello_ns) / CMON_NS_PER_MS;
    }
    c->res.first_byte_ms = start > 0 ? span_ms(pre, start) : -1;
    if (c->res.first_byte_ms >= 0)
        c->res.rtt_ms = c->res.first_byte_ms;
}

static void judge_status(struct http_check *c, int status)
{
    char ranges[96];
    c->res.http_status = status;
    if (cmon_status_in_ranges(c->valid, c->n_valid, status)) {
        c->res.ok = true;
        c->res.diag = CMON_DIAG_NONE;
        c->res.detail[0] = '\0';
        return;
    }
    /* nginx and others finish the handshake without a client certificate and
     * refuse at the HTTP layer instead (400 "No required SSL certificate"). */
    if (c->tls.cert_request_seen &&
        (status == 400 || status == 403 || status == 495 || status == 496)) {
        check_fail(c, CMON_DIAG_TLS_CLIENT_CERT_REQUIRED,
                   "server asked for a client certificate; HTTP %d", status);
        return;
    }
    valid_ranges_text(c, ranges, sizeof ranges);
    check_fail(c, CMON_DIAG_HTTP_STATUS, "HTTP %d not in %s", status, ranges);
}

/* Which step the timeout cut short, from the phases recorded so far. */
static const char *timeout_stage(const struct http_check *c)
{
    if (c->is_https && !c->tls_up && c->tls.hello_ns == 0)
        return "no TCP connection";
    if (c->is_https && !c->tls_up)
        return "TLS handshake not finished";
    if (!c->is_https && c->res.connect_ms < 0)
        return "no TCP connection";
    return "no HTTP response";
}

static void classify_error(struct http_check *c, CURL *e, CURLcode rc)
{
    char detail[160];
    enum cmon_diag d = tls_observe_classify(&c->tls, detail, sizeof detail);
    if (d != CMON_DIAG_NONE) {
        check_fail(c, d, "%s", detail);
        return;
    }
    long os_errno = 0;
    curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        check_fail(c, CMON_DIAG_TIMEOUT, "%s within %u ms", timeout_stage(c), c->timeout_ms);
    else if (rc == CURLE_COULDNT_CONNECT && os_errno != 0)
        check_fail(c, probe_diag_map(PROBE_DIAG_ERRNO, (int)os_errno), "errno %ld (%s)", os_errno,
                   strerror((int)os_errno));
    else
        check_fail(c, probe_diag_map(PROBE_DIAG_CURL, rc), "%s",
                   c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
}

static size_t crl_write_cb(char *ptr, size_t size, size_t nmemb, void *userp)
{
    struct http_check *c = userp;
    size_t n = size * nmemb;
    if (c->crl.len + n > HTTP_CRL_CAP) {
        c->crl_too_big = true;
        return 0;
    }
    cmon_buf_append(&c->crl, ptr, n);
    return c->crl.oom ? 0 : n;
}

/* What is left of the check's timeout for the CRL fetch (at least 1 ms). */
static long remaining_ms(const struct http_check *c)
{
    int64_t spent = (cmon_mono_ns() - c->started_ns) / CMON_NS_PER_MS;
    return spent >= (int64_t)c->timeout_ms ? 1 : (long)(c->timeout_ms - spent);
}

/* Fetch c->crl_url on the same multi; true when the fetch started. */
static bool crl_start(struct http_check *c)
{
    CURL *e = curl_easy_init();
    if (!e)
        return false;
    curl_easy_setopt(e, CURLOPT_URL, c->crl_url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, remaining_ms(c));
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, crl_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "cmon/" CMON_VERSION);
    if (curl_multi_add_handle(c->h->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        return false;
    }
    c->crl_easy = e;
    return true;
}

static void crl_judge(struct http_check *c, X509_CRL *crl)
{
    char detail[160];
    enum cmon_diag d = tls_crl_verify(&c->tls, crl, detail, sizeof detail);
    if (d != CMON_DIAG_NONE)
        check_fail(c, d, "%s", detail);
}

static void crl_done(struct http_check *c, CURLcode rc)
{
    long status = 0;
    curl_easy_getinfo(c->crl_easy, CURLINFO_RESPONSE_CODE, &status);
    X509_CRL *crl = NULL;
    if (rc == CURLE_OK && status != 200) {
        check_fail(c, CMON_DIAG_TLS_CRL_UNREACHABLE, "CRL %s: HTTP %ld", c->crl_url, status);
    } else if (rc != CURLE_OK) {
        long os_errno = 0;
        curl_easy_getinfo(c->crl_easy, CURLINFO_OS_ERRNO, &os_errno);
        if (rc == CURLE_COULDNT_CONNECT && os_errno != 0)
            check_fail(c, CMON_DIAG_TLS_CRL_UNREACHABLE, "CRL %s: errno %ld (%s)", c->crl_url,
                       os_errno, strerror((int)os_errno));
        else
            check_fail(c, CMON_DIAG_TLS_CRL_UNREACHABLE, "CRL %s: %s", c->crl_url,
                       c->crl_too_big ? "larger than 4 MiB" : curl_easy_strerror(rc));
    } else if (!(crl = tls_crl_parse((const unsigned char *)c->crl.data, c->crl.len))) {
        check_fail(c, CMON_DIAG_TLS_CRL_UNREACHABLE, "CRL %s: not a DER or PEM CRL", c->crl_url);
    } else {
        crl_judge(c, crl);
        http_crl_cache_put(c->h->crls, c->crl_url, crl, cmon_mono_ns(), time(NULL));
    }
    check_finish(c);
}

/* Revocation of a verified leaf: from the cache, else fetched on the same
 * multi.  True when the check goes on (fetch started). */
static bool crl_check(struct http_check *c)
{
    if (!c->tls.leaf || !tls_crl_url(c->tls.leaf, c->crl_url, sizeof c->crl_url))
        return false;
    X509_CRL *cached = http_crl_cache_get(c->h->crls, c->crl_url, cmon_mono_ns());
    if (cached) {
        char detail[160];
        enum cmon_diag d = http_crl_cache_verify(c->h->crls, c->crl_url, cached, &c->tls,
                                                 time(NULL), detail, sizeof detail);
        if (d != CMON_DIAG_NONE)
            check_fail(c, d, "%s", detail);
        return false;
    }
    if (!crl_start(c))
        check_fail(c, CMON_DIAG_TLS_CRL_UNREACHABLE, "CRL %s: cannot start the fetch", c->crl_url);
    return c->crl_easy != NULL;
}

/* What a caller asking for details learns about the final response. */
static void record_detail(struct http_check *c, CURL *e)
{
    struct probe_http_detail *d = c->detail;
    curl_off_t len = -1, mtime = -1;
    long redirects = 0;
    char *url = NULL;
    d->content_length = curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) == CURLE_OK
                            ? (int64_t)len
                            : -1;
    d->last_modified_unix =
        curl_easy_getinfo(e, CURLINFO_FILETIME_T, &mtime) == CURLE_OK ? (int64_t)mtime : -1;
    curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &redirects);
    d->redirects = (int)redirects;
    d->final_https = curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url &&
                     strncasecmp(url, "https:", 6) == 0;
    if (d->final_https)
        tls_observe_leaf_info(&c->tls, &d->leaf);
}

/* What the answer came over: HTTP version, TLS version, certificate expiry. */
static void record_protocol(struct http_check *c, CURL *e)
{
    long v = 0;
    if (curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &v) == CURLE_OK)
        c->res.http_version = v == CURL_HTTP_VERSION_1_0   ? 10
                              : v == CURL_HTTP_VERSION_1_1 ? 11
                              : v == CURL_HTTP_VERSION_2_0 ? 20
                              : v == CURL_HTTP_VERSION_3   ? 30
                                                           : 0;
    if (c->is_https) {
        snprintf(c->res.tls_version, sizeof c->res.tls_version, "%s", tls_observe_version(&c->tls));
        c->res.cert_expiry_unix = tls_observe_earliest_expiry(&c->tls);
    }
    if (c->detail)
        record_detail(c, e);
}

static void main_done(struct http_check *c, CURLcode rc)
{
    CURL *e = c->easy;
    record_phases(c, e);
    record_protocol(c, e);
    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && c->body_capped)) {
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        judge_status(c, (int)status);
        easy_drop(c->h, &c->easy);
        /* A response came back over verified TLS: revocation is the last word. */
        if (c->is_https && !c->insecure && crl_check(c))
            return;
    } else {
        classify_error(c, e, rc);
        easy_drop(c->h, &c->easy);
    }
    check_finish(c);
}

/* Deliver completed transfers.  A callback may close the engine (teardown
 * then runs inside it): nothing touches the multi handle after that. */
static void http_drain(struct probe_http *h)
{
    CURLMsg *msg;
    int left;
    while (!h->closing && (msg = curl_multi_info_read(h->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        void *priv = NULL;
        CURL *e = msg->easy_handle;
        CURLcode rc = msg->data.result;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        struct http_check *c = priv;
        if (!c)
            continue;
        if (e == c->easy)
            main_done(c, rc);
        else if (e == c->crl_easy)
            crl_done(c, rc);
    }
}

/* ---- start --------------------------------------------------------------- */

static enum cmon_err copy_spec(struct http_check *c, const struct probe_http_spec *spec)
{
    if (!spec)
        return CMON_OK;
    for (size_t i = 0; i < spec->n_headers; i++) {
        struct curl_slist *l = curl_slist_append(c->headers, spec->headers[i]);
        if (!l)
            return CMON_ERR_NOMEM;
        c->headers = l;
    }
    if (spec->n_valid > 0) {
        c->valid = calloc(spec->n_valid, sizeof *c->valid);
        if (!c->valid)
            return CMON_ERR_NOMEM;
        memcpy(c->valid, spec->valid, spec->n_valid * sizeof *c->valid);
        c->n_valid = spec->n_valid;
    }
    return CMON_OK;
}

/* "host:port:addr" so curl connects to the engine's address while the Host
 * header and SNI stay the URL's host.  IP-literal URLs need no entry. */
static enum cmon_err pin_address(struct http_check *c, const char *url, const struct sockaddr *sa)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *scheme = NULL;
    enum cmon_err err = CMON_OK;
    if (!u)
        return CMON_ERR_NOMEM;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
        goto out; /* curl reports the bad URL itself (url_invalid), later */
    c->is_https = strcasecmp(scheme, "https") == 0;
    unsigned char tmp[16];
    if (host[0] == '[') { /* IPv6 literal: checked as an IP, no pinning */
        host[strcspn(host, "]")] = '\0';
        tls_observe_init(&c->tls, host + 1);
        goto out;
    }
    tls_observe_init(&c->tls, host);
    if (inet_pton(AF_INET, host, tmp) == 1)
        goto out;
    char addr[INET6_ADDRSTRLEN], entry[512];
    if (uv_ip_name(sa, addr, sizeof addr) != 0)
        goto out;
    snprintf(entry, sizeof entry, sa->sa_family == AF_INET6 ? "%s:%s:[%s]" : "%s:%s:%s", host, port,
             addr);
    struct curl_slist *l = curl_slist_append(NULL, entry);
    if (!l)
        err = CMON_ERR_NOMEM;
    c->resolve = l;
out:
    curl_free(host);
    curl_free(port);
    curl_free(scheme);
    curl_url_cleanup(u);
    return err;
}

/* With a body (even ""), a POST is curl's own (so a 301/302/303 turns it
 * into a GET, as Go's client does) and other methods send it under their
 * own name.  Without one (the agent), the method is only a name. */
static void set_method(CURL *e, const struct probe_http_spec *spec)
{
    const char *method = spec ? spec->method : NULL;
    bool post = method && strcasecmp(method, "POST") == 0;
    if (spec && spec->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)spec->body_len);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, spec->body);
    }
    if (!method || (post && spec->body) || (strcasecmp(method, "GET") == 0 && !spec->body))
        return;
    if (strcasecmp(method, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
}

/* Redirects (blackbox's 10 at most, http and https only), no verification,
 * Last-Modified: only when the spec asks. */
static void set_options(CURL *e, const struct probe_http_spec *spec)
{
    if (!spec)
        return;
    if (spec->follow_redirects) {
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    }
    if (spec->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (spec->detail)
        curl_easy_setopt(e, CURLOPT_FILETIME, 1L);
}

/* Trust anchors: ca_file alone when given, else the system bundle.  No CA
 * directory: with one, curl 7.88 reloads the bundle for every connection
 * instead of keeping the parsed store in the multi handle (a third of the
 * CPU of an HTTPS check). */
static void set_trust(CURL *e, const char *ca_file)
{
    char *bundle = NULL;
    if (ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    } else if (curl_easy_getinfo(e, CURLINFO_CAINFO, &bundle) == CURLE_OK && bundle) {
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    }
}

static CURL *make_easy(struct http_check *c, const struct probe_target *t, const char *url,
                       const char *ca_file)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)t->timeout_ms);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* The check is of this address, not of a proxy that http_proxy names. */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    /* TLS 1.0/1.1 are deprecated (RFC 8996): a server offering only those is
     * tls_incompatible rather than a check that passes on weak crypto. */
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "cmon/" CMON_VERSION);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, tls_observe_ssl_ctx);
    curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, &c->tls);
    set_trust(e, ca_file);
    if (c->headers)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    if (c->resolve)
        curl_easy_setopt(e, CURLOPT_RESOLVE, c->resolve);
    set_method(e, t->http);
    set_options(e, t->http);
    return e;
}

static bool has_header(const struct curl_slist *l, const char *name)
{
    size_t n = strlen(name);
    for (; l; l = l->next)
        if (strncasecmp(l->data, name, n) == 0 && l->data[n] == ':')
            return true;
    return false;
}

/* tls_config.server_name: the request goes to the URL with server_name as its
 * host (SNI and the name verified), pinned to the address resolved for the
 * target, and the Host header keeps the target's host.  *out: curl_free'd by
 * the caller; NULL when the URL stays (no server_name, or a URL curl will
 * refuse itself). */
static enum cmon_err apply_server_name(struct http_check *c, const struct probe_target *t,
                                       char **out)
{
    *out = NULL;
    const char *sn = t->http ? t->http->server_name : NULL;
    if (!sn || !*sn)
        return CMON_OK;
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    enum cmon_err err = CMON_OK;
    if (!u)
        return CMON_ERR_NOMEM;
    if (curl_url_set(u, CURLUPART_URL, t->url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && strcasecmp(host, sn) != 0) {
        curl_url_get(u, CURLUPART_PORT, &port, 0); /* only when the URL names one */
        char line[600];
        snprintf(line, sizeof line, "Host: %s%s%s", host, port ? ":" : "", port ? port : "");
        struct curl_slist *l = has_header(c->headers, "Host") ? c->headers
                                                              : curl_slist_append(c->headers, line);
        if (!l || curl_url_set(u, CURLUPART_HOST, sn, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_URL, out, 0) != CURLUE_OK)
            err = CMON_ERR_NOMEM;
        if (l)
            c->headers = l;
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return err;
}

static enum cmon_err http_start(struct probe_engine *eng, const struct probe_target *t,
                                const struct sockaddr *sa, socklen_t salen, probe_check_cb cb,
                                void *arg)
{
    if (!t->url)
        return CMON_ERR_INVALID;
    struct probe_http *h = eng->proto[CMON_PROTO_HTTP];
    if (!h) {
        enum cmon_err err = http_create(eng, &h);
        if (err != CMON_OK)
            return err;
        eng->proto[CMON_PROTO_HTTP] = h;
    }
    if (h->closing)
        return CMON_ERR_INVALID;
    struct http_check *c = calloc(1, sizeof *c);
    if (!c)
        return CMON_ERR_NOMEM;
    c->h = h;
    c->cb = cb;
    c->arg = arg;
    c->timeout_ms = t->timeout_ms ? t->timeout_ms
                                  : (uint32_t)cmon_protocol_defaults(CMON_PROTO_HTTP)->timeout_ms;
    c->started_ns = cmon_mono_ns();
    c->res.rtt_ms = c->res.dns_ms = c->res.connect_ms = c->res.tls_ms = -1;
    c->res.first_byte_ms = -1;
    tls_observe_init(&c->tls, t->host);
    uv_ip_name(sa, c->res.address, sizeof c->res.address);
    c->detail = t->http ? t->http->detail : NULL;
    c->insecure = t->http && t->http->insecure;
    char *sn_url = NULL;
    enum cmon_err err = copy_spec(c, t->http);
    if (err == CMON_OK)
        err = apply_server_name(c, t, &sn_url);
    const char *url = sn_url ? sn_url : t->url;
    if (err == CMON_OK)
        err = pin_address(c, url, sa);
    c->tls.insecure = c->insecure;
    if (err == CMON_OK && !(c->easy = make_easy(c, t, url, eng->opts.ca_file)))
        err = CMON_ERR_NOMEM;
    curl_free(sn_url);
    if (err == CMON_OK && curl_multi_add_handle(h->multi, c->easy) != CURLM_OK)
        err = CMON_ERR_NOMEM;
    if (err != CMON_OK) {
        if (c->easy)
            curl_easy_cleanup(c->easy);
        c->easy = NULL;
        check_free(c);
        return err;
    }
    check_link(h, c);
    return CMON_OK; /* curl's timer callback schedules the work: cb runs later */
}

/* ---- close --------------------------------------------------------------- */

static void http_teardown(struct probe_http *h)
{
    h->torn_down = true;
    while (h->socks)
        sock_release(h->socks);
    curl_multi_cleanup(h->multi);
    h->multi = NULL;
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, on_timer_closed);
    h->eng->proto[CMON_PROTO_HTTP] = NULL;
}

/* Cancels every check (its callback runs now: timeout "cancelled"), then
 * closes the handles; their close callbacks free the state without touching
 * eng, which the engine may free one loop turn later. */
static void http_close(struct probe_engine *eng)
{
    struct probe_http *h = eng->proto[CMON_PROTO_HTTP];
    if (!h || h->closing)
        return;
    h->closing = true; /* start() refuses from here on */
    while (h->checks) {
        struct http_check *c = h->checks;
        check_fail(c, CMON_DIAG_TIMEOUT, "%s", "cancelled");
        check_finish(c);
    }
    http_teardown(h);
}

const struct probe_ops probe_http_ops = {
    .proto = CMON_PROTO_HTTP,
    .name = "http",
    .fds_per_check = 1,
    .url_target = true,
    .start = http_start,
    .close = http_close,
};
