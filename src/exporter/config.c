/* config.c: blackbox.yml -> struct exp_config with libyaml's document API
 * (aliases resolved, every node with its position).  Each prober section is
 * a table of options: a handler for what cmon honours, a reason for what it
 * refuses, so an option is never silently ignored. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "core/text.h"
#include "exporter/config.h"
#include "exporter/dns_probe.h"
#include "probe/probe.h"

struct ctx {
    const char *file;
    yaml_document_t *doc;
    const char *module;  /* NULL outside a module */
    const char *section; /* "http", "tcp", "icmp", "http.tls_config" or NULL */
    struct cmon_errbuf *eb;
};

static enum cmon_err at(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum cmon_err at(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    char what[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    unsigned long line = n ? (unsigned long)n->start_mark.line + 1 : 1;
    unsigned long col = n ? (unsigned long)n->start_mark.column + 1 : 1;
    if (c->module)
        return cmon_fail(c->eb, CMON_ERR_INVALID, "%s:%lu:%lu: module '%s': %s", c->file, line, col,
                         c->module, what);
    return cmon_fail(c->eb, CMON_ERR_INVALID, "%s:%lu:%lu: %s", c->file, line, col, what);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(struct ctx *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

/* "section.key" for messages */
static const char *opt_name(struct ctx *c, const char *key, char *buf, size_t cap)
{
    if (c->section)
        snprintf(buf, cap, "%s.%s", c->section, key);
    else
        snprintf(buf, cap, "%s", key);
    return buf;
}

static enum cmon_err want_scalar(struct ctx *c, const yaml_node_t *v, const char *key,
                                 const char **out)
{
    char nb[96];
    *out = scalar(v);
    if (!*out)
        return at(c, v, "%s must be a single value", opt_name(c, key, nb, sizeof nb));
    return CMON_OK;
}

static enum cmon_err want_bool(struct ctx *c, const yaml_node_t *v, const char *key, bool *out)
{
    const char *s;
    char nb[96];
    if (want_scalar(c, v, key, &s))
        return CMON_ERR_INVALID;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
        *out = true;
    else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))
        *out = false;
    else
        return at(c, v, "%s must be true or false, not '%s'", opt_name(c, key, nb, sizeof nb), s);
    return CMON_OK;
}

/* ---- option handlers ------------------------------------------------- */

typedef enum cmon_err (*opt_fn)(struct ctx *c, const char *key, yaml_node_t *v,
                                struct exp_module *m);

struct opt {
    const char *key;
    opt_fn fn; /* NULL: refused with why */
    const char *why;
};

static enum cmon_err opt_ip_pref(struct ctx *c, const char *key, yaml_node_t *v,
                                 struct exp_module *m)
{
    const char *s;
    char nb[96];
    if (want_scalar(c, v, key, &s))
        return CMON_ERR_INVALID;
    if (!strcasecmp(s, "ip4") || !strcasecmp(s, "ipv4"))
        m->ip_pref = CMON_IP_V4;
    else if (!strcasecmp(s, "ip6") || !strcasecmp(s, "ipv6"))
        m->ip_pref = CMON_IP_V6;
    else
        return at(c, v, "%s must be ip4 or ip6, not '%s'", opt_name(c, key, nb, sizeof nb), s);
    return CMON_OK;
}

static enum cmon_err opt_ip_fallback(struct ctx *c, const char *key, yaml_node_t *v,
                                     struct exp_module *m)
{
    return want_bool(c, v, key, &m->ip_fallback);
}

static enum cmon_err opt_method(struct ctx *c, const char *key, yaml_node_t *v,
                                struct exp_module *m)
{
    const char *s;
    if (want_scalar(c, v, key, &s))
        return CMON_ERR_INVALID;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
            return at(c, v, "http.method '%s' is not an HTTP method", s);
    if (!*s)
        return at(c, v, "http.method is empty");
    free(m->http.method);
    m->http.method = cmon_strdup(s);
    for (char *p = m->http.method; p && *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    return m->http.method ? CMON_OK : CMON_ERR_NOMEM;
}

static enum cmon_err push_header(struct exp_http *h, const char *line)
{
    char **nh = realloc(h->headers, (h->n_headers + 1) * sizeof *nh);
    if (!nh)
        return CMON_ERR_NOMEM;
    h->headers = nh;
    if (!(nh[h->n_headers] = cmon_strdup(line)))
        return CMON_ERR_NOMEM;
    h->n_headers++;
    return CMON_OK;
}

static enum cmon_err add_header(struct ctx *c, yaml_node_t *kn, yaml_node_t *vn, struct exp_http *h)
{
    const char *k = scalar(kn), *v = scalar(vn);
    if (!k || !*k || !v)
        return at(c, kn, "http.headers wants 'Name: value' pairs");
    for (const char *p = k; *p; p++)
        if (*p <= ' ' || *p == ':' || *p == 127)
            return at(c, kn, "http.headers: '%s' is not a header name", k);
    if (strpbrk(v, "\r\n"))
        return at(c, vn, "http.headers: the value of '%s' has a line break", k);
    size_t n = strlen(k) + strlen(v) + 3;
    char *line = malloc(n);
    if (!line)
        return CMON_ERR_NOMEM;
    snprintf(line, n, "%s: %s", k, v);
    enum cmon_err e = push_header(h, line);
    free(line);
    return e;
}

static enum cmon_err opt_headers(struct ctx *c, const char *key, yaml_node_t *v,
                                 struct exp_module *m)
{
    if (v->type != YAML_MAPPING_NODE)
        return at(c, v, "http.headers must be a map of header names to values");
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        enum cmon_err e = add_header(c, node(c, p->key), node(c, p->value), &m->http);
        if (e)
            return e;
    }
    return CMON_OK;
}

static enum cmon_err opt_valid_status(struct ctx *c, const char *key, yaml_node_t *v,
                                      struct exp_module *m)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return at(c, v, "http.valid_status_codes must be a list of status codes");
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    struct cmon_status_range *r = calloc(n ? n : 1, sizeof *r);
    if (!r)
        return CMON_ERR_NOMEM;
    free(m->http.valid);
    m->http.valid = r;
    m->http.n_valid = 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = node(c, v->data.sequence.items.start[i]);
        const char *s = scalar(it);
        char *end = NULL;
        long code = s ? strtol(s, &end, 10) : 0;
        if (!s || !*s || *end || code < 100 || code > 599)
            return at(c, it, "http.valid_status_codes: '%s' is not a status code (100-599)",
                      s ? s : "(not a value)");
        r[m->http.n_valid++] = (struct cmon_status_range){(int)code, (int)code};
    }
    return CMON_OK;
}

static enum cmon_err opt_fail_if_ssl(struct ctx *c, const char *key, yaml_node_t *v,
                                     struct exp_module *m)
{
    return want_bool(c, v, key, &m->http.fail_if_ssl);
}

static enum cmon_err opt_fail_if_not_ssl(struct ctx *c, const char *key, yaml_node_t *v,
                                         struct exp_module *m)
{
    return want_bool(c, v, key, &m->http.fail_if_not_ssl);
}

/* no_follow_redirects (blackbox 0.23) and follow_redirects (its HTTP client
 * config): redirects are followed unless one of them says not to. */
static enum cmon_err opt_follow(struct ctx *c, const char *key, yaml_node_t *v,
                                struct exp_module *m)
{
    bool b = false;
    if (want_bool(c, v, key, &b))
        return CMON_ERR_INVALID;
    m->http.no_follow = strcmp(key, "follow_redirects") == 0 ? !b : b;
    return CMON_OK;
}

static enum cmon_err set_string(struct ctx *c, const char *key, yaml_node_t *v, char **out)
{
    const char *s;
    if (want_scalar(c, v, key, &s))
        return CMON_ERR_INVALID;
    free(*out);
    *out = cmon_strdup(s);
    return *out ? CMON_OK : CMON_ERR_NOMEM;
}

static enum cmon_err opt_body(struct ctx *c, const char *key, yaml_node_t *v, struct exp_module *m)
{
    return set_string(c, key, v, &m->http.body);
}

static enum cmon_err opt_http_versions(struct ctx *c, const char *key, yaml_node_t *v,
                                       struct exp_module *m)
{
    static const struct {
        const char *name;
        int version;
    } known[] = {{"HTTP/1.0", 10}, {"HTTP/1.1", 11}, {"HTTP/2.0", 20}, {"HTTP/3.0", 30}};
    if (v->type != YAML_SEQUENCE_NODE)
        return at(c, v, "http.valid_http_versions must be a list like [HTTP/1.1, HTTP/2.0]");
    m->http.versions = 0;
    for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
        yaml_node_t *it = node(c, *i);
        size_t k = 0;
        while (k < sizeof known / sizeof *known &&
               (!scalar(it) || strcmp(scalar(it), known[k].name) != 0))
            k++;
        if (k == sizeof known / sizeof *known)
            return at(c, it,
                      "http.valid_http_versions: '%s' never matches (blackbox compares the "
                      "answer's HTTP/1.0, HTTP/1.1, HTTP/2.0 or HTTP/3.0)",
                      scalar(it) ? scalar(it) : "(not a value)");
        m->http.versions |= EXP_HTTP_VERSION_BIT(known[k].version);
    }
    return CMON_OK;
}

/* One regular expression, compiled now so a bad one is a load error. */
static enum cmon_err compile_regex(struct ctx *c, const char *key, yaml_node_t *it,
                                   struct exp_regex *x)
{
    char nb[96];
    const char *s = scalar(it);
    if (!s)
        return at(c, it, "%s: want a regular expression", opt_name(c, key, nb, sizeof nb));
    int rc = regcomp(&x->re, s, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[160];
        regerror(rc, &x->re, why, sizeof why);
        return at(c, it, "%s: '%s' is not a POSIX extended regular expression: %s",
                  opt_name(c, key, nb, sizeof nb), s, why);
    }
    if (!(x->text = cmon_strdup(s))) {
        regfree(&x->re);
        return CMON_ERR_NOMEM;
    }
    return CMON_OK;
}

/* A list of regular expressions, each compiled now. */
static enum cmon_err regex_list(struct ctx *c, const char *key, yaml_node_t *v,
                                struct exp_regex **out, size_t *n_out)
{
    char nb[96];
    if (v->type != YAML_SEQUENCE_NODE)
        return at(c, v, "%s must be a list of regular expressions", opt_name(c, key, nb, sizeof nb));
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    struct exp_regex *r = realloc(*out, (*n_out + n + 1) * sizeof *r);
    if (!r)
        return CMON_ERR_NOMEM;
    *out = r;
    for (size_t i = 0; i < n; i++) {
        enum cmon_err e = compile_regex(c, key, node(c, v->data.sequence.items.start[i]), &r[*n_out]);
        if (e)
            return e;
        (*n_out)++;
    }
    return CMON_OK;
}

static enum cmon_err opt_body_match(struct ctx *c, const char *key, yaml_node_t *v,
                                    struct exp_module *m)
{
    return regex_list(c, key, v, &m->http.body_match, &m->http.n_body_match);
}

static enum cmon_err opt_body_not_match(struct ctx *c, const char *key, yaml_node_t *v,
                                        struct exp_module *m)
{
    return regex_list(c, key, v, &m->http.body_not_match, &m->http.n_body_not_match);
}

/* The first line of a secret file, without surrounding white space (as
 * Prometheus' bearer_token_file and password_file). */
static enum cmon_err read_secret(struct ctx *c, yaml_node_t *v, const char *key, char **out)
{
    const char *path;
    char nb[96], buf[4096];
    if (want_scalar(c, v, key, &path))
        return CMON_ERR_INVALID;
    FILE *f = fopen(path, "r");
    if (!f)
        return at(c, v, "%s: %s: %s", opt_name(c, key, nb, sizeof nb), path, strerror(errno));
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = buf;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    size_t len = strcspn(p, "\r\n");
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    p[len] = '\0';
    free(*out);
    *out = cmon_strdup(p);
    return *out ? CMON_OK : CMON_ERR_NOMEM;
}

static enum cmon_err bearer_header(struct ctx *c, yaml_node_t *v, const char *token,
                                   struct exp_http *h)
{
    if (strpbrk(token, "\r\n") || !*token)
        return at(c, v, "http.bearer_token must be one non-empty line");
    size_t n = strlen(token) + 32;
    char *line = malloc(n);
    if (!line)
        return CMON_ERR_NOMEM;
    snprintf(line, n, "Authorization: Bearer %s", token);
    enum cmon_err e = push_header(h, line);
    free(line);
    return e;
}

static enum cmon_err opt_bearer(struct ctx *c, const char *key, yaml_node_t *v,
                                struct exp_module *m)
{
    char *token = NULL;
    enum cmon_err e = strcmp(key, "bearer_token_file") == 0 ? read_secret(c, v, key, &token)
                                                            : set_string(c, key, v, &token);
    if (!e)
        e = bearer_header(c, v, token, &m->http);
    free(token);
    return e;
}

static enum cmon_err opt_basic_user(struct ctx *c, const char *key, yaml_node_t *v,
                                    struct exp_module *m)
{
    return set_string(c, key, v, &m->http.basic_user);
}

static enum cmon_err opt_basic_password(struct ctx *c, const char *key, yaml_node_t *v,
                                        struct exp_module *m)
{
    return strcmp(key, "password_file") == 0 ? read_secret(c, v, key, &m->http.basic_password)
                                             : set_string(c, key, v, &m->http.basic_password);
}

/* "Authorization: Basic base64(user:password)" once the module is read. */
static enum cmon_err basic_header(struct exp_http *h)
{
    if (!h->basic_user && !h->basic_password)
        return CMON_OK;
    const char *u = h->basic_user ? h->basic_user : "", *p = h->basic_password ? h->basic_password : "";
    size_t n = strlen(u) + strlen(p) + 1;
    char *plain = malloc(n + 1), *line = malloc(4 * (n / 3 + 1) + 32);
    enum cmon_err e = CMON_ERR_NOMEM;
    if (plain && line) {
        snprintf(plain, n + 1, "%s:%s", u, p);
        int len = EVP_EncodeBlock((unsigned char *)line + 21, (const unsigned char *)plain, (int)n);
        memcpy(line, "Authorization: Basic ", 21);
        line[21 + len] = '\0';
        e = push_header(h, line);
    }
    free(plain);
    free(line);
    return e;
}

static enum cmon_err opt_no_tls(struct ctx *c, const char *key, yaml_node_t *v,
                                struct exp_module *m)
{
    bool b = false;
    char nb[96];
    if (want_bool(c, v, key, &b))
        return CMON_ERR_INVALID;
    if (b)
        return at(c, v, "%s: true is not supported by cmon exporter (see docs/exporter.md)",
                  opt_name(c, key, nb, sizeof nb));
    return CMON_OK;
}

static enum cmon_err opt_ca_file(struct ctx *c, const char *key, yaml_node_t *v,
                                 struct exp_module *m)
{
    return set_string(c, key, v, &m->tls.ca_file);
}

static enum cmon_err opt_insecure(struct ctx *c, const char *key, yaml_node_t *v,
                                  struct exp_module *m)
{
    return want_bool(c, v, key, &m->tls.insecure);
}

static enum cmon_err opt_server_name(struct ctx *c, const char *key, yaml_node_t *v,
                                     struct exp_module *m)
{
    enum cmon_err e = set_string(c, key, v, &m->tls.server_name);
    if (!e && (!*m->tls.server_name || strpbrk(m->tls.server_name, "/:[]@ ")))
        return at(c, v, "%s.server_name '%s' is not a host name", c->section, m->tls.server_name);
    return e;
}

#define REFUSE(k, w)                                                                               \
    {                                                                                              \
        k, NULL, w                                                                                 \
    }
#define NO_HDRS "cmon's HTTP probe does not keep the response headers"
#define NO_AUTH "only basic_auth and bearer_token(_file) are supported"

static const struct opt tls_opts[] = {
    {"ca_file", opt_ca_file, NULL},
    {"insecure_skip_verify", opt_insecure, NULL},
    {"server_name", opt_server_name, NULL},
    REFUSE("cert_file", "client certificates are not supported"),
    REFUSE("key_file", "client certificates are not supported"),
    REFUSE("min_version", "cmon always requires TLS 1.2 or later"),
    REFUSE("max_version", "cmon negotiates the highest TLS version"),
};

static enum cmon_err parse_section(struct ctx *c, yaml_node_t *map, const struct opt *opts,
                                   size_t n, struct exp_module *m);

static enum cmon_err opt_tls_config(struct ctx *c, const char *key, yaml_node_t *v,
                                    struct exp_module *m)
{
    const char *saved = c->section;
    char name[32];
    snprintf(name, sizeof name, "%s.tls_config", saved);
    c->section = name;
    enum cmon_err e = parse_section(c, v, tls_opts, sizeof tls_opts / sizeof *tls_opts, m);
    c->section = saved;
    return e;
}

static const struct opt basic_auth_opts[] = {
    {"username", opt_basic_user, NULL},
    {"password", opt_basic_password, NULL},
    {"password_file", opt_basic_password, NULL},
};

static enum cmon_err opt_basic_auth(struct ctx *c, const char *key, yaml_node_t *v,
                                    struct exp_module *m)
{
    const char *saved = c->section;
    c->section = "http.basic_auth";
    enum cmon_err e =
        parse_section(c, v, basic_auth_opts, sizeof basic_auth_opts / sizeof *basic_auth_opts, m);
    c->section = saved;
    return e;
}

static const struct opt http_opts[] = {
    {"valid_status_codes", opt_valid_status, NULL},
    {"method", opt_method, NULL},
    {"headers", opt_headers, NULL},
    {"fail_if_ssl", opt_fail_if_ssl, NULL},
    {"fail_if_not_ssl", opt_fail_if_not_ssl, NULL},
    {"tls_config", opt_tls_config, NULL},
    {"no_follow_redirects", opt_follow, NULL},
    {"follow_redirects", opt_follow, NULL},
    {"preferred_ip_protocol", opt_ip_pref, NULL},
    {"ip_protocol_fallback", opt_ip_fallback, NULL},
    {"body", opt_body, NULL},
    {"valid_http_versions", opt_http_versions, NULL},
    {"fail_if_body_matches_regexp", opt_body_match, NULL},
    {"fail_if_body_not_matches_regexp", opt_body_not_match, NULL},
    {"basic_auth", opt_basic_auth, NULL},
    {"bearer_token", opt_bearer, NULL},
    {"bearer_token_file", opt_bearer, NULL},
    REFUSE("fail_if_header_matches", NO_HDRS),
    REFUSE("fail_if_header_not_matches", NO_HDRS),
    REFUSE("body_size_limit", "cmon reads the whole body and matches its first MiB"),
    REFUSE("compression", "cmon does not ask for compressed answers"),
    REFUSE("authorization", NO_AUTH),
    REFUSE("oauth2", NO_AUTH),
    REFUSE("proxy_url", "proxies are not supported (probes go direct)"),
    REFUSE("skip_resolve_phase_with_proxy", "proxies are not supported (probes go direct)"),
    REFUSE("enable_http2", "cmon lets libcurl negotiate the HTTP version"),
    REFUSE("source_ip_address", "cmon picks the source address from the route"),
};

static enum cmon_err opt_tcp_tls(struct ctx *c, const char *key, yaml_node_t *v,
                                 struct exp_module *m)
{
    return want_bool(c, v, key, &m->tcp.tls);
}

/* One query_response item: {expect: RE, send: TEXT, starttls: BOOL}. */
static enum cmon_err qr_step(struct ctx *c, yaml_node_t *item, struct exp_tcp_step *st)
{
    if (item->type != YAML_MAPPING_NODE)
        return at(c, item, "tcp.query_response items are maps of expect, send and starttls");
    for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);
        const char *k = scalar(kn);
        enum cmon_err e;
        if (k && !strcmp(k, "send"))
            e = set_string(c, "query_response.send", vn, &st->send);
        else if (k && !strcmp(k, "starttls"))
            e = want_bool(c, vn, "query_response.starttls", &st->starttls);
        else if (k && !strcmp(k, "expect"))
            e = compile_regex(c, "query_response.expect", vn, &st->expect);
        else
            return at(c, kn, "tcp.query_response: unknown key '%s' (expect, send, starttls)",
                      k ? k : "(not a word)");
        if (e)
            return e;
    }
    return CMON_OK;
}

static enum cmon_err opt_query_response(struct ctx *c, const char *key, yaml_node_t *v,
                                        struct exp_module *m)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return at(c, v, "tcp.query_response must be a list of {expect, send, starttls}");
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    struct exp_tcp_step *s = realloc(m->tcp.steps, (m->tcp.n_steps + n + 1) * sizeof *s);
    if (!s)
        return CMON_ERR_NOMEM;
    m->tcp.steps = s;
    for (size_t i = 0; i < n; i++) {
        struct exp_tcp_step *st = &s[m->tcp.n_steps++];
        memset(st, 0, sizeof *st);
        enum cmon_err e = qr_step(c, node(c, v->data.sequence.items.start[i]), st);
        if (e)
            return e;
    }
    return CMON_OK;
}

static const struct opt tcp_opts[] = {
    {"preferred_ip_protocol", opt_ip_pref, NULL},
    {"ip_protocol_fallback", opt_ip_fallback, NULL},
    {"tls", opt_tcp_tls, NULL},
    {"tls_config", opt_tls_config, NULL},
    {"query_response", opt_query_response, NULL},
    REFUSE("source_ip_address", "cmon picks the source address from the route"),
};

static enum cmon_err want_int(struct ctx *c, yaml_node_t *v, const char *key, long lo, long hi,
                              long *out)
{
    const char *s;
    char nb[96], *end = NULL;
    if (want_scalar(c, v, key, &s))
        return CMON_ERR_INVALID;
    errno = 0;
    *out = strtol(s, &end, 10);
    if (!*s || *end || errno || *out < lo || *out > hi)
        return at(c, v, "%s must be a number from %ld to %ld, not '%s'",
                  opt_name(c, key, nb, sizeof nb), lo, hi, s);
    return CMON_OK;
}

static enum cmon_err opt_ttl(struct ctx *c, const char *key, yaml_node_t *v, struct exp_module *m)
{
    long n = 0;
    enum cmon_err e = want_int(c, v, key, 1, 255, &n);
    if (!e)
        m->icmp_ttl = (int)n;
    return e;
}

static enum cmon_err opt_payload_size(struct ctx *c, const char *key, yaml_node_t *v,
                                      struct exp_module *m)
{
    long n = 0;
    enum cmon_err e = want_int(c, v, key, 0, PROBE_ICMP_PAYLOAD_MAX, &n);
    if (!e)
        m->icmp_payload_size = (size_t)n;
    return e;
}

static const struct opt icmp_opts[] = {
    {"preferred_ip_protocol", opt_ip_pref, NULL},
    {"ip_protocol_fallback", opt_ip_fallback, NULL},
    {"ttl", opt_ttl, NULL},
    {"payload_size", opt_payload_size, NULL},
    REFUSE("source_ip_address", "cmon picks the source address from the route"),
    REFUSE("dont_fragment", "cmon lets the kernel decide on fragmentation"),
};

static enum cmon_err opt_query_name(struct ctx *c, const char *key, yaml_node_t *v,
                                    struct exp_module *m)
{
    const char *s;
    if (want_scalar(c, v, key, &s))
        return CMON_ERR_INVALID;
    if (!*s || strlen(s) > 253)
        return at(c, v, "dns.query_name must be a DNS name");
    free(m->dns.query_name);
    m->dns.query_name = cmon_strdup(s);
    return m->dns.query_name ? CMON_OK : CMON_ERR_NOMEM;
}

static enum cmon_err opt_query_type(struct ctx *c, const char *key, yaml_node_t *v,
                                    struct exp_module *m)
{
    const char *s;
    if (want_scalar(c, v, key, &s))
        return CMON_ERR_INVALID;
    if ((m->dns.query_type = exp_dns_type_parse(s)) < 0)
        return at(c, v, "dns.query_type '%s' is not a type cmon knows (A, AAAA, MX, SOA, ...)", s);
    return CMON_OK;
}

static enum cmon_err opt_query_class(struct ctx *c, const char *key, yaml_node_t *v,
                                     struct exp_module *m)
{
    const char *s;
    if (want_scalar(c, v, key, &s))
        return CMON_ERR_INVALID;
    if (strcasecmp(s, "IN") != 0)
        return at(c, v, "dns.query_class '%s' is not supported (only IN)", s);
    return CMON_OK;
}

static enum cmon_err opt_rd(struct ctx *c, const char *key, yaml_node_t *v, struct exp_module *m)
{
    return want_bool(c, v, key, &m->dns.recursion_desired);
}

static enum cmon_err opt_transport(struct ctx *c, const char *key, yaml_node_t *v,
                                   struct exp_module *m)
{
    const char *s;
    if (want_scalar(c, v, key, &s))
        return CMON_ERR_INVALID;
    if (strcasecmp(s, "udp") != 0)
        return at(c, v, "dns.transport_protocol '%s' is not supported (only udp)", s);
    return CMON_OK;
}

static enum cmon_err opt_valid_rcodes(struct ctx *c, const char *key, yaml_node_t *v,
                                      struct exp_module *m)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return at(c, v, "dns.valid_rcodes must be a list like [NOERROR, NXDOMAIN]");
    m->dns.n_valid_rcodes = 0;
    for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
        yaml_node_t *it = node(c, *i);
        int rc = scalar(it) ? exp_dns_rcode_parse(scalar(it)) : -1;
        if (rc < 0)
            return at(c, it, "dns.valid_rcodes: '%s' is not an rcode (NOERROR, NXDOMAIN, ...)",
                      scalar(it) ? scalar(it) : "(not a value)");
        if (m->dns.n_valid_rcodes == sizeof m->dns.valid_rcodes / sizeof *m->dns.valid_rcodes)
            return at(c, it, "dns.valid_rcodes: too many");
        m->dns.valid_rcodes[m->dns.n_valid_rcodes++] = rc;
    }
    return CMON_OK;
}

#define NO_VALIDATE "cmon's DNS probe reads only the answer's header"
static const struct opt dns_opts[] = {
    {"query_name", opt_query_name, NULL},
    {"query_type", opt_query_type, NULL},
    {"query_class", opt_query_class, NULL},
    {"valid_rcodes", opt_valid_rcodes, NULL},
    {"recursion_desired", opt_rd, NULL},
    {"transport_protocol", opt_transport, NULL},
    {"preferred_ip_protocol", opt_ip_pref, NULL},
    {"ip_protocol_fallback", opt_ip_fallback, NULL},
    {"dns_over_tls", opt_no_tls, NULL},
    REFUSE("tls_config", "DNS over TLS is not supported"),
    REFUSE("validate_answer_rrs", NO_VALIDATE),
    REFUSE("validate_authority_rrs", NO_VALIDATE),
    REFUSE("validate_additional_rrs", NO_VALIDATE),
    REFUSE("source_ip_address", "cmon picks the source address from the route"),
};

static const struct opt *find_opt(const struct opt *opts, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(opts[i].key, key) == 0)
            return &opts[i];
    return NULL;
}

static enum cmon_err unknown_key(struct ctx *c, yaml_node_t *kn, const char *key,
                                 const struct opt *opts, size_t n)
{
    const char *names[40];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 40; i++)
        names[k++] = opts[i].key;
    const char *s = cmon_suggest(key, names, k);
    char nb[96];
    return at(c, kn, "unknown option '%s'%s%s%s", opt_name(c, key, nb, sizeof nb),
              s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
}

static enum cmon_err parse_section(struct ctx *c, yaml_node_t *map, const struct opt *opts,
                                   size_t n, struct exp_module *m)
{
    if (map->type == YAML_SCALAR_NODE && !*scalar(map))
        return CMON_OK; /* "http:" with nothing under it */
    if (map->type != YAML_MAPPING_NODE)
        return at(c, map, "%s must be a map of options", c->section);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);
        const char *key = scalar(kn);
        char nb[96];
        if (!key)
            return at(c, kn, "%s: option names must be plain words", c->section);
        const struct opt *o = find_opt(opts, n, key);
        if (!o)
            return unknown_key(c, kn, key, opts, n);
        if (!o->fn)
            return at(c, kn, "option '%s' is not supported by cmon exporter: %s",
                      opt_name(c, key, nb, sizeof nb), o->why);
        enum cmon_err e = o->fn(c, key, vn, m);
        if (e)
            return e == CMON_ERR_NOMEM ? cmon_fail(c->eb, e, "out of memory") : e;
    }
    return CMON_OK;
}

/* ---- modules ----------------------------------------------------------- */

struct prober_def {
    const char *name; /* the prober and its section's key */
    int prober;       /* enum exp_prober, -1: refused */
    const struct opt *opts;
    size_t n_opts;
};

#define OPTS(a) a, sizeof a / sizeof *a
static const struct prober_def probers[] = {
    {"http", EXP_PROBER_HTTP, OPTS(http_opts)},
    {"tcp", EXP_PROBER_TCP, OPTS(tcp_opts)},
    {"icmp", EXP_PROBER_ICMP, OPTS(icmp_opts)},
    {"dns", EXP_PROBER_DNS, OPTS(dns_opts)},
    {"grpc", -1, NULL, 0},
};
#define N_PROBERS (sizeof probers / sizeof *probers)

static const struct prober_def *find_prober(const char *name)
{
    for (size_t i = 0; i < N_PROBERS; i++)
        if (strcmp(probers[i].name, name) == 0)
            return &probers[i];
    return NULL;
}

static enum cmon_err set_prober(struct ctx *c, yaml_node_t *v, struct exp_module *m)
{
    const char *s = scalar(v);
    if (!s)
        return at(c, v, "prober must be one of http, tcp, icmp, dns");
    const struct prober_def *d = find_prober(s);
    if (!d)
        return at(c, v, "unknown prober '%s' (cmon exporter runs http, tcp, icmp and dns)", s);
    if (d->prober < 0)
        return at(c, v,
                  "prober '%s' is not supported by cmon exporter (it runs http, tcp, icmp "
                  "and dns; see docs/exporter.md)",
                  s);
    m->prober = (enum exp_prober)d->prober;
    return CMON_OK;
}

static yaml_node_t *map_get(struct ctx *c, yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
        if (scalar(node(c, p->key)) && strcmp(scalar(node(c, p->key)), key) == 0)
            return node(c, p->value);
    return NULL;
}

static enum cmon_err module_key(struct ctx *c, yaml_node_t *kn, yaml_node_t *vn,
                                struct exp_module *m)
{
    const char *key = scalar(kn);
    if (!key)
        return at(c, kn, "option names must be plain words");
    if (!strcmp(key, "prober"))
        return CMON_OK; /* read first, in parse_module */
    if (!strcmp(key, "timeout")) {
        const char *s = scalar(vn);
        if (!s || !exp_duration_parse(s, &m->timeout_ms) || !m->timeout_ms)
            return at(c, vn, "timeout '%s' is not a duration like 5s or 500ms", s ? s : "");
        return CMON_OK;
    }
    const struct prober_def *d = find_prober(key);
    if (!d) {
        static const char *const top[] = {"prober", "timeout", "http", "tcp",
                                          "icmp",   "dns",     "grpc"};
        const char *sug = cmon_suggest(key, top, sizeof top / sizeof *top);
        return at(c, kn, "unknown option '%s'%s%s%s", key, sug ? " (did you mean '" : "",
                  sug ? sug : "", sug ? "'?)" : "");
    }
    if (d->prober < 0 || (enum exp_prober)d->prober != m->prober)
        return at(c, kn, "section '%s' does not belong to prober %s", key,
                  exp_prober_name(m->prober));
    c->section = d->name;
    enum cmon_err e = parse_section(c, vn, d->opts, d->n_opts, m);
    c->section = NULL;
    return e;
}

static enum cmon_err parse_module(struct ctx *c, yaml_node_t *kn, yaml_node_t *vn,
                                  struct exp_module *m)
{
    m->ip_pref = CMON_IP_V6; /* blackbox's defaults */
    m->ip_fallback = true;
    m->dns.query_type = 255;
    m->dns.recursion_desired = true;
    if (vn->type != YAML_MAPPING_NODE)
        return at(c, vn, "a module must be a map with at least 'prober'");
    yaml_node_t *pn = map_get(c, vn, "prober");
    if (!pn)
        return at(c, kn, "'prober' is missing (http, tcp, icmp or dns)");
    enum cmon_err e = set_prober(c, pn, m);
    for (yaml_node_pair_t *p = vn->data.mapping.pairs.start; !e && p < vn->data.mapping.pairs.top;
         p++)
        e = module_key(c, node(c, p->key), node(c, p->value), m);
    if (!e && m->prober == EXP_PROBER_HTTP && (e = basic_header(&m->http)) != CMON_OK)
        e = cmon_fail(c->eb, e, "out of memory");
    if (!e && m->prober == EXP_PROBER_DNS && !m->dns.query_name)
        e = at(c, kn, "dns.query_name is missing (the dns prober needs a name to ask for)");
    return e;
}

static enum cmon_err parse_modules(struct ctx *c, yaml_node_t *mods, struct exp_config *cfg)
{
    if (mods->type != YAML_MAPPING_NODE)
        return at(c, mods, "'modules' must be a map of module names to modules");
    size_t n = (size_t)(mods->data.mapping.pairs.top - mods->data.mapping.pairs.start);
    cfg->modules = calloc(n ? n : 1, sizeof *cfg->modules);
    if (!cfg->modules)
        return cmon_fail(c->eb, CMON_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *p = &mods->data.mapping.pairs.start[i];
        yaml_node_t *kn = node(c, p->key);
        const char *name = scalar(kn);
        if (!name || !*name)
            return at(c, kn, "a module name must be a plain word");
        if (exp_config_module(cfg, name))
            return at(c, kn, "module '%s' is defined twice", name);
        struct exp_module *m = &cfg->modules[cfg->n_modules++];
        if (!(m->name = cmon_strdup(name)))
            return cmon_fail(c->eb, CMON_ERR_NOMEM, "out of memory");
        c->module = m->name;
        enum cmon_err e = parse_module(c, kn, node(c, p->value), m);
        c->module = NULL;
        if (e)
            return e;
    }
    return CMON_OK;
}

static enum cmon_err parse_root(struct ctx *c, struct exp_config *cfg)
{
    yaml_node_t *root = yaml_document_get_root_node(c->doc);
    if (!root)
        return at(c, NULL, "the file is empty (it needs 'modules:')");
    if (root->type != YAML_MAPPING_NODE)
        return at(c, root, "the file must be a map with 'modules:'");
    yaml_node_t *mods = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        const char *key = scalar(node(c, p->key));
        if (!key || strcmp(key, "modules") != 0)
            return at(c, node(c, p->key), "unknown top-level key '%s' (only 'modules')",
                      key ? key : "(not a word)");
        mods = node(c, p->value);
    }
    if (!mods)
        return at(c, root, "'modules:' is missing");
    return parse_modules(c, mods, cfg);
}

enum cmon_err exp_config_parse(const char *text, size_t len, const char *file,
                               struct exp_config *cfg, struct cmon_errbuf *eb)
{
    memset(cfg, 0, sizeof *cfg);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        enum cmon_err e =
            cmon_fail(eb, CMON_ERR_PARSE, "%s:%lu:%lu: not valid YAML: %s%s%s", file,
                      (unsigned long)parser.problem_mark.line + 1,
                      (unsigned long)parser.problem_mark.column + 1,
                      parser.problem ? parser.problem : "syntax error", parser.context ? " " : "",
                      parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return e;
    }
    struct ctx c = {.file = file, .doc = &doc, .eb = eb};
    enum cmon_err e = parse_root(&c, cfg);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (e)
        exp_config_free(cfg);
    return e;
}

enum cmon_err exp_config_load(const char *path, struct exp_config *cfg, struct cmon_errbuf *eb)
{
    memset(cfg, 0, sizeof *cfg);
    FILE *f = fopen(path, "rb");
    if (!f)
        return cmon_fail(eb, CMON_ERR_IO, "%s: %s", path, strerror(errno));
    struct cmon_buf b;
    cmon_buf_init(&b);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (16u << 20))
        cmon_buf_append(&b, chunk, n);
    bool bad = ferror(f) != 0;
    fclose(f);
    enum cmon_err e = bad     ? cmon_fail(eb, CMON_ERR_IO, "%s: read error", path)
                      : b.oom ? cmon_fail(eb, CMON_ERR_NOMEM, "out of memory")
                              : exp_config_parse(b.data ? b.data : "", b.len, path, cfg, eb);
    cmon_buf_free(&b);
    return e;
}

static void free_regexes(struct exp_regex *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        regfree(&r[i].re);
        free(r[i].text);
    }
    free(r);
}

static void free_module(struct exp_module *m)
{
    for (size_t i = 0; i < m->tcp.n_steps; i++) {
        if (m->tcp.steps[i].expect.text)
            regfree(&m->tcp.steps[i].expect.re);
        free(m->tcp.steps[i].expect.text);
        free(m->tcp.steps[i].send);
    }
    free(m->tcp.steps);
    free(m->name);
    free(m->http.method);
    for (size_t i = 0; i < m->http.n_headers; i++)
        free(m->http.headers[i]);
    free(m->http.headers);
    free(m->http.valid);
    free(m->tls.ca_file);
    free(m->http.body);
    free(m->tls.server_name);
    free(m->http.basic_user);
    free(m->http.basic_password);
    free_regexes(m->http.body_match, m->http.n_body_match);
    free_regexes(m->http.body_not_match, m->http.n_body_not_match);
    free(m->dns.query_name);
}

void exp_config_free(struct exp_config *cfg)
{
    for (size_t i = 0; i < cfg->n_modules; i++)
        free_module(&cfg->modules[i]);
    free(cfg->modules);
    memset(cfg, 0, sizeof *cfg);
}

const struct exp_module *exp_config_module(const struct exp_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_modules; i++)
        if (cfg->modules[i].name && strcmp(cfg->modules[i].name, name) == 0)
            return &cfg->modules[i];
    return NULL;
}

const char *exp_prober_name(enum exp_prober p)
{
    static const char *const names[] = {"http", "tcp", "icmp", "dns"};
    return names[p];
}

/* Go's time.ParseDuration subset: one or more NUMBER UNIT, units h m s ms. */
bool exp_duration_parse(const char *s, uint32_t *ms)
{
    double total = 0;
    if (!s || !*s)
        return false;
    while (*s) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno || v < 0 || *s == '+' || *s == '-' || !isfinite(v))
            return false;
        double unit = !strncmp(end, "ms", 2) ? 1
                      : *end == 's'          ? 1e3
                      : *end == 'm'          ? 60e3
                      : *end == 'h'          ? 3600e3
                                             : -1;
        if (unit < 0)
            return false;
        total += v * unit;
        s = end + (!strncmp(end, "ms", 2) ? 2 : 1);
    }
    if (total > 86400e3)
        return false;
    *ms = (uint32_t)llround(total);
    return true;
}
