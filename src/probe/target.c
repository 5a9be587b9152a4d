/* target.c: destination strings -> protocol, host, port (see target.h),
 * and the one deep copy of a probe_target (probe.h). */
#include "probe/target.h"

#include "core/addr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/text.h"
#include "probe/probe.h"

void probe_target_free(struct probe_target *t)
{
    const struct probe_http_spec *h = t->http;
    if (h) {
        for (size_t i = 0; i < h->n_headers; i++)
            free((char *)h->headers[i]);
        free((void *)h->headers);
        free((void *)h->valid);
        free((char *)h->method);
        free((char *)h->body);
        free((char *)h->server_name);
        free((void *)h);
    }
    const struct probe_tcp_spec *tc = t->tcp;
    if (tc) {
        for (size_t i = 0; tc->steps && i < tc->n_steps; i++) {
            free((char *)tc->steps[i].expect);
            free((char *)tc->steps[i].send);
        }
        free((void *)tc->steps);
        free((char *)tc->server_name);
        free((void *)tc);
    }
    free((void *)t->icmp);
    free((char *)t->host);
    free((char *)t->url);
    t->http = NULL;
    t->tcp = NULL;
    t->icmp = NULL;
    t->host = t->url = NULL;
}

static bool http_dup(struct probe_http_spec *d, const struct probe_http_spec *h)
{
    *d = *h; /* the flags and the detail pointer; the strings are copied below */
    d->headers = NULL;
    d->n_headers = 0;
    d->valid = NULL;
    d->n_valid = 0;
    d->method = cmon_strdup(h->method);
    d->server_name = cmon_strdup(h->server_name);
    d->body = NULL;
    if (h->body && (d->body = malloc(h->body_len + 1)) != NULL)
        memcpy((char *)d->body, h->body, h->body_len);
    bool ok =
        (!h->method || d->method) && (!h->server_name || d->server_name) && (!h->body || d->body);
    if (h->n_headers) {
        char **hd = calloc(h->n_headers, sizeof *hd);
        d->headers = (const char *const *)hd;
        if (!hd)
            return false;
        d->n_headers = h->n_headers;
        for (size_t i = 0; i < h->n_headers; i++)
            ok = (hd[i] = cmon_strdup(h->headers[i])) != NULL && ok;
    }
    if (h->n_valid) {
        struct cmon_status_range *v = calloc(h->n_valid, sizeof *v);
        if (!v)
            return false;
        memcpy(v, h->valid, h->n_valid * sizeof *v);
        d->valid = v;
        d->n_valid = h->n_valid;
    }
    return ok;
}

static bool tcp_dup(struct probe_tcp_spec *d, const struct probe_tcp_spec *t)
{
    *d = *t;
    d->server_name = cmon_strdup(t->server_name);
    struct probe_tcp_step *steps = calloc(t->n_steps ? t->n_steps : 1, sizeof *steps);
    d->steps = steps;
    d->n_steps = steps ? t->n_steps : 0;
    bool ok = steps && (!t->server_name || d->server_name);
    for (size_t i = 0; steps && i < t->n_steps; i++) {
        steps[i].starttls = t->steps[i].starttls;
        steps[i].expect = cmon_strdup(t->steps[i].expect);
        steps[i].send = cmon_strdup(t->steps[i].send);
        ok = ok && (!t->steps[i].expect || steps[i].expect) && (!t->steps[i].send || steps[i].send);
    }
    return ok;
}

enum cmon_err probe_target_dup(struct probe_target *dst, const struct probe_target *src)
{
    *dst = *src;
    dst->host = cmon_strdup(src->host);
    dst->url = cmon_strdup(src->url);
    dst->http = NULL;
    dst->tcp = NULL;
    dst->icmp = NULL;
    bool ok = (!src->host || dst->host) && (!src->url || dst->url);
    if (ok && src->http) {
        struct probe_http_spec *h = calloc(1, sizeof *h);
        dst->http = h;
        ok = h && http_dup(h, src->http);
    }
    if (ok && src->tcp) {
        struct probe_tcp_spec *t = calloc(1, sizeof *t);
        dst->tcp = t;
        ok = t && tcp_dup(t, src->tcp);
    }
    if (ok && src->icmp) {
        struct probe_icmp_spec *i = malloc(sizeof *i);
        dst->icmp = i;
        ok = i != NULL;
        if (i)
            *i = *src->icmp;
    }
    if (!ok) {
        probe_target_free(dst);
        return CMON_ERR_NOMEM;
    }
    return CMON_OK;
}

bool probe_protocol_parse(const char *s, enum cmon_protocol *out)
{
    /* the model spells the names; the command line accepts them in any case */
    const enum cmon_protocol all[] = {CMON_PROTO_ICMP, CMON_PROTO_TCP, CMON_PROTO_HTTP};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcasecmp(s, cmon_protocol_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

/* The model's own URL parser (core/addr), so a URL that validates is one the
 * scheduler can build: libcurl parses it again only to send the request. */
enum cmon_err probe_url_host(const char *url, char *host, size_t hostlen, uint16_t *port,
                             struct cmon_errbuf *eb)
{
    struct cmon_url u;
    struct cmon_errbuf why;
    if (cmon_url_parse(url, &u, &why) != CMON_OK)
        return cmon_fail(eb, CMON_ERR_INVALID, "'%s': %s", url, why.msg);
    size_t n = strlen(u.host);
    if (n >= hostlen)
        return cmon_fail(eb, CMON_ERR_INVALID, "'%s': host name too long", url);
    memcpy(host, u.host, n + 1);
    *port = (uint16_t)(u.port ? u.port : strcmp(u.scheme, "https") == 0 ? 443 : 80);
    return CMON_OK;
}

/* "host:port" / "[v6]:port" / "[v6]" / "host" / "v6" -> host and port (0). */
static enum cmon_err split_host_port(const char *arg, struct probe_target_buf *out,
                                     struct cmon_errbuf *eb)
{
    const char *colon = strrchr(arg, ':'), *hs = arg;
    size_t hl = strlen(arg);
    long port = 0;
    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');
        if (!close || (close[1] && close[1] != ':'))
            return cmon_fail(eb, CMON_ERR_INVALID, "'%s': bad [IPv6]:port", arg);
        hs = arg + 1;
        hl = (size_t)(close - hs);
        colon = close[1] ? close + 1 : NULL;
    } else if (colon && strchr(arg, ':') != colon) {
        colon = NULL; /* several colons: a bare IPv6 address */
    } else if (colon) {
        hl = (size_t)(colon - arg);
    }
    if (colon) {
        char *end;
        port = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || port < 1 || port > 65535)
            return cmon_fail(eb, CMON_ERR_INVALID, "'%s': the port must be 1..65535", arg);
    }
    if (hl == 0 || hl >= sizeof out->host)
        return cmon_fail(eb, CMON_ERR_INVALID, "'%s': bad host", arg);
    memcpy(out->host, hs, hl);
    out->host[hl] = '\0';
    out->port = (uint16_t)port;
    return CMON_OK;
}

static enum cmon_err http_from_host(struct probe_target_buf *out, struct cmon_errbuf *eb)
{
    bool v6 = strchr(out->host, ':') != NULL;
    int n;
    if (out->port)
        n = snprintf(out->url, sizeof out->url, "http://%s%s%s:%u/", v6 ? "[" : "", out->host,
                     v6 ? "]" : "", out->port);
    else
        n = snprintf(out->url, sizeof out->url, "http://%s%s%s/", v6 ? "[" : "", out->host,
                     v6 ? "]" : "");
    if (n < 0 || (size_t)n >= sizeof out->url)
        return cmon_fail(eb, CMON_ERR_INVALID, "host name too long");
    if (!out->port)
        out->port = 80;
    return CMON_OK;
}

enum cmon_err probe_target_parse(const char *arg, int proto, int port, struct probe_target_buf *out,
                                 struct cmon_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    if (!arg || !*arg)
        return cmon_fail(eb, CMON_ERR_INVALID, "empty target");
    if (strstr(arg, "://")) {
        if (proto >= 0 && proto != CMON_PROTO_HTTP)
            return cmon_fail(eb, CMON_ERR_INVALID, "a URL target needs --protocol http");
        out->proto = CMON_PROTO_HTTP;
        if (strlen(arg) >= sizeof out->url)
            return cmon_fail(eb, CMON_ERR_INVALID, "URL too long");
        if (strncasecmp(arg, "http://", 7) != 0 && strncasecmp(arg, "https://", 8) != 0)
            return cmon_fail(eb, CMON_ERR_INVALID, "'%s': only http:// and https:// URLs", arg);
        enum cmon_err err = probe_url_host(arg, out->host, sizeof out->host, &out->port, eb);
        if (err != CMON_OK)
            return err;
        if (port > 0)
            return cmon_fail(eb, CMON_ERR_INVALID, "put the port in the URL, not in --port");
        snprintf(out->url, sizeof out->url, "%s", arg);
        return CMON_OK;
    }
    enum cmon_err err = split_host_port(arg, out, eb);
    if (err != CMON_OK)
        return err;
    if (port > 0)
        out->port = (uint16_t)port;
    out->proto = proto >= 0  ? (enum cmon_protocol)proto
                 : out->port ? CMON_PROTO_TCP
                             : CMON_PROTO_ICMP;
    if (out->proto == CMON_PROTO_TCP && !out->port)
        return cmon_fail(eb, CMON_ERR_INVALID, "a TCP check needs a port (host:port or --port)");
    if (out->proto == CMON_PROTO_ICMP && out->port)
        return cmon_fail(eb, CMON_ERR_INVALID,
                         "ICMP has no port (drop ':%u' or use --protocol tcp)", out->port);
    if (out->proto == CMON_PROTO_HTTP)
        return http_from_host(out, eb);
    return CMON_OK;
}
