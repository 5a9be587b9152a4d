/* answer.c: /probe in blackbox's terms (see answer.h).  Metric names, labels
 * and meanings follow blackbox_exporter 0.23's probers; a metric is written
 * only when cmon's engine measured what it means (docs/exporter.md lists
 * those it cannot). */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "exporter/answer.h"

bool exp_timeout_ms(const char *header, uint32_t module_ms, double offset_s, uint32_t *out)
{
    double scrape = 0;
    if (header && *header) {
        char *end;
        scrape = strtod(header, &end);
        if (*end || !isfinite(scrape) || scrape < 0)
            return false;
    }
    if (scrape == 0)
        scrape = 120;
    double max_s = scrape - offset_s, mod_s = module_ms / 1000.0;
    double t = (mod_s > 0 && mod_s < max_s) || max_s < 0 ? mod_s : max_s;
    if (t <= 0)
        t = 0.001; /* blackbox would fail at once; a 1 ms check does the same */
    *out = (uint32_t)llround(fmin(t, 86400) * 1000);
    if (*out == 0)
        *out = 1;
    return true;
}

static const int protos[] = {[EXP_PROBER_HTTP] = CMON_PROTO_HTTP,
                             [EXP_PROBER_TCP] = CMON_PROTO_TCP,
                             [EXP_PROBER_ICMP] = CMON_PROTO_ICMP,
                             [EXP_PROBER_DNS] = CMON_PROTO_TCP /* host:port */};

/* blackbox's dns target: the server, "ADDR", "ADDR:PORT" or "[V6]:PORT"
 * (port 53 when absent).  cmon asks an address, not a name. */
static enum cmon_err prepare_dns(const struct exp_module *m, const char *target,
                                 struct exp_job *job, struct cmon_errbuf *eb)
{
    const char *colon = strchr(target, ':');
    bool has_port = target[0] == '[' || (colon && !strchr(colon + 1, ':'));
    enum cmon_err e =
        probe_target_parse(target, has_port ? CMON_PROTO_TCP : CMON_PROTO_ICMP, 0, &job->tb, eb);
    if (e)
        return e;
    if (!job->tb.port)
        job->tb.port = 53;
    enum cmon_addr_kind k = cmon_addr_classify(job->tb.host);
    if (k != CMON_ADDR_IPV4 && k != CMON_ADDR_IPV6)
        return cmon_fail(eb, CMON_ERR_INVALID,
                         "the dns prober's target must be the DNS server's IP address");
    job->dns = true;
    snprintf(job->dns_name, sizeof job->dns_name, "%s", m->dns.query_name);
    job->dns_qtype = m->dns.query_type;
    job->dns_rd = m->dns.recursion_desired;
    return CMON_OK;
}

/* tcp beyond connect: tls and query_response, for the engine to copy. */
static enum cmon_err prepare_tcp(const struct exp_module *m, struct exp_job *job)
{
    if (!m->tcp.tls && !m->tcp.n_steps)
        return CMON_OK;
    if (m->tcp.n_steps && !(job->tcp_steps = calloc(m->tcp.n_steps, sizeof *job->tcp_steps)))
        return CMON_ERR_NOMEM;
    for (size_t i = 0; i < m->tcp.n_steps; i++)
        job->tcp_steps[i] = (struct probe_tcp_step){.expect = m->tcp.steps[i].expect.text,
                                                    .send = m->tcp.steps[i].send,
                                                    .starttls = m->tcp.steps[i].starttls};
    job->tcp_spec = (struct probe_tcp_spec){
        .steps = job->tcp_steps,
        .n_steps = m->tcp.n_steps,
        .tls = m->tcp.tls,
        .insecure = m->tls.insecure,
        .server_name = m->tls.server_name,
        .detail = &job->tcp_detail,
    };
    job->target.tcp = &job->tcp_spec;
    return CMON_OK;
}

enum cmon_err exp_job_prepare(const struct exp_module *m, const char *target, uint32_t timeout_ms,
                              struct exp_job *job, struct cmon_errbuf *eb)
{
    char url[2100];
    const char *arg = target;
    memset(job, 0, sizeof *job);
    if (m->prober == EXP_PROBER_HTTP && !strstr(target, "://")) {
        snprintf(url, sizeof url, "http://%s", target);
        arg = url;
    }
    job->dns = false;
    enum cmon_err e = m->prober == EXP_PROBER_DNS
                          ? prepare_dns(m, target, job, eb)
                          : probe_target_parse(arg, protos[m->prober], 0, &job->tb, eb);
    if (e)
        return e;
    job->target = (struct probe_target){
        .proto = job->tb.proto,
        .host = job->tb.host,
        .url = m->prober == EXP_PROBER_HTTP ? job->tb.url : NULL,
        .port = job->tb.port,
        .ip_pref = m->ip_pref,
        .ip_strict = !m->ip_fallback,
        .timeout_ms = timeout_ms,
    };
    job->ca_file[0] = '\0';
    if (m->tls.ca_file)
        snprintf(job->ca_file, sizeof job->ca_file, "%s", m->tls.ca_file);
    if (m->prober == EXP_PROBER_TCP)
        return prepare_tcp(m, job);
    if (m->prober == EXP_PROBER_ICMP && (m->icmp_ttl || m->icmp_payload_size)) {
        job->icmp_spec = (struct probe_icmp_spec){m->icmp_ttl, m->icmp_payload_size};
        job->target.icmp = &job->icmp_spec;
    }
    if (m->prober != EXP_PROBER_HTTP)
        return CMON_OK;
    /* blackbox's default accepts 2xx only; the engine's default is 200-399 */
    static const struct cmon_status_range two_xx = {200, 299};
    job->spec = (struct probe_http_spec){
        .method = m->http.method,
        .headers = (const char *const *)m->http.headers,
        .n_headers = m->http.n_headers,
        .valid = m->http.n_valid ? m->http.valid : &two_xx,
        .n_valid = m->http.n_valid ? m->http.n_valid : 1,
        /* a POST without one sends an empty body (Content-Length: 0), as Go */
        .body = m->http.body ? m->http.body
                : m->http.method && !strcmp(m->http.method, "POST") ? ""
                                                                     : NULL,
        .body_len = m->http.body ? strlen(m->http.body) : 0,
        .follow_redirects = !m->http.no_follow,
        .insecure = m->tls.insecure,
        .server_name = m->tls.server_name,
        .detail = &job->detail,
    };
    job->detail.body = m->http.n_body_match || m->http.n_body_not_match ? &job->body : NULL;
    job->target.http = &job->spec;
    return CMON_OK;
}

/* ---- rendering ----------------------------------------------------------- */

static void gauge(struct cmon_buf *out, const char *name, const char *help, double v)
{
    cmon_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %.10g\n", name, help, name, name, v);
}

static void phases(struct cmon_buf *out, const char *name, const char *help,
                   const char *const *names, const double *secs, size_t n)
{
    cmon_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (size_t i = 0; i < n; i++)
        cmon_buf_printf(out, "%s{phase=\"%s\"} %.9g\n", name, names[i], secs[i]);
}

static double secs(double ms)
{
    return ms > 0 ? ms / 1000.0 : 0;
}

/* blackbox's ipHash: FNV-1a 32 over the address's 4 or 16 bytes */
static double ip_hash(const char *addr, int *family)
{
    unsigned char b[16];
    size_t n = 0;
    *family = 0;
    if (inet_pton(AF_INET, addr, b) == 1) {
        n = 4;
        *family = 4;
    } else if (inet_pton(AF_INET6, addr, b) == 1) {
        n = 16;
        *family = 6;
    }
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return n ? (double)h : 0;
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void label(struct cmon_buf *out, const char *name, const char *v, const char *sep)
{
    cmon_buf_prom_label(out, name, v);
    cmon_buf_puts(out, sep);
}

/* Go's zero time.Time in Unix seconds: blackbox's last chain expiry when no
 * chain was verified (insecure_skip_verify). */
#define GO_ZERO_TIME_UNIX (-62135596800.0)

/* TLS facts; the last chain's only once the exchange got through (an HTTP
 * answer, a TCP handshake), as blackbox. */
static void render_tls(const struct exp_module *m, const struct exp_job *job,
                       const struct probe_tls_leaf *leaf, bool through, struct cmon_buf *out)
{
    const struct probe_check_result *r = &job->res;
    if (r->cert_expiry_unix > 0)
        gauge(out, "probe_ssl_earliest_cert_expiry",
              "Returns last SSL chain expiry in unixtime (the earliest notAfter of the chain)",
              (double)r->cert_expiry_unix);
    if (r->tls_version[0])
        cmon_buf_printf(out,
                        "# HELP probe_tls_version_info Returns the TLS version used or NaN when "
                        "unknown\n# TYPE probe_tls_version_info gauge\n"
                        "probe_tls_version_info{version=\"%s\"} 1\n",
                        r->tls_version);
    if (!through)
        return;
    gauge(out, "probe_ssl_last_chain_expiry_timestamp_seconds",
          "Returns last SSL chain expiry in timestamp seconds",
          m->tls.insecure || r->cert_expiry_unix <= 0 ? GO_ZERO_TIME_UNIX
                                                       : (double)r->cert_expiry_unix);
    cmon_buf_printf(out, "# HELP probe_ssl_last_chain_info Contains SSL leaf certificate "
                         "information\n# TYPE probe_ssl_last_chain_info gauge\n"
                         "probe_ssl_last_chain_info{");
    label(out, "fingerprint_sha256", leaf->sha256, ",");
    label(out, "issuer", leaf->issuer, ",");
    label(out, "subject", leaf->subject, ",");
    label(out, "subjectalternative", leaf->dns_names, "");
    cmon_buf_printf(out, "} 1\n");
}

static void render_http(const struct exp_module *m, const struct exp_job *job, bool https,
                        struct cmon_buf *out)
{
    const struct probe_check_result *r = &job->res;
    const struct probe_http_detail *d = &job->detail;
    bool answered = r->http_status > 0;
    static const char *const names[] = {"resolve", "connect", "tls", "processing", "transfer"};
    double v[5] = {secs(r->dns_ms), secs(r->connect_ms), secs(r->tls_ms), secs(r->first_byte_ms),
                   0};
    double rest = job->duration_s - v[0] - v[1] - v[2] - v[3];
    v[4] = r->http_status > 0 && rest > 0 ? rest : 0;
    phases(out, "probe_http_duration_seconds",
           "Duration of http request by phase, summed over "
           "all redirects",
           names, v, 5);
    gauge(out, "probe_http_status_code", "Response HTTP status code", r->http_status);
    gauge(out, "probe_http_content_length", "Length of http content response",
          answered ? (double)d->content_length : 0);
    gauge(out, "probe_http_uncompressed_body_length", "Length of uncompressed response body",
          answered ? (double)d->body_bytes : 0);
    gauge(out, "probe_http_ssl", "Indicates if SSL was used for the final redirect",
          https && answered);
    gauge(out, "probe_http_redirects", "The number of redirects", d->redirects);
    gauge(out, "probe_http_version", "Returns the version of HTTP of the probe response",
          r->http_version / 10.0); /* 0 without a response, as blackbox */
    if (answered && d->last_modified_unix >= 0)
        gauge(out, "probe_http_last_modified_timestamp_seconds",
              "Returns the Last-Modified HTTP response header in unixtime",
              (double)d->last_modified_unix);
    if (https)
        render_tls(m, job, &d->leaf, answered, out);
    gauge(out, "probe_failed_due_to_regex", "Indicates if probe failed due to regex",
          job->failed_due_to_regex);
}

static void render_tcp(const struct exp_module *m, const struct exp_job *job, struct cmon_buf *out)
{
    if (m->tcp.tls || job->res.tls_version[0])
        render_tls(m, job, &job->tcp_detail.leaf, job->res.tls_version[0] != '\0', out);
    gauge(out, "probe_failed_due_to_regex", "Indicates if probe failed due to regex",
          job->tcp_detail.failed_due_to_regex);
}

static void render_icmp(const struct exp_job *job, struct cmon_buf *out)
{
    const struct probe_check_result *r = &job->res;
    static const char *const names[] = {"resolve", "setup", "rtt"};
    double v[3] = {secs(r->dns_ms), 0, r->ok ? secs(r->rtt_ms) : 0};
    phases(out, "probe_icmp_duration_seconds", "Duration of icmp request by phase", names, v, 3);
}

static void render_dns(const struct exp_job *job, struct cmon_buf *out)
{
    const struct exp_dns_answer *a = &job->dns_ans;
    static const char *const names[] = {"resolve", "connect", "request"};
    double v[3] = {0, 0, a->got ? secs(job->res.rtt_ms) : 0};
    phases(out, "probe_dns_duration_seconds", "Duration of DNS request by phase", names, v, 3);
    gauge(out, "probe_dns_answer_rrs",
          "Returns number of entries in the answer resource record "
          "list",
          a->answers);
    gauge(out, "probe_dns_authority_rrs",
          "Returns number of entries in the authority resource "
          "record list",
          a->authority);
    gauge(out, "probe_dns_additional_rrs",
          "Returns number of entries in the additional resource "
          "record list",
          a->additional);
    gauge(out, "probe_dns_query_succeeded",
          "Displays whether or not the query was executed "
          "successfully",
          a->got);
}

static bool rcode_valid(const struct exp_dns *d, int rcode)
{
    if (d->n_valid_rcodes == 0)
        return rcode == 0; /* NOERROR, blackbox's default */
    for (size_t i = 0; i < d->n_valid_rcodes; i++)
        if (d->valid_rcodes[i] == rcode)
            return true;
    return false;
}

static void judge_fail(struct probe_check_result *r, const char *what, const char *text)
{
    r->ok = false;
    r->diag = CMON_DIAG_HTTP_ERROR;
    snprintf(r->detail, sizeof r->detail, "%s%s%.120s", what, text ? " " : "", text ? text : "");
}

/* The first regexp of list whose match (want: true) or miss (false) fails the
 * body; NULL when none does.  REG_STARTEND: the body may hold NUL bytes. */
static const char *regex_fails(const struct exp_regex *list, size_t n, const struct cmon_buf *body,
                               bool want)
{
    for (size_t i = 0; i < n; i++) {
        regmatch_t span = {.rm_so = 0, .rm_eo = (regoff_t)body->len};
        bool hit = regexec(&list[i].re, body->data ? body->data : "", 1, &span, REG_STARTEND) == 0;
        if (hit == want)
            return list[i].text;
    }
    return NULL;
}

/* fail_if_body_(not_)matches_regexp, then valid_http_versions (blackbox's order). */
static void judge_http_answer(const struct exp_http *h, struct exp_job *job)
{
    struct probe_check_result *r = &job->res;
    const char *re;
    if ((re = regex_fails(h->body_match, h->n_body_match, &job->body, true)) != NULL) {
        judge_fail(r, "body matches", re);
        job->failed_due_to_regex = true;
    } else if ((re = regex_fails(h->body_not_match, h->n_body_not_match, &job->body, false))) {
        judge_fail(r, "body does not match", re);
        job->failed_due_to_regex = true;
    } else if (h->versions && !(h->versions & EXP_HTTP_VERSION_BIT(r->http_version))) {
        char v[32];
        snprintf(v, sizeof v, "HTTP/%d.%d", r->http_version / 10, r->http_version % 10);
        judge_fail(r, v, "is not in valid_http_versions");
    }
}

/* The module's own rules over a check that was otherwise fine:
 * fail_if_ssl / fail_if_not_ssl, regexps and HTTP versions, and the dns
 * prober's valid_rcodes. */
static void judge(const struct exp_module *m, bool https, struct exp_job *job)
{
    struct probe_check_result *r = &job->res;
    if (!r->ok)
        return;
    if (m->prober == EXP_PROBER_HTTP) {
        if ((https && m->http.fail_if_ssl) || (!https && m->http.fail_if_not_ssl))
            judge_fail(r, https ? "fail_if_ssl" : "fail_if_not_ssl", NULL);
        else
            judge_http_answer(&m->http, job);
    }
    if (m->prober == EXP_PROBER_DNS && !rcode_valid(&m->dns, job->dns_ans.rcode)) {
        r->ok = false;
        r->diag = job->dns_ans.rcode == 3 ? CMON_DIAG_DNS_NXDOMAIN : CMON_DIAG_DNS_SERVFAIL;
        snprintf(r->detail, sizeof r->detail, "rcode %d", job->dns_ans.rcode);
    }
}

void exp_answer_render(const struct exp_module *m, struct exp_job *job, struct cmon_buf *out,
                       bool *success)
{
    const struct probe_check_result *r = &job->res;
    /* the final request's scheme, after redirects; the URL's without an answer */
    bool https = m->prober == EXP_PROBER_HTTP &&
                 (r->http_status > 0 ? job->detail.final_https
                                     : strncmp(job->tb.url, "https:", 6) == 0);
    judge(m, https, job);
    bool ok = r->ok;
    int family = 0;
    double hash = r->address[0] ? ip_hash(r->address, &family) : 0;
    gauge(out, "probe_dns_lookup_time_seconds",
          "Returns the time taken for probe dns lookup in "
          "seconds",
          secs(r->dns_ms));
    if (family) {
        gauge(out, "probe_ip_protocol", "Specifies whether probe ip protocol is IP4 or IP6",
              family);
        gauge(out, "probe_ip_addr_hash", "Specifies the hash of IP address", hash);
    }
    if (m->prober == EXP_PROBER_HTTP)
        render_http(m, job, https, out);
    else if (m->prober == EXP_PROBER_ICMP)
        render_icmp(job, out);
    else if (m->prober == EXP_PROBER_DNS)
        render_dns(job, out);
    else
        render_tcp(m, job, out);
    gauge(out, "probe_duration_seconds", "Returns how long the probe took to complete in seconds",
          job->duration_s);
    gauge(out, "probe_success", "Displays whether or not the probe was a success", ok);
    if (r->diag != CMON_DIAG_NONE) {
        cmon_buf_printf(out,
                        "# HELP cmon_probe_diagnostic Why the probe failed (cmon's diagnostic "
                        "code)\n# TYPE cmon_probe_diagnostic gauge\n"
                        "cmon_probe_diagnostic{code=\"%s\"} 1\n",
                        cmon_diag_code(r->diag));
    }
    *success = ok;
}
