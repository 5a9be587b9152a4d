/* cmd_check.c: `cmon check TARGET` -- a one-shot diagnosis (ping, tcping and
 * curl -v in one): runs N checks of one protocol through the probe engine,
 * prints each (RTT, or the failure's diagnostic code and explanation), then a
 * summary; --json prints the same as one JSON document (a contract that the
 * integration tests rely on).  Exit 0 when every check passed, 1 otherwise. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "probe/probe.h"
#include "probe/round.h"
#include "probe/target.h"

#define CHECK_MAX_HEADERS 64
#define CHECK_MAX_RANGES 32

struct check_opts {
    const char *target_arg;
    int proto; /* -1: infer */
    int port;
    uint32_t count; /* 0: protocol default */
    uint32_t interval_ms;
    bool interval_set;
    uint32_t timeout_ms;  /* 0: protocol default */
    uint32_t concurrency; /* 0: default */
    enum cmon_ip_pref ip;
    bool ip_strict; /* -4/-6; --prefer falls back to the other family */
    const char *method;
    const char *headers[CHECK_MAX_HEADERS];
    size_t n_headers;
    struct cmon_status_range ranges[CHECK_MAX_RANGES];
    size_t n_ranges;
    const char *ca_file;
    bool json, quiet;
    struct probe_target_buf tb;
    struct probe_http_spec http;
    char err[sizeof(struct cmon_errbuf)];
};

struct check_slot {
    struct check_run *run;
    uint32_t seq;
};

struct check_run {
    uv_loop_t loop;
    uv_timer_t tick;
    uv_signal_t sigint;
    struct probe_engine *eng;
    struct check_opts *o;
    struct probe_target target;
    uint32_t started, done, inflight;
    bool stopping;
    struct check_slot *slots;
    struct probe_check_result *results; /* --json only */
    struct probe_round_acc acc;
    char address[64];
};

static const char *check_protocol_name(enum cmon_protocol p)
{
    return cmon_protocol_name(p);
}

static double cmon_pct(const struct cmon_round_result *rr)
{
    return rr->checks_total ? 100.0 * rr->checks_failed / rr->checks_total : 0;
}

static double ms3(double v)
{
    return round(v * 1000) / 1000;
}

static void print_check(const struct check_run *r, uint32_t seq,
                        const struct probe_check_result *res)
{
    if (r->o->quiet || r->o->json)
        return;
    if (res->ok) {
        printf("  %-4u ok    %s  %.3f ms", seq + 1, res->address, res->rtt_ms);
        if (res->http_status)
            printf("  HTTP %d", res->http_status);
        printf("\n");
    } else {
        printf("  %-4u FAIL  %s  %s: %s", seq + 1, res->address[0] ? res->address : "-",
               cmon_diag_code(res->diag), cmon_diag_explain(res->diag));
        if (res->detail[0])
            printf(" (%s)", res->detail);
        printf("\n");
    }
    fflush(stdout);
}

static void start_more(struct check_run *r);
static void check_opts_target(struct check_opts *o, struct probe_target *t);

static void engine_closed(void *arg)
{
    struct check_run *r = arg;
    r->eng = NULL;
    uv_close((uv_handle_t *)&r->tick, NULL);
    uv_close((uv_handle_t *)&r->sigint, NULL);
}

static void maybe_finish(struct check_run *r)
{
    if (r->inflight == 0 && (r->started == r->o->count || r->stopping) && r->eng) {
        struct probe_engine *eng = r->eng;
        r->stopping = true;
        uv_timer_stop(&r->tick);
        probe_engine_close(eng, engine_closed, r);
    }
}

static void check_done(void *arg, const struct probe_check_result *res)
{
    struct check_slot *s = arg;
    struct check_run *r = s->run;
    r->inflight--;
    r->done++;
    probe_round_add(&r->acc, s->seq, res);
    if (!r->address[0] && res->address[0])
        snprintf(r->address, sizeof r->address, "%s", res->address);
    if (r->results)
        r->results[s->seq] = *res;
    print_check(r, s->seq, res);
    if (r->o->interval_ms == 0)
        start_more(r);
    maybe_finish(r);
}

static bool start_one(struct check_run *r)
{
    uint32_t seq = r->started;
    struct check_slot *s = &r->slots[seq];
    s->run = r;
    s->seq = seq;
    enum cmon_err err = probe_check_start(r->eng, &r->target, check_done, s);
    if (err != CMON_OK) {
        fprintf(stderr, "cmon check: cannot start a %s check: %s\n",
                check_protocol_name(r->target.proto), cmon_strerror(err));
        r->stopping = true;
        return false;
    }
    r->started++;
    r->inflight++;
    return true;
}

static void start_more(struct check_run *r)
{
    while (!r->stopping && r->started < r->o->count && r->inflight < r->o->concurrency) {
        if (!start_one(r) || r->o->interval_ms > 0)
            break;
    }
}

static void tick_cb(uv_timer_t *t)
{
    struct check_run *r = t->data;
    start_more(r);
    maybe_finish(r);
}

static void sigint_cb(uv_signal_t *h, int signum)
{
    struct check_run *r = h->data;
    r->stopping = true; /* stop starting; checks in flight are cancelled */
    if (r->eng) {
        uv_timer_stop(&r->tick);
        probe_engine_close(r->eng, engine_closed, r);
    }
}

static json_t *num_or_null(double v)
{
    return v < 0 ? json_null() : json_real(ms3(v));
}

static json_t *summary_json(const struct check_run *r, const struct cmon_round_result *rr)
{
    json_t *s = json_object();
    json_object_set_new(s, "checksTotal", json_integer(rr->checks_total));
    json_object_set_new(s, "checksFailed", json_integer(rr->checks_failed));
    json_object_set_new(s, "checksFailedPercent", json_real(cmon_pct(rr)));
    json_t *rtt = json_null();
    if (rr->has_rtt)
        rtt = json_pack("{s:o,s:o,s:o,s:o}", "min", json_real(ms3(rr->rtt_min_ms)), "avg",
                        json_real(ms3(rr->rtt_avg_ms)), "max", json_real(ms3(rr->rtt_max_ms)),
                        "jitter", json_real(ms3(rr->rtt_jitter_ms)));
    json_object_set_new(s, "rtt", rtt);
    json_object_set_new(s, "diagnostic", json_string(cmon_diag_code(rr->diagnostic)));
    json_object_set_new(s, "detail", json_string(rr->detail));
    if (r->target.proto == CMON_PROTO_HTTP)
        json_object_set_new(s, "phases",
                            json_pack("{s:o,s:o,s:o,s:o}", "dnsMs", num_or_null(rr->dns_ms),
                                      "connectMs", num_or_null(rr->connect_ms), "tlsMs",
                                      num_or_null(rr->tls_ms), "firstByteMs",
                                      num_or_null(rr->first_byte_ms)));
    return s;
}

static void print_json(const struct check_run *r, const struct cmon_round_result *rr)
{
    json_t *checks = json_array();
    for (uint32_t i = 0; i < r->started; i++) {
        const struct probe_check_result *c = &r->results[i];
        json_array_append_new(checks,
                              json_pack("{s:I,s:b,s:o,s:s,s:s,s:i}", "seq", (json_int_t)i + 1, "ok",
                                        c->ok, "rttMs", json_real(c->ok ? ms3(c->rtt_ms) : 0),
                                        "diagnostic", cmon_diag_code(c->diag), "detail", c->detail,
                                        "httpStatus", c->http_status));
    }
    json_t *doc = json_pack("{s:s,s:s,s:s,s:i,s:o,s:o}", "target", r->o->target_arg, "protocol",
                            check_protocol_name(r->target.proto), "address", r->address, "port",
                            (int)r->target.port, "checks", checks, "summary", summary_json(r, rr));
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (text)
        puts(text);
    free(text);
    json_decref(doc);
}

static void print_summary(const struct check_run *r, const struct cmon_round_result *rr)
{
    printf("--- %s %s: %u checks, %u failed (%.1f%%)\n", check_protocol_name(r->target.proto),
           r->o->target_arg, rr->checks_total, rr->checks_failed, cmon_pct(rr));
    if (rr->has_rtt)
        printf("rtt min/avg/max/jitter = %.3f/%.3f/%.3f/%.3f ms\n", rr->rtt_min_ms, rr->rtt_avg_ms,
               rr->rtt_max_ms, rr->rtt_jitter_ms);
    if (rr->diagnostic != CMON_DIAG_NONE)
        printf("diagnostic: %s: %s%s%s%s\n", cmon_diag_code(rr->diagnostic),
               cmon_diag_explain(rr->diagnostic), rr->detail[0] ? " (" : "", rr->detail,
               rr->detail[0] ? ")" : "");
    if (r->target.proto == CMON_PROTO_HTTP && rr->checks_total) {
        const double v[] = {rr->dns_ms, rr->connect_ms, rr->tls_ms, rr->first_byte_ms};
        const char *const name[] = {"dns", "connect", "tls", "first byte"};
        printf("phases (last check):");
        for (size_t i = 0; i < 4; i++) {
            if (v[i] < 0)
                printf("%s %s -", i ? "," : "", name[i]);
            else
                printf("%s %s %.3f ms", i ? "," : "", name[i], v[i]);
        }
        if (rr->http_status)
            printf(", HTTP %d", rr->http_status);
        printf("\n");
    }
}

static int run_checks(struct check_opts *o)
{
    struct check_run r = {.o = o};
    struct cmon_errbuf eb = {{0}};
    check_opts_target(o, &r.target);
    r.slots = calloc(o->count, sizeof *r.slots);
    r.results = o->json ? calloc(o->count, sizeof *r.results) : NULL;
    if (!r.slots || (o->json && !r.results) || probe_round_init(&r.acc, o->count) != CMON_OK) {
        fprintf(stderr, "cmon check: out of memory\n");
        free(r.slots);
        free(r.results);
        return CLI_EXIT_FAILED;
    }
    uv_loop_init(&r.loop);
    struct probe_engine_opts eo = {.ca_file = o->ca_file};
    int rc = CLI_EXIT_FAILED;
    if (probe_engine_new(&r.loop, &eo, &r.eng, &eb) != CMON_OK) {
        fprintf(stderr, "cmon check: %s\n", eb.msg);
        goto out;
    }
    uv_timer_init(&r.loop, &r.tick);
    r.tick.data = &r;
    uv_signal_init(&r.loop, &r.sigint);
    r.sigint.data = &r;
    uv_signal_start_oneshot(&r.sigint, sigint_cb, SIGINT);
    if (!o->json && !o->quiet)
        printf("CHECK %s %s (%u check%s)\n", check_protocol_name(r.target.proto), o->target_arg,
               o->count, o->count == 1 ? "" : "s");
    start_more(&r);
    if (o->interval_ms > 0)
        uv_timer_start(&r.tick, tick_cb, o->interval_ms, o->interval_ms);
    maybe_finish(&r);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    struct cmon_round_result rr = {0};
    probe_round_finish(&r.acc, &rr);
    if (o->json)
        print_json(&r, &rr);
    else
        print_summary(&r, &rr);
    rc = rr.checks_total == o->count && rr.checks_failed == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
out:
    uv_loop_close(&r.loop);
    probe_round_free(&r.acc);
    free(r.slots);
    free(r.results);
    return rc;
}

/* --- options --- */

static void check_opts_init(struct check_opts *o)
{
    memset(o, 0, sizeof *o);
    o->proto = -1;
}

static void check_opts_free(struct check_opts *o)
{
    (void)o; /* nothing owned: argv strings */
}

static bool parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* "2xx", "301-304", "418", comma separated. */
static const char *parse_ranges(struct check_opts *o, const char *arg)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int lo, hi;
        char x1, x2, tail;
        if (strlen(tok) == 3 && isdigit((unsigned char)tok[0]) &&
            sscanf(tok, "%1d%c%c", &lo, &x1, &x2) == 3 && (x1 == 'x' || x1 == 'X') &&
            (x2 == 'x' || x2 == 'X')) {
            lo *= 100;
            hi = lo + 99;
        } else if (sscanf(tok, "%d-%d%c", &lo, &hi, &tail) == 2) {
        } else if (sscanf(tok, "%d%c", &lo, &tail) == 1) {
            hi = lo;
        } else {
            return "--status: use ranges like 2xx,301-304,418";
        }
        if (lo < 100 || hi > 599 || lo > hi)
            return "--status: codes must be 100..599, low-high";
        if (o->n_ranges == CHECK_MAX_RANGES)
            return "--status: too many ranges";
        o->ranges[o->n_ranges++] = (struct cmon_status_range){lo, hi};
    }
    return NULL;
}

static const char *check_opts_set(struct check_opts *o, int c, const char *arg)
{
    uint32_t v;
    switch (c) {
    case '4':
        o->ip = CMON_IP_V4;
        o->ip_strict = true;
        return NULL;
    case '6':
        o->ip = CMON_IP_V6;
        o->ip_strict = true;
        return NULL;
    case 'R':
        if (strcasecmp(arg, "IPv4") == 0 || strcmp(arg, "4") == 0)
            o->ip = CMON_IP_V4;
        else if (strcasecmp(arg, "IPv6") == 0 || strcmp(arg, "6") == 0)
            o->ip = CMON_IP_V6;
        else
            return "--prefer must be IPv4 or IPv6";
        o->ip_strict = false;
        return NULL;
    case 'j':
        o->json = true;
        return NULL;
    case 'q':
        o->quiet = true;
        return NULL;
    case 'C':
        o->ca_file = arg;
        return NULL;
    case 'X':
        o->method = arg;
        return NULL;
    case 'S':
        return parse_ranges(o, arg);
    case 'p': {
        enum cmon_protocol p;
        if (!probe_protocol_parse(arg, &p))
            return "--protocol must be icmp, tcp or http";
        o->proto = (int)p;
        return NULL;
    }
    case 'P':
        if (!parse_u32(arg, 1, 65535, &v))
            return "--port must be 1..65535";
        o->port = (int)v;
        return NULL;
    case 'c':
        if (!parse_u32(arg, 1, 10000000, &o->count))
            return "--count must be 1..10000000";
        return NULL;
    case 'i':
        if (!parse_u32(arg, 0, 3600000, &o->interval_ms))
            return "--interval must be 0..3600000 ms";
        o->interval_set = true;
        return NULL;
    case 't':
        if (!parse_u32(arg, 1, 600000, &o->timeout_ms))
            return "--timeout must be 1..600000 ms";
        return NULL;
    case 'n':
        if (!parse_u32(arg, 1, 1000000, &o->concurrency))
            return "--concurrency must be 1..1000000";
        return NULL;
    case 'H':
        if (!strchr(arg, ':') || arg[0] == ':')
            return "--header must look like \"Name: value\"";
        if (o->n_headers == CHECK_MAX_HEADERS)
            return "too many --header options";
        o->headers[o->n_headers++] = arg;
        return NULL;
    default:
        return "unknown option";
    }
}

static const char *check_opts_finish(struct check_opts *o, const char *target)
{
    struct cmon_errbuf eb;
    o->target_arg = target;
    if (probe_target_parse(target, o->proto, o->port, &o->tb, &eb) != CMON_OK) {
        snprintf(o->err, sizeof o->err, "%s", eb.msg);
        return o->err;
    }
    bool http = o->tb.proto == CMON_PROTO_HTTP;
    if (!http && (o->method || o->n_headers || o->n_ranges || o->ca_file))
        return "--method, --header, --status and --ca apply to HTTP checks only";
    if (!o->count)
        o->count = http ? 3 : 4;
    if (!o->interval_set)
        o->interval_ms = 1000;
    if (!o->timeout_ms)
        o->timeout_ms = (uint32_t)cmon_protocol_defaults(o->tb.proto)->timeout_ms;
    if (!o->concurrency)
        o->concurrency = o->interval_ms == 0 ? 1 : o->count;
    return NULL;
}

static void check_opts_target(struct check_opts *o, struct probe_target *t)
{
    memset(t, 0, sizeof *t);
    t->proto = o->tb.proto;
    t->host = o->tb.host;
    t->port = o->tb.port;
    t->ip_pref = o->ip;
    t->ip_strict = o->ip_strict;
    t->timeout_ms = o->timeout_ms;
    if (t->proto == CMON_PROTO_HTTP) {
        t->url = o->tb.url;
        o->http = (struct probe_http_spec){.method = o->method,
                                           .headers = o->headers,
                                           .n_headers = o->n_headers,
                                           .valid = o->ranges,
                                           .n_valid = o->n_ranges};
        t->http = &o->http;
    }
}

static const struct option check_longopts[] = {
    {"protocol", required_argument, NULL, 'p'},
    {"port", required_argument, NULL, 'P'},
    {"count", required_argument, NULL, 'c'},
    {"interval", required_argument, NULL, 'i'},
    {"timeout", required_argument, NULL, 't'},
    {"method", required_argument, NULL, 'X'},
    {"header", required_argument, NULL, 'H'},
    {"status", required_argument, NULL, 'S'},
    {"ca", required_argument, NULL, 'C'},
    {"json", no_argument, NULL, 'j'},
    {"concurrency", required_argument, NULL, 'n'},
    {"quiet", no_argument, NULL, 'q'},
    {"prefer", required_argument, NULL, 'R'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

static int check_run_cmd(const struct cli_command *self, int argc, char **argv)
{
    struct check_opts o;
    check_opts_init(&o);
    int c, rc = CLI_EXIT_OK;
    while ((c = cli_getopt(self, argc, argv, "46p:c:i:t:X:H:jqh", check_longopts, &rc)) != -1) {
        if (c == -2)
            goto done;
        const char *bad = check_opts_set(&o, c, optarg);
        if (bad) {
            rc = cli_usage_error(self, "%s", bad);
            goto done;
        }
    }
    if (optind >= argc) {
        rc = cli_usage_error(self, "missing TARGET");
        goto done;
    }
    if (optind + 1 < argc) {
        rc = cli_usage_error(self, "unexpected argument '%s'", argv[optind + 1]);
        goto done;
    }
    const char *bad = check_opts_finish(&o, argv[optind]);
    if (bad) {
        rc = cli_usage_error(self, "%s", bad);
        goto done;
    }
    rc = run_checks(&o);
done:
    check_opts_free(&o);
    return rc;
}

const struct cli_command cmd_check = {
    .name = "check",
    .summary = "check one target now (ICMP, TCP or HTTP) and explain failures",
    .usage =
        "usage: cmon check [OPTIONS] TARGET\n"
        "\n"
        "Run a few checks against TARGET now and explain each failure with a\n"
        "diagnostic code (timeout, connection_refused, admin_prohibited, dns_nxdomain,\n"
        "...) and a one-line explanation, then print a summary: checks failed %,\n"
        "RTT min/avg/max/jitter, and for HTTP the DNS/connect/TLS/first-byte phases.\n"
        "\n"
        "TARGET and the protocol it implies (unless --protocol says otherwise):\n"
        "  https://host/path, http://host:8080/   Http\n"
        "  host:5432, [2001:db8::5]:443            Tcp\n"
        "  host, 198.18.1.2, 2001:db8::5           Icmp\n"
        "\n"
        "Options:\n"
        "  -p, --protocol icmp|tcp|http  the protocol to check with\n"
        "      --port N            TCP/HTTP port (TCP needs one: host:port or --port)\n"
        "  -c, --count N           number of checks (default 4; HTTP 3)\n"
        "  -i, --interval MS       time between check starts (default 1000); 0 starts the\n"
        "                          next check as soon as one finishes (see --concurrency)\n"
        "      --concurrency C     at most C checks in flight (default: no limit with an\n"
        "                          interval, 1 with --interval 0); for load tests\n"
        "  -t, --timeout MS        per check, DNS included (default 2000; HTTP 10000)\n"
        "  -4, -6                  use only IPv4 / only IPv6 (names resolve to that family)\n"
        "      --prefer IPv4|IPv6  prefer that family, fall back to the other (as the\n"
        "                          monitor file's preferredIPVersion); default IPv4 first\n"
        "  -X, --method M          HTTP method (default GET)\n"
        "  -H, --header \"N: V\"     HTTP request header (repeatable)\n"
        "      --status RANGES     valid HTTP status codes, e.g. 2xx,301-304 (default 200-399)\n"
        "      --ca FILE           trust anchors for HTTPS (default: the system store)\n"
        "      --json              print one JSON document instead of text\n"
        "  -q, --quiet             print only the summary\n"
        "  -h, --help              show this help\n"
        "\n"
        "Exit status: 0 when every check passed, 1 when any failed, 2 on usage errors.\n"
        "ICMP uses unprivileged ICMP sockets where net.ipv4.ping_group_range allows,\n"
        "else raw sockets with CAP_NET_RAW; without either it says how to fix it.\n",
    .run = check_run_cmd,
};
