/* configs.c: test configuration validation -- protocol blocks, ports,
 * frequency, HTTP status ranges, thresholds and the cmon extensions. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/validate.h"

static const char *const config_fields[] = {"name",
                                            "protocol",
                                            "testFrequencySec",
                                            "preferredIPVersion",
                                            "httpConfiguration",
                                            "tcpConfiguration",
                                            "icmpConfiguration",
                                            "successThreshold",
                                            "checksPerRound",
                                            "timeoutMs",
                                            NULL};
static const char *const http_fields[] = {
    "port", "method", "path", "requestHeaders", "validStatusCodeRanges", "preferHTTPS", NULL};
static const char *const tcp_fields[] = {"port", "disableTraceRoute", "destinationPortBehavior",
                                         NULL};
static const char *const icmp_fields[] = {"disableTraceRoute", NULL};
static const char *const threshold_fields[] = {"checksFailedPercent", "roundTripTimeMs", NULL};
static const char *const header_fields[] = {"name", "value", NULL};
static const char *const ip_versions[] = {"IPv4", "IPv6", NULL};
static const char *const methods[] = {"Get",    "Post",  "Head",    "Put",
                                      "Delete", "Patch", "Options", NULL};
static const char *const port_behaviors[] = {"None", "ListenIfAvailable", NULL};
static const char *const block_of[] = {"icmpConfiguration", "tcpConfiguration",
                                       "httpConfiguration"};

void cmon_config_clear(struct cmon_test_config *c)
{
    free(c->name);
    free(c->method);
    free(c->path);
    for (size_t i = 0; i < c->n_headers; i++) {
        free(c->headers[i].name);
        free(c->headers[i].value);
    }
    free(c->headers);
    free(c->valid_status);
    memset(c, 0, sizeof *c);
}

/* "2xx" -> 200-299, "301-304", "418"; codes 100-599, lo <= hi. */
bool vparse_status_range(const char *s, struct cmon_status_range *r)
{
    size_t len = strlen(s);
    if (len == 3 && s[0] >= '1' && s[0] <= '5' && tolower((unsigned char)s[1]) == 'x' &&
        tolower((unsigned char)s[2]) == 'x') {
        r->lo = (s[0] - '0') * 100;
        r->hi = r->lo + 99;
        return true;
    }
    int lo, hi, n = 0;
    if (sscanf(s, "%3d-%3d%n", &lo, &hi, &n) == 2 && (size_t)n == len && len == 7) {
        /* both parts three digits */
    } else if (sscanf(s, "%3d%n", &lo, &n) == 1 && (size_t)n == len && len == 3) {
        hi = lo;
    } else {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p) && *p != '-')
            return false;
    }
    if (lo < 100 || hi > 599 || lo > hi)
        return false;
    r->lo = lo;
    r->hi = hi;
    return true;
}

static void parse_status_ranges(struct vctx *v, const json_t *http, const char *hp,
                                struct cmon_test_config *c)
{
    const json_t *arr = vget(v, http, hp, "validStatusCodeRanges", JSON_ARRAY, false);
    if (!arr)
        return;
    char p[512], ip[512];
    vpath_key(p, sizeof p, hp, "validStatusCodeRanges");
    c->valid_status = calloc(json_array_size(arr) + 1, sizeof *c->valid_status);
    if (!c->valid_status) {
        v->oom = true;
        return;
    }
    size_t i;
    const json_t *it;
    json_array_foreach(arr, i, it)
    {
        vpath_idx(ip, sizeof ip, p, i);
        if (!json_is_string(it)) {
            vproblem(v, ip, false, "must be a string such as \"2xx\", \"301-304\" or \"418\"");
            continue;
        }
        struct cmon_status_range r;
        if (!vparse_status_range(json_string_value(it), &r)) {
            vproblem(v, ip, false,
                     "invalid status code range \"%s\": use \"2xx\", \"301-304\" or \"418\" "
                     "(codes 100-599, low <= high)",
                     json_string_value(it));
            continue;
        }
        c->valid_status[c->n_valid_status++] = r;
    }
}

static void parse_headers(struct vctx *v, const json_t *http, const char *hp,
                          struct cmon_test_config *c)
{
    const json_t *arr = vget(v, http, hp, "requestHeaders", JSON_ARRAY, false);
    if (!arr)
        return;
    char p[512], ip[512];
    vpath_key(p, sizeof p, hp, "requestHeaders");
    c->headers = calloc(json_array_size(arr) + 1, sizeof *c->headers);
    if (!c->headers) {
        v->oom = true;
        return;
    }
    size_t i;
    const json_t *it;
    json_array_foreach(arr, i, it)
    {
        vpath_idx(ip, sizeof ip, p, i);
        if (!json_is_object(it)) {
            vproblem(v, ip, false, "must be an object with \"name\" and \"value\"");
            continue;
        }
        vcheck_fields(v, it, ip, header_fields, NULL);
        const char *name = vget_string(v, it, ip, "name", true);
        const char *value = vget_string(v, it, ip, "value", true);
        if (!name || !value)
            continue;
        bool token = *name != '\0';
        for (const char *s = name; *s; s++)
            token &= isalnum((unsigned char)*s) || strchr("!#$%&'*+-.^_`|~", *s) != NULL;
        bool clean = true;
        for (const char *s = value; *s; s++)
            clean &= *s != '\r' && *s != '\n';
        char np[512];
        vpath_key(np, sizeof np, ip, token ? "value" : "name");
        if (!token || !clean) {
            vproblem(v, np, false,
                     token ? "header value must not contain line breaks"
                           : "header name must be an HTTP token (letters, digits, -)");
            continue;
        }
        c->headers[c->n_headers].name = vstrdup(v, name);
        c->headers[c->n_headers].value = vstrdup(v, value);
        c->n_headers++;
    }
}

static void parse_http(struct vctx *v, const json_t *http, const char *hp,
                       struct cmon_test_config *c)
{
    char p[512];
    long port;
    vcheck_fields(v, http, hp, http_fields, NULL);
    if (vget_int(v, http, hp, "port", 1, 65535, &port))
        c->port = (int)port;
    const char *method = vget_string(v, http, hp, "method", false);
    if (method) {
        vpath_key(p, sizeof p, hp, "method");
        int m = vchoice(v, p, "HTTP method", method, methods);
        if (m >= 0) {
            c->method = vstrdup(v, methods[m]);
            for (char *s = c->method; s && *s; s++)
                *s = (char)toupper((unsigned char)*s);
        }
    }
    const char *path = vget_string(v, http, hp, "path", false);
    if (path) {
        vpath_key(p, sizeof p, hp, "path");
        bool clean = path[0] == '/';
        for (const char *s = path; *s; s++)
            clean &= (unsigned char)*s > ' ' && *s != 0x7f;
        if (!clean)
            vproblem(v, p, false,
                     "must start with '/' and contain no spaces or control characters");
        else
            c->path = vstrdup(v, path);
    }
    vget_bool(v, http, hp, "preferHTTPS", &c->prefer_https);
    parse_headers(v, http, hp, c);
    parse_status_ranges(v, http, hp, c);
}

static void parse_threshold(struct vctx *v, const json_t *j, const char *path,
                            struct cmon_test_config *c)
{
    const json_t *t = vget(v, j, path, "successThreshold", JSON_OBJECT, false);
    if (!t)
        return;
    char tp[512], p[512];
    vpath_key(tp, sizeof tp, path, "successThreshold");
    vcheck_fields(v, t, tp, threshold_fields, NULL);
    double x;
    if (vget_number(v, t, tp, "checksFailedPercent", &x)) {
        vpath_key(p, sizeof p, tp, "checksFailedPercent");
        if (x < 0 || x > 100)
            vproblem(v, p, false, "must be between 0 and 100, got %g", x);
        else
            c->has_failed_pct_threshold = true, c->failed_pct_threshold = x;
    }
    if (vget_number(v, t, tp, "roundTripTimeMs", &x)) {
        vpath_key(p, sizeof p, tp, "roundTripTimeMs");
        if (x <= 0 || x > 600000)
            vproblem(v, p, false, "must be greater than 0 and at most 600000 ms, got %g", x);
        else
            c->has_rtt_threshold = true, c->rtt_threshold_ms = x;
    }
}

/* The protocol's own block is optional (TCP's holds the required port); the
 * other protocols' blocks are errors. */
static void parse_blocks(struct vctx *v, const json_t *j, const char *path,
                         struct cmon_test_config *c)
{
    char p[512];
    for (int i = 0; i < 3; i++) {
        if ((enum cmon_protocol)i == c->protocol || !json_object_get(j, block_of[i]))
            continue;
        vpath_key(p, sizeof p, path, block_of[i]);
        vproblem(v, p, true, "\"%s\" does not go with protocol \"%s\" (use \"%s\")", block_of[i],
                 cmon_protocol_name(c->protocol), block_of[c->protocol]);
    }
    const json_t *b =
        vget(v, j, path, block_of[c->protocol], JSON_OBJECT, c->protocol == CMON_PROTO_TCP);
    vpath_key(p, sizeof p, path, block_of[c->protocol]);
    if (c->protocol == CMON_PROTO_HTTP) {
        if (b)
            parse_http(v, b, p, c);
        return;
    }
    if (!b)
        return;
    vcheck_fields(v, b, p, c->protocol == CMON_PROTO_TCP ? tcp_fields : icmp_fields, NULL);
    bool disable = false;
    if (vget_bool(v, b, p, "disableTraceRoute", &disable))
        c->traceroute = !disable;
    if (c->protocol != CMON_PROTO_TCP)
        return;
    long port;
    if (!json_object_get(b, "port"))
        vproblem(v, p, false, "missing required field \"port\"");
    else if (vget_int(v, b, p, "port", 1, 65535, &port))
        c->port = (int)port;
    const char *beh = vget_string(v, b, p, "destinationPortBehavior", false);
    char bp[512];
    vpath_key(bp, sizeof bp, p, "destinationPortBehavior");
    if (beh)
        vchoice(v, bp, "destinationPortBehavior", beh, port_behaviors);
}

bool vparse_config(struct vctx *v, const json_t *j, const char *path, struct cmon_test_config *c)
{
    memset(c, 0, sizeof *c);
    size_t before = v->probs->n;
    char p[512];
    vcheck_fields(v, j, path, config_fields, NULL);
    c->name = vstrdup(v, vget_name(v, j, path, "test configuration"));
    c->frequency_sec = CMON_DEFAULT_FREQUENCY_SEC;
    c->traceroute = true;
    const char *proto = vget_string(v, j, path, "protocol", true);
    int pi = -1;
    if (proto) {
        vpath_key(p, sizeof p, path, "protocol");
        pi = vchoice(v, p, "protocol", proto, cmon_protocol_names);
    }
    long x;
    if (vget_int(v, j, path, "testFrequencySec", CMON_MIN_FREQUENCY_SEC, CMON_MAX_FREQUENCY_SEC,
                 &x))
        c->frequency_sec = (int)x;
    const char *ipv = vget_string(v, j, path, "preferredIPVersion", false);
    if (ipv) {
        vpath_key(p, sizeof p, path, "preferredIPVersion");
        int iv = vchoice(v, p, "IP version", ipv, ip_versions);
        c->ip_pref = iv == 0 ? CMON_IP_V4 : iv == 1 ? CMON_IP_V6 : CMON_IP_ANY;
    }
    parse_threshold(v, j, path, c);
    if (pi >= 0) {
        c->protocol = (enum cmon_protocol)pi;
        parse_blocks(v, j, path, c);
    }
    bool http = pi == CMON_PROTO_HTTP;
    const struct cmon_protocol_defaults *def = cmon_protocol_defaults(c->protocol);
    c->checks_per_round = def->checks_per_round;
    c->timeout_ms = def->timeout_ms;
    if (vget_int(v, j, path, "checksPerRound", 1, 100, &x))
        c->checks_per_round = (int)x;
    if (vget_int(v, j, path, "timeoutMs", 100, 60000, &x)) {
        c->timeout_ms = (int)x;
        vpath_key(p, sizeof p, path, "timeoutMs");
        if (x > (long)c->frequency_sec * 1000)
            vproblem(v, p, false, "must not exceed the test frequency (%d s)", c->frequency_sec);
    }
    if (http && !c->method)
        c->method = vstrdup(v, "GET");
    return v->probs->n == before && !v->oom;
}
