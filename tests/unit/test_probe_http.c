/* test_probe_http.c: the contract test of src/probe/http.c.  A real nginx on
 * 127.0.0.1 (started here, certificates made by tests/integration/lib/tls.sh
 * with openssl) serves every scenario; each test runs probe_http_ops.start on
 * its own uv loop with a hand-made engine and asserts the exact result.
 * Exits 77 (skipped) with the reason when nginx or openssl is missing. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/x509.h>
#include <time.h>

#include "core/clock.h"
#include "probe/http_crl.h"
#include "probe/probe_internal.h"
#include "probe/tls_verify.h"

enum port_idx {
    P_HTTP,
    P_GOOD,
    P_EXPIRED,
    P_NOTYET,
    P_WRONG,
    P_UNTRUSTED,
    P_CLIENT,
    P_REVOKED,
    P_CRLDOWN,
    P_TLS10,
    P_CLOSED,
    P_SILENT,
    P_SRV12,
    P_SRV13,
    P_SRV6,
    P_SELF,
    P_NOCIPHER,
    P__COUNT
};

enum { S_TLS12, S_TLS13, S_V6, S_SELF, S_NOCIPHER, S__COUNT }; /* openssl s_server processes */

struct fixture {
    char dir[64];
    char ca[128];
    uint16_t port[P__COUNT];
    pid_t nginx;
    pid_t s_server[S__COUNT];
    bool have_v6;
    int silent_fd; /* listens, never accepts: checks against it time out */
};

struct outcome {
    int calls;
    bool in_start;
    bool called_in_start;
    struct probe_check_result res;
};

static void on_result(void *arg, const struct probe_check_result *res)
{
    struct outcome *o = arg;
    o->calls++;
    if (o->in_start)
        o->called_in_start = true;
    o->res = *res;
}

/* Reserve distinct free ports by binding them all at once. */
static int pick_ports(uint16_t *ports, int n)
{
    int fds[P__COUNT];
    for (int i = 0; i < n; i++) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sin;
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&sin, sizeof sin) != 0 ||
            getsockname(fds[i], (struct sockaddr *)&sin, &len) != 0)
            return -1;
        ports[i] = ntohs(sin.sin_port);
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
    return 0;
}

static int run_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_cmd(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static bool port_open(uint16_t port)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int listen_silent(uint16_t port)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(fd, 16) != 0)
        return -1;
    return fd;
}

static bool v6_loopback(void)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sin6, sizeof sin6) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* openssl s_server with the good certificate; extra: "-Verify 1 -tls1_2"... */
static pid_t spawn_s_server(const struct fixture *f, const char *accept, const char *cert,
                            const char *extra)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "exec openssl s_server -quiet -www -accept '%s' -cert %s/%s.pem -key %s/%s.key "
             "-CAfile %s/ca.pem %s >/dev/null 2>&1",
             accept, f->dir, cert, f->dir, cert, f->dir, extra);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static bool s_servers_up(const struct fixture *f)
{
    return port_open(f->port[P_SRV12]) && port_open(f->port[P_SRV13]) &&
           port_open(f->port[P_SELF]) && port_open(f->port[P_NOCIPHER]);
}

static const char *start_s_servers(struct fixture *f)
{
    char acc[64];
    snprintf(acc, sizeof acc, "127.0.0.1:%u", f->port[P_SRV12]);
    f->s_server[S_TLS12] = spawn_s_server(f, acc, "good", "-Verify 1 -tls1_2");
    snprintf(acc, sizeof acc, "127.0.0.1:%u", f->port[P_SRV13]);
    f->s_server[S_TLS13] = spawn_s_server(f, acc, "good", "-Verify 1 -tls1_3");
    /* the rogue CA's own certificate: self-signed, not trusted */
    snprintf(acc, sizeof acc, "127.0.0.1:%u", f->port[P_SELF]);
    f->s_server[S_SELF] = spawn_s_server(f, acc, "rogue/ca", "");
    /* TLS 1.2 with only a NULL cipher, which no client offers */
    snprintf(acc, sizeof acc, "127.0.0.1:%u", f->port[P_NOCIPHER]);
    f->s_server[S_NOCIPHER] =
        spawn_s_server(f, acc, "good", "-tls1_2 -cipher ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0");
    f->have_v6 = v6_loopback();
    if (f->have_v6) {
        snprintf(acc, sizeof acc, "[::1]:%u", f->port[P_SRV6]);
        f->s_server[S_V6] = spawn_s_server(f, acc, "good", "");
    }
    for (int i = 0; i < 100 && !s_servers_up(f); i++)
        usleep(50000);
    if (!s_servers_up(f))
        return "openssl s_server did not start";
    return NULL;
}

/* Returns NULL and prints why when the fixture cannot be built. */
static const char *fixture_start(struct fixture *f, const char *src)
{
    if (run_cmd("command -v nginx >/dev/null 2>&1") != 0)
        return "nginx is not installed (apt-get install nginx-light)";
    if (run_cmd("command -v openssl >/dev/null 2>&1") != 0)
        return "openssl is not installed";
    snprintf(f->dir, sizeof f->dir, "/tmp/cmh%d-unit.XXXXXX", (int)getpid());
    if (!mkdtemp(f->dir) || pick_ports(f->port, P__COUNT) != 0)
        return "cannot make a temporary directory or find free ports";
    snprintf(f->ca, sizeof f->ca, "%s/ca.pem", f->dir);
    char ports[256] = "";
    for (int i = 0; i < P_SILENT; i++) /* the ports tls.sh knows, in its order */
        snprintf(ports + strlen(ports), sizeof ports - strlen(ports), " %u", f->port[i]);
    if (run_cmd("bash %s/tests/integration/lib/tls.sh fixtures %s 127.0.0.1%s", src, f->dir,
                ports) != 0)
        return "tls.sh could not make the certificates";
    f->nginx = fork();
    if (f->nginx == 0) {
        char conf[128];
        snprintf(conf, sizeof conf, "%s/nginx.conf", f->dir);
        execlp("nginx", "nginx", "-p", f->dir, "-c", conf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && !port_open(f->port[P_TLS10]); i++)
        usleep(50000);
    if (!port_open(f->port[P_HTTP]) || !port_open(f->port[P_TLS10]))
        return "nginx did not start (see its error.log in the fixture directory)";
    f->silent_fd = listen_silent(f->port[P_SILENT]);
    if (f->silent_fd < 0)
        return "cannot listen on a loopback port";
    return start_s_servers(f);
}

static void fixture_stop(struct fixture *f)
{
    if (f->nginx > 0) {
        kill(f->nginx, SIGTERM);
        waitpid(f->nginx, NULL, 0);
    }
    for (int i = 0; i < S__COUNT; i++) {
        if (f->s_server[i] > 0) {
            kill(f->s_server[i], SIGTERM);
            waitpid(f->s_server[i], NULL, 0);
        }
    }
    if (f->silent_fd > 0)
        close(f->silent_fd);
    if (f->dir[0] && !getenv("CMON_KEEP_FIXTURES"))
        run_cmd("rm -rf %s", f->dir);
}

struct check_args {
    const char *scheme, *host; /* URL scheme://host:port(idx)path */
    enum port_idx idx;
    const char *path;
    const char *ca;
    const struct probe_http_spec *spec;
    uint32_t timeout_ms;
    const char *raw_url; /* instead of the above */
    bool v6;             /* connect to ::1 instead of 127.0.0.1 */
};

/* One check on a fresh loop; asserts the contract (callback exactly once,
 * never inside start, every handle closed afterwards). */
static struct probe_check_result run_check(const struct fixture *f, const struct check_args *a)
{
    char u[256];
    uint16_t port = f->port[a->idx];
    snprintf(u, sizeof u, "%s://%s:%u%s", a->scheme, a->host, port, a->path);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct probe_engine eng = {.loop = &loop, .opts = {.ca_file = a->ca}};
    struct probe_target t = {.proto = CMON_PROTO_HTTP,
                             .host = "127.0.0.1",
                             .url = a->raw_url ? a->raw_url : u,
                             .port = port,
                             .timeout_ms = a->timeout_ms ? a->timeout_ms : 5000,
                             .http = a->spec};
    struct sockaddr_in sin = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in6 sin6 = {
        .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    const struct sockaddr *sa = a->v6 ? (struct sockaddr *)&sin6 : (struct sockaddr *)&sin;
    socklen_t salen = a->v6 ? sizeof sin6 : sizeof sin;
    struct outcome o = {.in_start = true};
    assert_int_equal(probe_http_ops.start(&eng, &t, sa, salen, on_result, &o), CMON_OK);
    o.in_start = false;
    assert_int_equal(o.calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(o.calls, 1);
    assert_false(o.called_in_start);
    probe_http_ops.close(&eng);
    assert_null(eng.proto[CMON_PROTO_HTTP]);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_string_equal(o.res.address, a->v6 ? "::1" : "127.0.0.1");
    return o.res;
}

#define FIX ((struct fixture *)*state)

static void expect_fail(struct probe_check_result r, enum cmon_diag d, const char *detail)
{
    assert_false(r.ok);
    assert_string_equal(cmon_diag_code(r.diag), cmon_diag_code(d));
    if (detail)
        assert_string_equal(r.detail, detail);
}

static void test_http_200(void **state)
{
    struct probe_check_result r =
        run_check(FIX, &(struct check_args){"http", "www.plain.test", P_HTTP, "/ok", FIX->ca, NULL,
                                            0, NULL, false});
    assert_true(r.ok);
    assert_int_equal(r.diag, CMON_DIAG_NONE);
    assert_string_equal(r.detail, "");
    assert_int_equal(r.http_status, 200);
    assert_true(r.rtt_ms >= 0);
    assert_true(r.dns_ms < 0);
    assert_true(r.connect_ms >= 0);
    assert_true(r.tls_ms < 0);
    assert_true(r.first_byte_ms >= 0);
}

static void test_http_503_default_ranges(void **state)
{
    struct probe_check_result r =
        run_check(FIX, &(struct check_args){"http", "www.plain.test", P_HTTP, "/unavailable",
                                            FIX->ca, NULL, 0, NULL, false});
    expect_fail(r, CMON_DIAG_HTTP_STATUS, "HTTP 503 not in 200-399");
    assert_int_equal(r.http_status, 503);
}

static void test_http_301_not_followed_default_passes(void **state)
{
    struct probe_check_result r =
        run_check(FIX, &(struct check_args){"http", "www.plain.test", P_HTTP, "/moved", FIX->ca,
                                            NULL, 0, NULL, false});
    assert_true(r.ok);
    assert_int_equal(r.http_status, 301);
}

static void test_http_status_ranges(void **state)
{
    const struct cmon_status_range redirects[] = {{301, 304}};
    const struct cmon_status_range two_xx_and_418[] = {{200, 299}, {418, 418}};
    struct probe_http_spec spec = {.valid = redirects, .n_valid = 1};
    struct check_args moved = {"http", "www.plain.test", P_HTTP, "/moved", FIX->ca, &spec, 0, NULL,
                               false};
    struct probe_check_result r = run_check(FIX, &moved);
    assert_true(r.ok);
    assert_int_equal(r.http_status, 301);
    spec.valid = two_xx_and_418;
    spec.n_valid = 2;
    r = run_check(FIX, &moved);
    expect_fail(r, CMON_DIAG_HTTP_STATUS, "HTTP 301 not in 200-299,418");
    assert_int_equal(r.http_status, 301);
}

static void test_http_head_headers_and_big_body(void **state)
{
    const char *const headers[] = {"Accept: */*", "X-Cmon-Test: 1"};
    struct probe_http_spec head = {.method = "HEAD", .headers = headers, .n_headers = 2};
    struct probe_check_result r =
        run_check(FIX, &(struct check_args){"http", "www.plain.test", P_HTTP, "/big", FIX->ca,
                                            &head, 0, NULL, false});
    assert_true(r.ok);
    assert_int_equal(r.http_status, 200);
    /* GET of a 1 MiB body: read up to the cap, then stop; still a pass */
    r = run_check(FIX, &(struct check_args){"http", "www.plain.test", P_HTTP, "/big", FIX->ca, NULL,
                                            0, NULL, false});
    assert_true(r.ok);
    assert_int_equal(r.http_status, 200);
}

static void test_https_valid_with_crl(void **state)
{
    struct probe_check_result r =
        run_check(FIX, &(struct check_args){"https", "www.good.test", P_GOOD, "/", FIX->ca, NULL, 0,
                                            NULL, false});
    assert_string_equal(r.detail, "");
    assert_true(r.ok);
    assert_int_equal(r.http_status, 200);
    assert_true(r.tls_ms >= 0);
    assert_true(r.connect_ms >= 0);
}

static void test_https_system_store_untrusted(void **state)
{
    struct probe_check_result r =
        run_check(FIX, &(struct check_args){"https", "www.good.test", P_GOOD, "/", NULL, NULL, 0,
                                            NULL, false});
    expect_fail(r, CMON_DIAG_TLS_UNTRUSTED_ROOT, "issuer CN=cmon Test CA not trusted");
}

static void test_tls_expired(void **state)
{
    struct probe_check_result r =
        run_check(FIX, &(struct check_args){"https", "www.expired.test", P_EXPIRED, "/", FIX->ca,
                                            NULL, 0, NULL, false});
    expect_fail(r, CMON_DIAG_TLS_EXPIRED, "notAfter 2026-01-02T00:00:00Z");
    assert_int_equal(r.http_status, 0);
    /* TCP connected and TLS failed: both phases are known */
    assert_true(r.connect_ms >= 0);
    assert_true(r.tls_ms >= 0);
    assert_true(r.first_byte_ms < 0);
}

static void test_tls_not_yet_valid(void **state)
{
    struct probe_check_result r =
        run_check(FIX, &(struct check_args){"https", "www.notyet.test", P_NOTYET, "/", FIX->ca,
                                            NULL, 0, NULL, false});
    expect_fail(r, CMON_DIAG_TLS_NOT_YET_VALID, "notBefore 2030-01-01T00:00:00Z");
}

static void test_tls_hostname_mismatch(void **state)
{
    struct probe_check_result r =
        run_check(FIX, &(struct check_args){"https", "www.wrong.test", P_WRONG, "/", FIX->ca, NULL,
                                            0, NULL, false});
    expect_fail(r, CMON_DIAG_TLS_HOSTNAME_MISMATCH, "certificate names www.other.test");
}

static void test_tls_untrusted_root(void **state)
{
    struct probe_check_result r =
        run_check(FIX, &(struct check_args){"https", "www.untrusted.test", P_UNTRUSTED, "/",
                                            FIX->ca, NULL, 0, NULL, false});
    expect_fail(r, CMON_DIAG_TLS_UNTRUSTED_ROOT, "issuer CN=Rogue Test CA not trusted");
}

static void test_tls_self_signed(void **state)
{
    struct check_args a = {"https", "www.good.test", P_SELF, "/", FIX->ca, NULL, 0, NULL, false};
    expect_fail(run_check(FIX, &a), CMON_DIAG_TLS_UNTRUSTED_ROOT,
                "self-signed CN=Rogue Test CA not trusted");
}

static void test_tls_client_cert_required(void **state)
{
    struct probe_check_result r =
        run_check(FIX, &(struct check_args){"https", "www.good.test", P_CLIENT, "/", FIX->ca, NULL,
                                            0, NULL, false});
    expect_fail(r, CMON_DIAG_TLS_CLIENT_CERT_REQUIRED,
                "server asked for a client certificate; HTTP 400");
}

static void test_tls_revoked(void **state)
{
    struct probe_check_result r =
        run_check(FIX, &(struct check_args){"https", "www.revoked.test", P_REVOKED, "/", FIX->ca,
                                            NULL, 0, NULL, false});
    expect_fail(r, CMON_DIAG_TLS_REVOKED, "serial 1002 revoked");
    assert_int_equal(r.http_status, 200);
}

static void test_tls_crl_unreachable(void **state)
{
    char want[160];
    snprintf(want, sizeof want, "CRL http://127.0.0.1:%u/ca.crl: errno 111 (Connection refused)",
             FIX->port[P_CLOSED]);
    struct probe_check_result r =
        run_check(FIX, &(struct check_args){"https", "www.crldown.test", P_CRLDOWN, "/", FIX->ca,
                                            NULL, 0, NULL, false});
    expect_fail(r, CMON_DIAG_TLS_CRL_UNREACHABLE, want);
}

static void test_tls_incompatible(void **state)
{
    struct probe_check_result r =
        run_check(FIX, &(struct check_args){"https", "www.good.test", P_TLS10, "/", FIX->ca, NULL,
                                            0, NULL, false});
    expect_fail(r, CMON_DIAG_TLS_INCOMPATIBLE, "TLS alert protocol version received");
}

static void test_tls_no_shared_cipher(void **state)
{
    struct check_args a = {"https", "www.good.test", P_NOCIPHER, "/", FIX->ca, NULL, 0, NULL,
                           false};
    expect_fail(run_check(FIX, &a), CMON_DIAG_TLS_INCOMPATIBLE,
                "TLS alert handshake failure received");
}

static void test_connection_refused(void **state)
{
    struct probe_check_result r =
        run_check(FIX, &(struct check_args){"http", "www.plain.test", P_CLOSED, "/", FIX->ca, NULL,
                                            0, NULL, false});
    expect_fail(r, CMON_DIAG_CONNECTION_REFUSED, "errno 111 (Connection refused)");
}

static void test_timeout(void **state)
{
    struct probe_check_result r =
        run_check(FIX, &(struct check_args){"http", "www.plain.test", P_SILENT, "/", FIX->ca, NULL,
                                            300, NULL, false});
    expect_fail(r, CMON_DIAG_TIMEOUT, "no HTTP response within 300 ms");
    /* the listener never speaks TLS either */
    struct check_args tls = {"https", "www.good.test", P_SILENT, "/", FIX->ca, NULL, 300, NULL,
                             false};
    r = run_check(FIX, &tls);
    expect_fail(r, CMON_DIAG_TIMEOUT, "TLS handshake not finished within 300 ms");
    assert_true(r.connect_ms >= 0);
}

static void test_url_invalid(void **state)
{
    struct check_args a = {"http", "x", P_HTTP, "/", FIX->ca, NULL, 0, "ftp://www.plain.test/",
                           false};
    expect_fail(run_check(FIX, &a), CMON_DIAG_URL_INVALID, NULL);
}

static void test_tls12_client_cert_alert(void **state)
{
    struct check_args a = {"https", "www.good.test", P_SRV12, "/", FIX->ca, NULL, 0, NULL, false};
    expect_fail(run_check(FIX, &a), CMON_DIAG_TLS_CLIENT_CERT_REQUIRED,
                "server asked for a client certificate, then sent alert handshake failure");
}

static void test_tls13_client_cert_alert(void **state)
{
    struct check_args a = {"https", "www.good.test", P_SRV13, "/", FIX->ca, NULL, 0, NULL, false};
    expect_fail(run_check(FIX, &a), CMON_DIAG_TLS_CLIENT_CERT_REQUIRED,
                "server asked for a client certificate, then sent alert certificate required");
}

/* Pinned to ::1 by CURLOPT_RESOLVE; SNI and Host stay www.good.test. */
static void test_ipv6_pinned_name_and_literal(void **state)
{
    if (!FIX->have_v6)
        skip();
    struct check_args a = {"https", "www.good.test", P_SRV6, "/", FIX->ca, NULL, 0, NULL, true};
    struct probe_check_result r = run_check(FIX, &a);
    assert_string_equal(r.detail, "");
    assert_true(r.ok);
    assert_int_equal(r.http_status, 200);
    /* an IP-literal URL is checked against the certificate's IP names */
    char u[64];
    snprintf(u, sizeof u, "https://[::1]:%u/", FIX->port[P_SRV6]);
    a.raw_url = u;
    expect_fail(run_check(FIX, &a), CMON_DIAG_TLS_HOSTNAME_MISMATCH,
                "certificate names www.good.test,www.six.test");
}

static X509_CRL *load_fixture_crl(const struct fixture *f, time_t *next_update)
{
    char path[128];
    unsigned char buf[4096];
    snprintf(path, sizeof path, "%s/ca.crl", f->dir);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    X509_CRL *crl = tls_crl_parse(buf, n);
    assert_non_null(crl);
    struct tm tm;
    assert_int_equal(ASN1_TIME_to_tm(X509_CRL_get0_nextUpdate(crl), &tm), 1);
    *next_update = timegm(&tm);
    return crl;
}

/* Entries live until nextUpdate, at most HTTP_CRL_MAX_AGE_SEC; stale CRLs are
 * not kept; the oldest entry goes beyond HTTP_CRL_MAX_ENTRIES. */
static void test_crl_cache_expiry_and_eviction(void **state)
{
    time_t next;
    const int64_t t0 = 1000 * CMON_NS_PER_SEC;
    struct http_crl_cache *c = http_crl_cache_new();
    assert_non_null(c);
    X509_CRL *crl = load_fixture_crl(FIX, &next);
    http_crl_cache_put(c, "http://a/ca.crl", crl, t0, next - 86400);
    assert_ptr_equal(http_crl_cache_get(c, "http://a/ca.crl", t0), crl);
    assert_null(http_crl_cache_get(c, "http://b/ca.crl", t0));
    int64_t max_age = HTTP_CRL_MAX_AGE_SEC * CMON_NS_PER_SEC;
    assert_ptr_equal(http_crl_cache_get(c, "http://a/ca.crl", t0 + max_age - 1), crl);
    assert_null(http_crl_cache_get(c, "http://a/ca.crl", t0 + max_age));
    /* nextUpdate 100 s away: 100 s of life */
    crl = load_fixture_crl(FIX, &next);
    http_crl_cache_put(c, "http://a/ca.crl", crl, t0, next - 100);
    assert_non_null(http_crl_cache_get(c, "http://a/ca.crl", t0 + 99 * CMON_NS_PER_SEC));
    assert_null(http_crl_cache_get(c, "http://a/ca.crl", t0 + 100 * CMON_NS_PER_SEC));
    /* past nextUpdate: not cached */
    http_crl_cache_put(c, "http://a/ca.crl", load_fixture_crl(FIX, &next), t0, next + 1);
    assert_null(http_crl_cache_get(c, "http://a/ca.crl", t0));
    for (int i = 0; i <= HTTP_CRL_MAX_ENTRIES; i++) {
        char url[32];
        snprintf(url, sizeof url, "http://h%d/ca.crl", i);
        http_crl_cache_put(c, url, load_fixture_crl(FIX, &next), t0, next - 86400);
    }
    assert_null(http_crl_cache_get(c, "http://h0/ca.crl", t0));
    assert_non_null(http_crl_cache_get(c, "http://h1/ca.crl", t0));
    assert_non_null(http_crl_cache_get(c, "http://h32/ca.crl", t0));
    http_crl_cache_free(c);
}

/* The second revoked check of an engine is judged from the cached CRL. */
static void test_crl_cached_across_checks(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct probe_engine eng = {.loop = &loop, .opts = {.ca_file = FIX->ca}};
    char u[128], crl_path[128], hidden[140];
    snprintf(u, sizeof u, "https://www.revoked.test:%u/", FIX->port[P_REVOKED]);
    struct probe_target t = {.proto = CMON_PROTO_HTTP,
                             .host = "127.0.0.1",
                             .url = u,
                             .port = FIX->port[P_REVOKED],
                             .timeout_ms = 5000};
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(FIX->port[P_REVOKED]),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct outcome o[2];
    memset(o, 0, sizeof o);
    snprintf(crl_path, sizeof crl_path, "%s/ca.crl", FIX->dir);
    snprintf(hidden, sizeof hidden, "%s/ca.crl.hidden", FIX->dir);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(
            probe_http_ops.start(&eng, &t, (struct sockaddr *)&sin, sizeof sin, on_result, &o[i]),
            CMON_OK);
        uv_run(&loop, UV_RUN_DEFAULT);
        /* nginx now answers 404 for the CRL: only the cache can still know */
        if (i == 0)
            assert_int_equal(rename(crl_path, hidden), 0);
    }
    assert_int_equal(rename(hidden, crl_path), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(o[i].calls, 1);
        expect_fail(o[i].res, CMON_DIAG_TLS_REVOKED, "serial 1002 revoked");
    }
    probe_http_ops.close(&eng);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* One check of https://host:port/ on eng's loop, run to its end. */
static struct probe_check_result check_on(struct probe_engine *eng, const char *host,
                                          uint16_t port)
{
    char u[128];
    snprintf(u, sizeof u, "https://%s:%u/", host, port);
    struct probe_target t = {
        .proto = CMON_PROTO_HTTP, .host = "127.0.0.1", .url = u, .port = port, .timeout_ms = 5000};
    struct sockaddr_in sin = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct outcome o = {0};
    assert_int_equal(
        probe_http_ops.start(eng, &t, (struct sockaddr *)&sin, sizeof sin, on_result, &o), CMON_OK);
    uv_run(eng->loop, UV_RUN_DEFAULT);
    assert_int_equal(o.calls, 1);
    return o.res;
}

/* The good and the revoked leaf share one CA and CRL URL: on one engine,
 * interleaved, each keeps its own verdict once the CRL is cached and the good
 * leaf's is remembered (a verdict remembered for the CRL rather than for the
 * leaf would pass the revoked one). */
static void test_crl_verdicts_per_leaf(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct probe_engine eng = {.loop = &loop, .opts = {.ca_file = FIX->ca}};
    for (int i = 0; i < 4; i++) {
        struct probe_check_result r = check_on(&eng, "www.good.test", FIX->port[P_GOOD]);
        assert_string_equal(r.detail, "");
        assert_true(r.ok);
        r = check_on(&eng, "www.good.test", FIX->port[P_GOOD]);
        assert_true(r.ok);
        r = check_on(&eng, "www.revoked.test", FIX->port[P_REVOKED]);
        expect_fail(r, CMON_DIAG_TLS_REVOKED, "serial 1002 revoked");
    }
    probe_http_ops.close(&eng);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

struct reentry {
    struct probe_engine *eng;
    struct probe_target target;
    struct sockaddr_in sin;
    struct outcome chained, cancelled[2];
    int first_calls;
    enum cmon_err chained_start;
};

static void chained_then_close(void *arg, const struct probe_check_result *res)
{
    struct reentry *r = arg;
    on_result(&r->chained, res);
    probe_http_ops.close(r->eng); /* from inside a completion: cancels the rest */
}

static void first_then_start(void *arg, const struct probe_check_result *res)
{
    struct reentry *r = arg;
    r->first_calls++;
    assert_true(res->ok);
    r->chained_start = probe_http_ops.start(r->eng, &r->target, (struct sockaddr *)&r->sin,
                                            sizeof r->sin, chained_then_close, r);
}

/* A callback may start the next check, and a later one may close the engine
 * while other checks are in flight: each callback still runs exactly once. */
static void test_start_and_close_from_callbacks(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct probe_engine eng = {.loop = &loop, .opts = {.ca_file = FIX->ca}};
    char ok_url[96], silent_url[96];
    snprintf(ok_url, sizeof ok_url, "http://www.plain.test:%u/ok", FIX->port[P_HTTP]);
    snprintf(silent_url, sizeof silent_url, "http://www.plain.test:%u/", FIX->port[P_SILENT]);
    struct reentry r = {.eng = &eng};
    r.target = (struct probe_target){.proto = CMON_PROTO_HTTP,
                                     .host = "127.0.0.1",
                                     .url = ok_url,
                                     .port = FIX->port[P_HTTP],
                                     .timeout_ms = 5000};
    r.sin = (struct sockaddr_in){.sin_family = AF_INET,
                                 .sin_port = htons(FIX->port[P_HTTP]),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct probe_target silent = r.target;
    silent.url = silent_url;
    silent.timeout_ms = 60000;
    struct sockaddr_in ssin = r.sin;
    ssin.sin_port = htons(FIX->port[P_SILENT]);
    for (int i = 0; i < 2; i++)
        assert_int_equal(probe_http_ops.start(&eng, &silent, (struct sockaddr *)&ssin, sizeof ssin,
                                              on_result, &r.cancelled[i]),
                         CMON_OK);
    assert_int_equal(probe_http_ops.start(&eng, &r.target, (struct sockaddr *)&r.sin, sizeof r.sin,
                                          first_then_start, &r),
                     CMON_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.first_calls, 1);
    assert_int_equal(r.chained_start, CMON_OK);
    assert_int_equal(r.chained.calls, 1);
    assert_true(r.chained.res.ok);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(r.cancelled[i].calls, 1);
        expect_fail(r.cancelled[i].res, CMON_DIAG_TIMEOUT, "cancelled");
    }
    assert_null(eng.proto[CMON_PROTO_HTTP]);
    assert_int_equal(uv_loop_close(&loop), 0);
}

#define N_PARALLEL 40

/* Many checks in flight on one loop; then a close that cancels the rest. */
static void test_parallel_and_cancel(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct probe_engine eng = {.loop = &loop, .opts = {.ca_file = FIX->ca}};
    char u1[256], u2[256];
    snprintf(u1, sizeof u1, "https://www.good.test:%u/", FIX->port[P_GOOD]);
    snprintf(u2, sizeof u2, "http://www.plain.test:%u/", FIX->port[P_SILENT]);
    struct outcome o[N_PARALLEL + 1];
    memset(o, 0, sizeof o);
    for (int i = 0; i <= N_PARALLEL; i++) {
        bool silent = i == N_PARALLEL;
        uint16_t port = FIX->port[silent ? P_SILENT : P_GOOD];
        struct probe_target t = {.proto = CMON_PROTO_HTTP,
                                 .host = "127.0.0.1",
                                 .url = silent ? u2 : u1,
                                 .port = port,
                                 .timeout_ms = 60000};
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_int_equal(
            probe_http_ops.start(&eng, &t, (struct sockaddr *)&sin, sizeof sin, on_result, &o[i]),
            CMON_OK);
    }
    /* run until every check but the silent one is done */
    for (int done = 0; done < N_PARALLEL;) {
        uv_run(&loop, UV_RUN_ONCE);
        done = 0;
        for (int i = 0; i < N_PARALLEL; i++)
            done += o[i].calls;
    }
    for (int i = 0; i < N_PARALLEL; i++) {
        assert_int_equal(o[i].calls, 1);
        assert_true(o[i].res.ok);
    }
    assert_int_equal(o[N_PARALLEL].calls, 0);
    probe_http_ops.close(&eng);
    assert_int_equal(o[N_PARALLEL].calls, 1);
    expect_fail(o[N_PARALLEL].res, CMON_DIAG_TIMEOUT, "cancelled");
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const char *src = getenv("CMON_SOURCE_DIR");
    struct fixture f = {.silent_fd = -1};
    signal(SIGPIPE, SIG_IGN);
    /* Every check must reach its pinned address directly: a proxy from the
     * environment (here a closed port) would fail them all. */
    setenv("http_proxy", "http://127.0.0.1:9", 1);
    setenv("https_proxy", "http://127.0.0.1:9", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
    const char *why = fixture_start(&f, src ? src : CMON_SOURCE_DIR);
    if (why) {
        printf("SKIPPED: %s\n", why);
        fixture_stop(&f);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_http_200, &f),
        cmocka_unit_test_prestate(test_http_503_default_ranges, &f),
        cmocka_unit_test_prestate(test_http_301_not_followed_default_passes, &f),
        cmocka_unit_test_prestate(test_http_status_ranges, &f),
        cmocka_unit_test_prestate(test_http_head_headers_and_big_body, &f),
        cmocka_unit_test_prestate(test_https_valid_with_crl, &f),
        cmocka_unit_test_prestate(test_https_system_store_untrusted, &f),
        cmocka_unit_test_prestate(test_tls_expired, &f),
        cmocka_unit_test_prestate(test_tls_not_yet_valid, &f),
        cmocka_unit_test_prestate(test_tls_hostname_mismatch, &f),
        cmocka_unit_test_prestate(test_tls_untrusted_root, &f),
        cmocka_unit_test_prestate(test_tls_self_signed, &f),
        cmocka_unit_test_prestate(test_tls_client_cert_required, &f),
        cmocka_unit_test_prestate(test_tls_revoked, &f),
        cmocka_unit_test_prestate(test_tls_crl_unreachable, &f),
        cmocka_unit_test_prestate(test_tls_incompatible, &f),
        cmocka_unit_test_prestate(test_tls_no_shared_cipher, &f),
        cmocka_unit_test_prestate(test_connection_refused, &f),
        cmocka_unit_test_prestate(test_timeout, &f),
        cmocka_unit_test_prestate(test_url_invalid, &f),
        cmocka_unit_test_prestate(test_tls12_client_cert_alert, &f),
        cmocka_unit_test_prestate(test_tls13_client_cert_alert, &f),
        cmocka_unit_test_prestate(test_ipv6_pinned_name_and_literal, &f),
        cmocka_unit_test_prestate(test_crl_cache_expiry_and_eviction, &f),
        cmocka_unit_test_prestate(test_crl_cached_across_checks, &f),
        cmocka_unit_test_prestate(test_crl_verdicts_per_leaf, &f),
        cmocka_unit_test_prestate(test_start_and_close_from_callbacks, &f),
        cmocka_unit_test_prestate(test_parallel_and_cancel, &f),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    fixture_stop(&f);
    return failed;
}
